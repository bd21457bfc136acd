"""Curves over episodes: learning curves with confidence bands, the gap to Q*, and the
share of seeds taking an action (maximization bias)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from qlearn.core.stats import band, moving_average
from qlearn.viz.grid_figures import DPI

CURVE_SIZE = (7.0, 4.0)  # inches
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def default_smoothing(episodes: int) -> int:
    """Episodes averaged per plotted point: 1 for short runs, ~1/50 of long ones."""
    return max(1, episodes // 50)


def draw_bands(
    ax: Axes,
    per_seed: dict[str, np.ndarray],
    smooth: int = 1,
    ylabel: str = "return per episode",
) -> None:
    """Mean over seeds of each (N, E) array, with its 95% band, smoothed over ``smooth``
    episodes for display (the band is smoothed the same way)."""
    for k, (label, values) in enumerate(per_seed.items()):
        mean, low, high = band(values)
        mean, low, high = (moving_average(x, smooth) for x in (mean, low, high))
        episodes = np.arange(1, mean.size + 1)
        color = COLORS[k % len(COLORS)]
        ax.plot(episodes, mean, color=color, lw=1.6, label=f"{label} ({values.shape[0]} seeds)")
        ax.fill_between(episodes, low, high, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("episode")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _robust_ylim(ax: Axes, per_seed: dict[str, np.ndarray], smooth: int) -> None:
    """Keep the first wild episodes (e.g. thousands of steps on the cliff) from
    squashing the rest: the bottom is the lowest smoothed mean after the first 5%."""
    lows, highs = [], []
    for values in per_seed.values():
        mean = moving_average(values.mean(axis=0), smooth)
        skip = max(1, mean.size // 20)
        lows.append(mean[skip:].min() if mean.size > skip else mean.min())
        highs.append(mean.max())
    low, high = min(lows), max(highs)
    spread = high - low
    pad = 0.1 * spread if spread > 1e-9 * max(1.0, abs(high)) else 0.1 * max(1.0, abs(high))
    ax.set_ylim(low - pad, high + pad)


def learning_curves_figure(
    per_seed: dict[str, np.ndarray],
    title: str,
    smooth: int | None = None,
    reference: float | None = None,
    reference_label: str = "",
    ylabel: str = "return per episode",
) -> Figure:
    """Learning curves: mean return per episode over seeds with a 95% band, one per label.

    ``reference`` draws a dashed horizontal line (e.g. the optimal greedy return).
    """
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI)
    ax = fig.subplots()
    episodes = next(iter(per_seed.values())).shape[1]
    smooth = default_smoothing(episodes) if smooth is None else smooth
    draw_bands(ax, per_seed, smooth, ylabel)
    _robust_ylim(ax, per_seed, smooth)
    if reference is not None:
        ax.axhline(reference, color="black", ls="--", lw=1, label=reference_label)
        ax.legend(fontsize=8)
    note = f" (moving average over {smooth} episodes)" if smooth > 1 else ""
    ax.set_title(title + note, fontsize=10)
    fig.tight_layout()
    return fig


def gap_figure(gaps: np.ndarray, title: str, ylabel: str = "max |Q - Q*|") -> Figure:
    """The distance to the exact answer after each episode: mean over seeds, 95% band."""
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI)
    ax = fig.subplots()
    draw_bands(ax, {"gap to the exact table": gaps}, 1, ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def share_figure(
    shares: dict[str, np.ndarray],
    title: str,
    optimal: float | None = None,
    ylabel: str = "share of seeds choosing left in A",
) -> Figure:
    """Per episode, the share of seeds doing something (e.g. choosing left in A), with its
    95% band; ``optimal`` draws the share an optimal epsilon-greedy learner would show."""
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI)
    ax = fig.subplots()
    draw_bands(ax, {k: v.astype(float) for k, v in shares.items()}, 1, ylabel)
    if optimal is not None:
        ax.axhline(optimal, color="black", ls="--", lw=1, label=f"optimal ({optimal:.0%})")
        ax.legend(fontsize=8)
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def eval_curve_figure(
    steps: np.ndarray,
    per_seed: dict[str, np.ndarray],
    title: str,
    threshold: float | None = None,
    ylabel: str = "evaluation return (mean of episodes)",
) -> Figure:
    """Evaluation return against environment steps: for each label, the mean over seeds
    of an (N, K) array with its 95% band; ``threshold`` draws the solved line."""
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI)
    ax = fig.subplots()
    for k, (label, values) in enumerate(per_seed.items()):
        mean, low, high = band(values)
        color = COLORS[k % len(COLORS)]
        ax.plot(steps, mean, color=color, lw=1.6, marker="o", ms=3,
                label=f"{label} ({values.shape[0]} seeds)")  # fmt: skip
        ax.fill_between(steps, low, high, color=color, alpha=0.2, lw=0)
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_xlabel("environment steps (per seed)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
