"""Pictures of tables and runs, as plain matplotlib Figures (no pyplot state).

Arrays in, figures out: this package knows no result types and writes no files.
:func:`qlearn.figures_of` picks the figures of a run, and :func:`qlearn.save_png` writes one.

Grid pictures: :func:`value_figure` (heatmap of max Q with greedy arrows),
:func:`q_figure` (four numbers per cell), :func:`snapshots_figure`, :func:`greedy_path`.
Curves: :func:`learning_curves_figure`, :func:`gap_figure`, :func:`share_figure`.
Comparisons: :func:`comparison_figure`. Reports: :mod:`qlearn.viz.html`.
"""

from __future__ import annotations

from qlearn.viz.compare_figure import ComparisonPictures, comparison_figure
from qlearn.viz.curves import gap_figure, learning_curves_figure, share_figure
from qlearn.viz.grid_figures import (
    common_paths,
    draw_q_triangles,
    draw_values,
    greedy_path,
    q_figure,
    snapshots_figure,
    value_figure,
)
from qlearn.viz.png import figure_png, png_size
from qlearn.viz.run_figures import RunPictures, run_figures, solution_figures

__all__ = [
    "ComparisonPictures",
    "RunPictures",
    "common_paths",
    "comparison_figure",
    "draw_q_triangles",
    "draw_values",
    "figure_png",
    "gap_figure",
    "greedy_path",
    "learning_curves_figure",
    "png_size",
    "q_figure",
    "run_figures",
    "share_figure",
    "snapshots_figure",
    "solution_figures",
    "value_figure",
]
