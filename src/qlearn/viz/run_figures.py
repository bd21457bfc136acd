"""The pictures of one tabular run (or of an exact solution), from arrays alone.

:class:`RunPictures` holds only what the figures need, so the same drawing code serves
a run just trained and a run folder read back from disk (``qlearn plot RUN``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from qlearn.mdp import FiniteMDP
from qlearn.viz.curves import gap_figure, learning_curves_figure, share_figure
from qlearn.viz.grid_figures import is_large, is_small, q_figure, snapshots_figure, value_figure


class RunPictures(NamedTuple):
    """What a tabular run's figures are drawn from."""

    mdp: FiniteMDP
    algo: str
    seeds: list[int]
    q_per_seed: np.ndarray  # (N, S, A); for td0 each row repeats V over the actions
    q_star: np.ndarray  # (S, A) exact Q* (for td0: V of the evaluated policy, repeated)
    snapshots: dict[int, np.ndarray]  # episode -> (N, S, A)
    returns: np.ndarray  # (N, E)
    gaps: np.ndarray  # (N, E)
    first_action: np.ndarray  # (N, E)


def left_action(mdp: FiniteMDP) -> int | None:
    """The start state's action called ``left`` (maxbias's A), if it has one."""
    start = int(np.argmax(mdp.start))
    for a, name in enumerate(mdp.action_names):
        if mdp.legal[start, a] and "left" in name.split("|"):
            return a
    return None


def finite_table(q: np.ndarray) -> np.ndarray:
    """Illegal actions' -inf as nan-free numbers for drawing (they are never drawn)."""
    return np.nan_to_num(q, neginf=0.0, posinf=0.0)


def solution_figures(mdp: FiniteMDP, q_star: np.ndarray) -> dict[str, Figure]:
    """Q*, drawn two ways: the value heatmap with optimal arrows, and four numbers a cell."""
    if mdp.layout is None:
        return {}
    q = finite_table(q_star)
    figures = {
        "values.png": value_figure(
            mdp,
            {"V* = max Q*": q},
            f"{mdp.name}: V*" + ("" if is_large(mdp) else " and optimal arrows"),
        )  # fmt: skip
    }
    if is_small(mdp):
        title = f"{mdp.name}: Q* of each door (bold = optimal)"
        figures["q_values.png"] = q_figure(mdp, {"Q*": q}, title)
    return figures


def run_figures(p: RunPictures) -> dict[str, Figure]:
    """Every figure of a run, by file name: values, Q per door, snapshots (if kept),
    learning curve, gap to the exact answer, and the left share (maxbias)."""
    mdp, td0 = p.mdp, p.algo == "td0"
    figures: dict[str, Figure] = {}
    n = len(p.seeds)
    mean_of = f"mean of {n} seeds" if n > 1 else f"seed {p.seeds[0]}"
    exact = "true V of the policy" if td0 else "exact Q*"
    if mdp.layout is not None:
        learned = finite_table(p.q_per_seed.mean(axis=0))
        star = finite_table(p.q_star)
        figures["values.png"] = value_figure(
            mdp,
            {f"learned ({mean_of})": learned, exact: star},
            f"{mdp.name}, {p.algo}: value of the best action, greedy arrows",
        )
        if not td0 and is_small(mdp):
            figures["q_values.png"] = q_figure(
                mdp,
                {f"learned ({mean_of})": learned, exact: star},
                f"{mdp.name}, {p.algo}: Q of each door (bold = greedy)",
            )
        if p.snapshots:
            figures["snapshots.png"] = snapshots_figure(
                mdp, {ep: finite_table(t[0]) for ep, t in p.snapshots.items()}, p.seeds[0]
            )
    figures["curve.png"] = learning_curves_figure(
        {p.algo: p.returns}, f"{mdp.name}: return per episode, mean and 95% band"
    )
    figures["gap.png"] = gap_figure(
        p.gaps,
        f"{mdp.name}: distance to the {exact} after each episode",
        "max |V - V_true|" if td0 else "max |Q - Q*|",
    )
    left = left_action(mdp)
    if left is not None:
        figures["left_share.png"] = share_figure(
            {p.algo: p.first_action == left}, f"{mdp.name}: share of seeds choosing left in A"
        )
    return figures
