"""Draw a saved run's figures again, from its files alone (``qlearn plot RUN``).

Works on every kind of run folder qlearn writes (tabular and DQN training, exact
solution, comparison, and the tour, whose stages are run folders themselves). The PNG files and
``report.html`` are rewritten atomically, one file at a time; nothing is trained.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.runs.folder import atomic_write_bytes, atomic_write_text, read_config, read_summary


def replot(run_dir: str | Path) -> list[Path]:
    """Rewrite the figures (PNG) and report of ``run_dir``; returns the files written."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise QlearnError(f"{run_dir} is not a folder; pass a run folder such as runs/<name>")
    kind = read_config(run_dir).get("kind")
    if kind == "tabular":
        return _replot_tabular(run_dir)
    if kind == "solve":
        return _replot_solution(run_dir)
    if kind == "compare":
        return _replot_comparison(run_dir)
    if kind == "dqn":
        return _replot_dqn(run_dir)
    if kind == "tour":
        stages = sorted(p for p in run_dir.iterdir() if (p / "config.yaml").is_file())
        return [path for stage in stages for path in replot(stage)]
    raise QlearnError(f"{run_dir} holds a run of kind {kind!r}, which qlearn cannot draw")


def _write(run_dir: Path, pngs: dict[str, bytes], report: str) -> list[Path]:
    written = []
    for name, data in pngs.items():
        atomic_write_bytes(run_dir / name, data)
        written.append(run_dir / name)
    atomic_write_text(run_dir / "report.html", report)
    return [*written, run_dir / "report.html"]


def _replot_tabular(run_dir: Path) -> list[Path]:
    from qlearn.runs.tabular_results import load_pictures, render_figures, tabular_report

    pngs = render_figures(load_pictures(run_dir))
    metrics = pd.read_csv(run_dir / "metrics.csv")
    report = tabular_report(read_summary(run_dir), read_config(run_dir), metrics, pngs)
    return _write(run_dir, pngs, report)


def _replot_solution(run_dir: Path) -> list[Path]:
    from qlearn.runs.solution import load_solution, solution_pngs, solution_report

    mdp, q_star, info, config = load_solution(run_dir)
    pngs = solution_pngs(mdp, q_star)
    return _write(run_dir, pngs, solution_report(mdp, info, config, pngs))


def _replot_comparison(run_dir: Path) -> list[Path]:
    from qlearn.experiments.compare_run import comparison_png, comparison_report, load_comparison

    pictures, info, config, curves = load_comparison(run_dir)
    png = comparison_png(pictures)
    return _write(run_dir, {"compare.png": png}, comparison_report(info, config, curves, png))


def _replot_dqn(run_dir: Path) -> list[Path]:
    from qlearn.runs.dqn_results import dqn_report, load_pictures, render_figures

    pngs = render_figures(load_pictures(run_dir))
    metrics = pd.read_csv(run_dir / "metrics.csv")
    report = dqn_report(read_summary(run_dir), read_config(run_dir), metrics, pngs)
    return _write(run_dir, pngs, report)
