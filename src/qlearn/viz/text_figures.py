"""The token-level comparison figure: mean optimality against KL from the behaviour-cloning
policy (left) and against tokens sampled per answer (right), one point per method and
setting with its 95% interval; best-of-n's settings joined as its frontier."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

COLOURS = {
    "bc": "#555555",
    "filtered-bc": "#8c564b",
    "ilql": "#1f77b4",
    "value-guided": "#2ca02c",
    "best-of-n": "#d62728",
}
MARKERS = {"checker=true": "o", "checker=learned": "s"}


def _marker(setting: str) -> str:
    return next((m for key, m in MARKERS.items() if key in setting), "D")


def text_compare_figure(records: Sequence[dict[str, Any]], ceiling: float = 1.0,
                        title: str = "", chance: float | None = None) -> Figure:  # fmt: skip
    """Records as :func:`qlearn.text.compare` returns them (``method``, ``setting``,
    ``optimality_mean``, ``optimality_ci``, ``kl``, ``tokens_per_answer``); ``chance``
    (star-graph's 1/D: a blind guess at the fork) is drawn as a dashed line.

    Size: 12 x 4.8 in at 100 dpi (1200 x 480 px)."""
    fig = Figure(figsize=(12, 4.8), dpi=100)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, x_key, label, log in (
        (axes[0], "kl", "KL from the BC policy (nats)", False),
        (axes[1], "tokens_per_answer", "tokens sampled per answer", True),
    ):
        for method in dict.fromkeys(r["method"] for r in records):
            rows = [r for r in records if r["method"] == method and r.get(x_key) is not None]
            colour = COLOURS.get(method, "#9467bd")
            for checker in ("checker=true", "checker=learned"):
                line = [r for r in rows if checker in r["setting"]]
                if method == "best-of-n" and len(line) > 1:
                    xs = [r[x_key] for r in line]
                    style = "-" if checker == "checker=true" else "--"
                    ys = [r["optimality_mean"] for r in line]
                    ax.plot(xs, ys, color=colour, lw=1, ls=style, alpha=0.7)
            for r in rows:
                y, (lo, hi) = r["optimality_mean"], r["optimality_ci"]
                ax.errorbar(r[x_key], y, yerr=[[max(y - lo, 0)], [max(hi - y, 0)]],
                            fmt=_marker(r["setting"]), color=colour, ms=5, capsize=2)  # fmt: skip
                ax.annotate(r["setting"].replace(", checker=", " "), (r[x_key], y),
                            fontsize=6, xytext=(3, 3), textcoords="offset points")  # fmt: skip
            ax.plot([], [], "o", color=colour, label=method)
        ax.axhline(ceiling, color="k", lw=0.8, ls=":")
        if chance is not None:
            ax.axhline(chance, color="#777777", lw=0.8, ls="--", label="chance" if log else None)
        ax.set_xlabel(label)
        if log:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean optimality (95% CI over seeds)")
    axes[0].set_ylim(-0.02, ceiling * 1.05)
    axes[0].legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_figure(losses: dict[str, np.ndarray]) -> Figure:
    """Training loss per step, mean over seeds, one line per network (``name -> (N, steps)``).

    Size: 6 x 3.6 in at 100 dpi."""
    fig = Figure(figsize=(6, 3.6), dpi=100)
    ax = fig.subplots()
    for name, curves in losses.items():
        curves = np.atleast_2d(curves)
        ax.plot(np.arange(1, curves.shape[1] + 1), curves.mean(axis=0), label=name)
    ax.set_xlabel("gradient step")
    ax.set_ylabel("training loss (mean over seeds)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
