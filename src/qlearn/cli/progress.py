"""Live feedback on stderr while work runs: progress bars over episodes (tabular) and
environment steps (DQN), and a spinner for work without steps to count.

All of them show only in a terminal: pipes, ``--quiet`` and ``--json`` get nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qlearn.cli.show import err


class ProgressBar:
    """A transient progress bar on stderr. ``with`` gives the callback a trainer reports to,
    ``(done, total, state)``, or None when the bar is off."""

    def __init__(
        self,
        enabled: bool,
        columns: Callable[[], list[Any]],
        headline: Callable[[int, int, Any], str],
        first_headline: str = "",
    ):
        self.enabled = enabled and err.is_terminal
        self.columns, self.headline, self.first_headline = columns, headline, first_headline
        self.bar = None
        self.task = None

    def __enter__(self) -> Callable[[int, int, Any], None] | None:
        if not self.enabled:
            return None
        from rich.progress import Progress

        self.bar = Progress(*self.columns(), console=err, transient=True)
        self.bar.__enter__()
        self.task = self.bar.add_task("train", total=None, headline=self.first_headline)
        return self.update

    def update(self, done: int, total: int, state: Any) -> None:
        """Move the bar to ``done`` of ``total`` and show the headline of ``state``."""
        headline = self.headline(done, total, state)
        self.bar.update(self.task, completed=done, total=total, headline=headline)

    def __exit__(self, *exc) -> bool:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def episode_bar(enabled: bool) -> ProgressBar:
    """Tabular training: episodes done, with the live mean return and gap to Q*."""
    return ProgressBar(enabled, _episode_columns, _episode_headline)


def step_bar(enabled: bool) -> ProgressBar:
    """DQN training: environment steps done, with the last evaluation."""
    return ProgressBar(enabled, _step_columns, _step_headline, first_headline="compiling")


def _episode_columns() -> list[Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return [
        TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
        TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[headline]}"),
    ]  # fmt: skip


def _episode_headline(done: int, total: int, runs: Any) -> str:
    """The mean return over the last 1% of episodes, and the mean gap when it is known."""
    import numpy as np

    recent = runs.returns[:, max(0, done - max(1, total // 100)) : done]
    headline = f"mean return {np.mean(recent):.3g}"
    gap = runs.gaps[:, done - 1]
    if np.isfinite(gap).all():
        headline += f"  |Q-Q*| {np.mean(gap):.3g}"
    return headline


def _step_columns() -> list[Any]:
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    return [
        TextColumn("training"), BarColumn(), TextColumn("{task.completed:,} steps"),
        TimeElapsedColumn(), TextColumn("{task.fields[headline]}"),
    ]  # fmt: skip


def _step_headline(done: int, total: int, history: Any) -> str:
    """The mean over seeds of the last evaluation (none before the first)."""
    evals = history.arrays["eval_return"]
    return f"eval mean {evals[:, -1].mean():.4g}" if evals.shape[1] else ""


class Status:
    """A spinner on stderr while compiled work runs; ``update`` changes its text."""

    def __init__(self, what: str, quiet: bool = False):
        self.what = what
        self.active = not quiet and err.is_terminal
        self._status = None

    def __enter__(self) -> Status:
        if self.active:
            self._status = err.status(self.what + "...")
            self._status.__enter__()
        return self

    def update(self, what: str) -> None:
        if self._status is not None:
            self._status.update(what + "...")

    def __exit__(self, *exc) -> bool:
        if self._status is not None:
            self._status.__exit__(*exc)
        return False
