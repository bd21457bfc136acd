"""The comparison figure: learning curves over seeds and each learner's greedy paths
(on grids), or the share of seeds choosing left in A (maximization bias)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from qlearn.mdp import FiniteMDP
from qlearn.viz.curves import _robust_ylim, default_smoothing, draw_bands
from qlearn.viz.grid_figures import CELL, DPI, common_paths, draw_paths, draw_values, value_norm
from qlearn.viz.run_figures import finite_table, left_action


class ComparisonPictures(NamedTuple):
    """What the comparison figure is drawn from, per arm label."""

    mdp: FiniteMDP
    returns: dict[str, np.ndarray]  # (N, E)
    lengths: dict[str, np.ndarray]  # (N, E) steps per episode
    q_per_seed: dict[str, np.ndarray]  # (N, S, A)
    first_action: dict[str, np.ndarray]  # (N, E)
    window: tuple[int, int]
    optimal_left: float | None = None  # share of left an optimal learner shows (maxbias)


def comparison_figure(p: ComparisonPictures, smooth: int | None = None) -> Figure:
    """Top: mean return per episode with 95% bands (the averaging window shaded).
    Bottom: on grid worlds, each arm's most common greedy paths drawn on its mean
    table; on maxbias, the share of seeds choosing left in A (Sutton & Barto Fig. 6.5).

    Size: width max(8, arms * (cols * 0.8 * CELL + 0.6)) in, height 4 + grid height.
    """
    mdp, labels = p.mdp, list(p.returns)
    episodes = next(iter(p.returns.values())).shape[1]
    smooth = default_smoothing(episodes) if smooth is None else smooth
    left = left_action(mdp)
    grid = mdp.layout is not None
    if grid:
        panel_w, panel_h = mdp.layout.width * CELL * 0.8, mdp.layout.height * CELL * 0.8
        width = max(10.0, len(labels) * (panel_w + 0.6))
        fig = Figure(figsize=(width, 4.0 + panel_h + 1.4), dpi=DPI)
        spec = fig.add_gridspec(2, 2 * len(labels), height_ratios=(4.0, panel_h + 1.4))
        curves = fig.add_subplot(spec[0, : len(labels)])
        steps = fig.add_subplot(spec[0, len(labels) :])
    else:
        fig = Figure(figsize=(10.0, 7.5 if left is not None else 4.0), dpi=DPI)
        rows = 2 if left is not None else 1
        spec = fig.add_gridspec(rows, 2)
        curves = fig.add_subplot(spec[rows - 1, 0])
        steps = fig.add_subplot(spec[rows - 1, 1])
    note = f", moving average over {smooth}" if smooth > 1 else ""
    for ax, data, what in ((curves, p.returns, "return"), (steps, p.lengths, "steps")):
        draw_bands(ax, data, smooth, f"{what} per episode")
        _robust_ylim(ax, data, smooth)
        ax.axvspan(p.window[0], p.window[1], color="grey", alpha=0.08, lw=0)
        ax.set_title(f"{what} per episode: mean, 95% band{note}", fontsize=9)
    fig.suptitle(
        f"{mdp.name}: {episodes} episodes x {next(iter(p.returns.values())).shape[0]} seeds "
        f"(shaded: window {p.window[0]}-{p.window[1]})",
        fontsize=11,
    )
    if grid:
        means = {k: finite_table(q.mean(axis=0)) for k, q in p.q_per_seed.items()}
        norm = value_norm([np.where(mdp.terminal, np.nan, q.max(axis=1)) for q in means.values()])
        for k, label in enumerate(labels):
            ax = fig.add_subplot(spec[1, 2 * k : 2 * k + 2])
            draw_values(ax, mdp, means[label], norm, arrows=False, numbers=False)
            total = p.q_per_seed[label].shape[0]
            draw_paths(ax, mdp, common_paths(mdp, p.q_per_seed[label]), total)
            ax.set_title(f"{label}: greedy paths", fontsize=9)
    elif left is not None:
        ax = fig.add_subplot(spec[0, :])
        shares = {k: (v == left).astype(float) for k, v in p.first_action.items()}
        draw_bands(ax, shares, 1, "share of seeds choosing left in A")
        if p.optimal_left is not None:
            ax.axhline(
                p.optimal_left,
                color="black",
                ls="--",
                lw=1,
                label=f"optimal ({p.optimal_left:.0%}: epsilon / 2)",
            )
            ax.legend(fontsize=8)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(lambda y, _: f"{y:.0%}")
        ax.set_title(f"{mdp.name}: maximization bias (left is worse in expectation)", fontsize=10)
    fig.tight_layout()
    return fig
