"""Tables and grids as text a person can check by hand, and as JSON-ready dicts."""

from __future__ import annotations

import math

import numpy as np

from qlearn.exact import greedy_ties
from qlearn.mdp import FiniteMDP

ARROWS = {"N": "↑", "S": "↓", "E": "→", "W": "←"}

#: Worlds with more states than this are summarised in printed and JSON output (a 50 x 50
#: grid still shows whole); their full tables are in the run folder's tables.npz.
SHOWN_STATES = 2_500
#: Rows of a summarised Q table that are still printed.
SHOWN_ROWS = 12


def too_big_to_show(mdp: FiniteMDP) -> bool:
    """Whether ``mdp`` has too many states to print or put in JSON state by state."""
    return mdp.n_states > SHOWN_STATES


def value_summary(mdp: FiniteMDP, v: np.ndarray) -> dict[str, float | int | None]:
    """What a large world's values come to: its size, V at the start, the range of V."""
    live = v[~mdp.terminal]
    return {
        "n_states": mdp.n_states,
        "n_terminal": int(mdp.terminal.sum()),
        "v_start": json_number(float(mdp.start @ np.nan_to_num(v))),
        "v_min": json_number(float(np.nanmin(live))) if live.size else None,
        "v_max": json_number(float(np.nanmax(live))) if live.size else None,
    }


def _summary_line(mdp: FiniteMDP, v: np.ndarray | None) -> str:
    text = f"{mdp.n_states:,} states: too many to draw"
    if v is not None:
        info = value_summary(mdp, v)
        text += f" (V at the start {info['v_start']}, from {info['v_min']} to {info['v_max']})"
    return text + "; --out writes every value to a run folder's tables.npz"


def json_number(x: float) -> float | None:
    """A float for JSON (None for nan or infinity)."""
    return None if not math.isfinite(x) else round(float(x), 10)


def q_dict(mdp: FiniteMDP, q: np.ndarray) -> dict[str, dict[str, float | None]]:
    """``{"(col,row)": {"N": .., ...}}`` over decision states; illegal actions left out."""
    return {
        mdp.state_names[s]: {
            mdp.action_names[a]: json_number(q[s, a])
            for a in range(mdp.n_actions)
            if mdp.legal[s, a]
        }
        for s in np.flatnonzero(~mdp.terminal)
    }


def v_dict(mdp: FiniteMDP, v: np.ndarray) -> dict[str, float | None]:
    return {mdp.state_names[s]: json_number(v[s]) for s in np.flatnonzero(~mdp.terminal)}


def policy_dict(mdp: FiniteMDP, ties: np.ndarray) -> dict[str, list[str]]:
    """``{"(col,row)": ["N", "E"]}``: every optimal (tied) action per decision state."""
    return {
        mdp.state_names[s]: [mdp.action_names[a] for a in np.flatnonzero(ties[s])]
        for s in np.flatnonzero(~mdp.terminal)
    }


def table_dicts(mdp: FiniteMDP, q: np.ndarray) -> dict[str, dict]:
    """A learned table for JSON: ``q``, ``v`` (max legal Q) and ``policy`` (every greedy
    action, exact ties): the layout every ``--json`` summary of a table shares."""
    v = np.where(mdp.legal, q, -np.inf).max(axis=1)
    if too_big_to_show(mdp):
        return {"tables": "summarised", **value_summary(mdp, np.where(mdp.terminal, 0.0, v))}
    ties = greedy_ties(q, mdp.legal, atol=0.0)
    return {"q": q_dict(mdp, q), "v": v_dict(mdp, v), "policy": policy_dict(mdp, ties)}


def _grid_lines(mdp: FiniteMDP, cell_text, width: int = 7) -> list[str]:
    """Draw one string per cell on the grid, top row first, with row and column labels."""
    layout = mdp.layout
    assert layout is not None
    where = {pos: s for s, pos in enumerate(layout.positions)}
    lines = ["    " + "".join(f"{c:>{width}}" for c in range(1, layout.width + 1))]
    for row in range(layout.height, 0, -1):
        cells = []
        for col in range(1, layout.width + 1):
            s = where.get((col, row))
            ch = layout.char_at(col, row)
            if s is None:
                kind = layout.kinds.get(ch, "")
                text = "#####" if kind == "wall" else "cliff" if kind == "cliff" else ch
            elif mdp.terminal[s]:
                pays = mdp.entry_reward[s]
                text = f"[{pays:+g}]" if not np.isnan(pays) else f"[{ch}]"
            else:
                text = cell_text(s)
            cells.append(f"{text:>{width}}")
        lines.append(f"{row:>3} " + "".join(cells))
    return lines


def value_grid(mdp: FiniteMDP, v: np.ndarray, digits: int = 3) -> str:
    """V drawn on the grid (terminals show the reward they pay as ``[+1]``); one line
    for a world too big to draw."""
    if too_big_to_show(mdp):
        return _summary_line(mdp, v)
    if mdp.layout is None:
        return "\n".join(
            f"{mdp.state_names[s]:>6}  {v[s]: .{digits}f}" for s in np.flatnonzero(~mdp.terminal)
        )
    return "\n".join(_grid_lines(mdp, lambda s: f"{v[s]:.{digits}f}"))


def policy_grid(mdp: FiniteMDP, ties: np.ndarray) -> str:
    """Greedy arrows on the grid; tied actions show several arrows."""

    def arrows(s: int) -> str:
        return "".join(
            ARROWS.get(mdp.action_names[a], mdp.action_names[a]) for a in np.flatnonzero(ties[s])
        )

    if too_big_to_show(mdp):
        return _summary_line(mdp, None)
    if mdp.layout is None:
        names = policy_dict(mdp, ties)
        return "\n".join(
            f"{mdp.state_names[s]:>6}  {' '.join(names[mdp.state_names[s]])}"
            for s in np.flatnonzero(~mdp.terminal)
        )
    return "\n".join(_grid_lines(mdp, arrows))


def q_rows(
    mdp: FiniteMDP, q: np.ndarray, ties: np.ndarray | None = None, digits: int = 4
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Q table, one row per decision state (best action marked *);
    a world too big to show gets its first rows and a last one counting the rest."""
    header = ["state", *mdp.action_names]
    rows = []
    shown = np.flatnonzero(~mdp.terminal)
    hidden = shown.size - SHOWN_ROWS if too_big_to_show(mdp) else 0
    for s in shown[: shown.size - hidden]:
        row = [mdp.state_names[s]]
        for a in range(mdp.n_actions):
            if not mdp.legal[s, a]:
                row.append("-")
                continue
            mark = "*" if ties is not None and ties[s, a] else " "
            row.append(f"{q[s, a]: .{digits}f}{mark}")
        rows.append(row)
    if hidden > 0:
        rows.append([f"... {hidden:,} more"] + ["..."] * mdp.n_actions)
    return header, rows


def render_state(mdp: FiniteMDP, s: int) -> str:
    """The grid with the agent drawn as ``A`` (Gymnasium's ansi render)."""
    if mdp.layout is None:
        return f"state {mdp.state_names[s]}\n"
    layout = mdp.layout
    col, row = layout.positions[s]
    lines = [list(r) for r in layout.cells]
    lines[layout.height - row][col - 1] = "A"
    return "\n".join("".join(r) for r in lines) + "\n"
