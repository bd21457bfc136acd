"""The learnt return distribution at the start against the exact one: both CDFs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from qlearn.viz.curves import COLORS, CURVE_SIZE
from qlearn.viz.grid_figures import DPI


def step_cdf(values: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of a distribution's CDF, sorted, for a step plot."""
    order = np.argsort(values)
    return np.asarray(values)[order], np.cumsum(np.asarray(probs)[order])


def distribution_figure(
    exact: tuple[np.ndarray, np.ndarray],
    learned: dict[str, tuple[np.ndarray, np.ndarray]],
    title: str,
    note: str = "",
) -> Figure:
    """CDFs of the exact return distribution (black) and each learnt one (``label:
    (atoms, probabilities)``), on one axis: the area between two curves is their W1."""
    fig = Figure(figsize=CURVE_SIZE, dpi=DPI)
    ax = fig.add_subplot()
    x, F = step_cdf(*exact)
    lo, hi = x.min(), x.max()
    for k, (label, (values, probs)) in enumerate(learned.items()):
        v, G = step_cdf(values, probs)
        lo, hi = min(lo, v.min()), max(hi, v.max())
        ax.step(v, G, where="post", color=COLORS[k % len(COLORS)], lw=1.4, label=label)
    pad = 0.05 * max(hi - lo, 1e-6)
    ax.step(np.r_[lo - pad, x, hi + pad], np.r_[0.0, F, 1.0], where="post", color="black",
            lw=1.8, label="exact")  # fmt: skip
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("discounted return from the start")
    ax.set_ylabel("P(return <= x)")
    ax.set_title(title, fontsize=10)
    if note:
        ax.text(0.01, 0.98, note, transform=ax.transAxes, va="top", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
