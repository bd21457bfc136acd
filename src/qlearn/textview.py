"""Tables and grids as text a person can check by hand, and as JSON-ready dicts."""

from __future__ import annotations

import math

import numpy as np

from qlearn.mdp import FiniteMDP, greedy_ties

ARROWS = {"N": "↑", "S": "↓", "E": "→", "W": "←"}


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
    """V drawn on the grid (terminals show the reward they pay as ``[+1]``)."""
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

    if mdp.layout is None:
        return "\n".join(
            f"{mdp.state_names[s]:>6}  {' '.join(policy_dict(mdp, ties)[mdp.state_names[s]])}"
            for s in np.flatnonzero(~mdp.terminal)
        )
    return "\n".join(_grid_lines(mdp, arrows))


def q_rows(
    mdp: FiniteMDP, q: np.ndarray, ties: np.ndarray | None = None, digits: int = 4
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the Q table, one row per decision state (best action marked *)."""
    header = ["state", *mdp.action_names]
    rows = []
    for s in np.flatnonzero(~mdp.terminal):
        row = [mdp.state_names[s]]
        for a in range(mdp.n_actions):
            if not mdp.legal[s, a]:
                row.append("-")
                continue
            mark = "*" if ties is not None and ties[s, a] else " "
            row.append(f"{q[s, a]: .{digits}f}{mark}")
        rows.append(row)
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
