"""Pictures of tables and runs, as plain matplotlib Figures (no pyplot state).

>>> import qlearn
>>> from qlearn import viz
>>> run = qlearn.train("classic", seeds=4, snapshots=[1, 50, 500])
>>> figures = viz.figures_of(run)            # {"values.png": Figure, ...}
>>> viz.save_png(figures["snapshots.png"], "snapshots.png")

Grid pictures: :func:`value_figure` (heatmap of max Q with greedy arrows),
:func:`q_figure` (four numbers per cell), :func:`snapshots_figure`, :func:`greedy_path`.
Curves: :func:`learning_curves_figure`, :func:`gap_figure`, :func:`share_figure`.
Comparisons: :func:`comparison_figure`. Reports: :mod:`qlearn.viz.report`.
"""

from __future__ import annotations

from typing import Any

from qlearn.viz.compare import ComparisonPictures, comparison_figure
from qlearn.viz.curves import gap_figure, learning_curves_figure, share_figure
from qlearn.viz.grid import (
    common_paths,
    draw_q_triangles,
    draw_values,
    greedy_path,
    q_figure,
    snapshots_figure,
    value_figure,
)
from qlearn.viz.png import figure_png, png_size, save_png
from qlearn.viz.runs import RunPictures, run_figures, solution_figures


def figures_of(result: Any) -> dict:
    """Every figure of a trained run (:func:`qlearn.train`), a comparison
    (:func:`qlearn.compare`) or a solution's world and Q* given as ``(mdp, solution)``."""
    from qlearn.experiment.compare import Comparison
    from qlearn.tabular.train import TabularRun

    if isinstance(result, TabularRun):
        from qlearn.tabular.report import pictures_of

        return run_figures(pictures_of(result))
    if isinstance(result, Comparison):
        from qlearn.experiment.compare_run import comparison_pictures

        return {"compare.png": comparison_figure(comparison_pictures(result))}
    if isinstance(result, tuple) and len(result) == 2:
        mdp, solution = result
        return solution_figures(mdp, solution.q)
    raise TypeError("figures_of takes a TabularRun, a Comparison or (mdp, solution)")


__all__ = [
    "ComparisonPictures",
    "RunPictures",
    "common_paths",
    "comparison_figure",
    "draw_q_triangles",
    "draw_values",
    "figure_png",
    "figures_of",
    "gap_figure",
    "greedy_path",
    "learning_curves_figure",
    "png_size",
    "q_figure",
    "run_figures",
    "save_png",
    "share_figure",
    "snapshots_figure",
    "solution_figures",
    "value_figure",
]
