"""The planning figure: normalised regret against the simulation budget, one line per
planner with its 95% interval, planners that take no budget drawn as flat lines."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from qlearn.viz.grid_figures import DPI


def plan_figure(rows: list[dict[str, Any]], title: str) -> Figure:
    """``rows`` as ``qlearn plan --json`` prints them (planner, simulations, regret_mean,
    regret_ci). Size: 7 x 4.2 in."""
    fig = Figure(figsize=(7.0, 4.2), dpi=DPI)
    ax = fig.add_subplot()
    budgets = sorted({r["simulations"] for r in rows if r["simulations"]}) or [1]
    span = (min(budgets), max(budgets)) if len(budgets) > 1 else (budgets[0] / 2, budgets[0] * 2)
    for planner in dict.fromkeys(r["planner"] for r in rows):
        mine = [r for r in rows if r["planner"] == planner]
        low = [r["regret_ci"][0] for r in mine]
        high = [r["regret_ci"][1] for r in mine]
        mean = [r["regret_mean"] for r in mine]
        if mine[0]["simulations"]:
            x = [r["simulations"] for r in mine]
            (line,) = ax.plot(x, mean, marker="o", label=planner)
        else:
            x = list(span)
            (line,) = ax.plot(x, mean * 2, linestyle="--", label=planner)
            low, high = low * 2, high * 2
        ax.fill_between(x, low, high, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("simulations per decision")
    ax.set_ylabel("normalised regret (0: optimal)")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
