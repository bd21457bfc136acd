"""Draw a saved run's figures again, from its files alone (``qlearn plot RUN``).

Works on every kind of run folder qlearn writes (tabular and DQN training, exact
solution, comparison, plan, and the tour, whose stages are run folders themselves). The
PNG files and ``report.html`` are rewritten atomically, one file at a time; nothing is
trained.
"""

from __future__ import annotations

from pathlib import Path

from qlearn.core.errors import QlearnError
from qlearn.runs.folder import (
    atomic_write_text,
    read_config,
    read_summary,
    read_table,
    reading,
    write_figures,
)


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
    if kind == "plan":
        from qlearn.experiments.plan_run import redraw_plan

        return _write(run_dir, *redraw_plan(run_dir))
    if kind == "tour":
        stages = sorted(p for p in run_dir.iterdir() if (p / "config.yaml").is_file())
        return [path for stage in stages for path in replot(stage)]
    raise QlearnError(f"{run_dir} holds a run of kind {kind!r}, which qlearn cannot draw")


def _write(run_dir: Path, pngs: dict[str, bytes], report: str) -> list[Path]:
    written = write_figures(run_dir, pngs)
    atomic_write_text(run_dir / "report.html", report)
    return [*written, run_dir / "report.html"]


def _replot_tabular(run_dir: Path) -> list[Path]:
    from qlearn.runs.tabular_results import (
        load_pictures,
        read_metrics,
        render_figures,
        tabular_report,
    )

    pictures, info = load_pictures(run_dir), read_summary(run_dir)
    pngs = render_figures(pictures)
    with reading(run_dir / "summary.json", "rerun the training to draw this run"):
        report = tabular_report(info, read_config(run_dir), read_metrics(run_dir), pngs)
    return _write(run_dir, pngs, report)


def _replot_solution(run_dir: Path) -> list[Path]:
    from qlearn.runs.solution import load_solution, solution_pngs, solution_report

    mdp, q_star, info, config = load_solution(run_dir)
    with reading(run_dir, "solve the world again to draw it"):
        pngs = solution_pngs(mdp, q_star)
        report = solution_report(mdp, q_star, info, config, pngs)
    return _write(run_dir, pngs, report)


def _replot_comparison(run_dir: Path) -> list[Path]:
    from qlearn.experiments.compare_run import comparison_png, comparison_report, load_comparison

    pictures, info, config, curves = load_comparison(run_dir)
    with reading(run_dir, "rerun the comparison to draw it"):
        png = comparison_png(pictures)
        report = comparison_report(info, config, curves, png)
    return _write(run_dir, {"compare.png": png}, report)


def _replot_dqn(run_dir: Path) -> list[Path]:
    from qlearn.runs.dqn_results import dqn_report, load_pictures, render_figures

    pictures, info = load_pictures(run_dir), read_summary(run_dir)
    pngs = render_figures(pictures)
    metrics = read_table(run_dir / "metrics.csv", ())
    with reading(run_dir / "summary.json", "rerun the training to draw this run"):
        report = dqn_report(info, read_config(run_dir), metrics, pngs)
    return _write(run_dir, pngs, report)
