"""Frames of a finite world as RGB arrays (Gymnasium's ``render_mode="rgb_array"``)."""

from __future__ import annotations

import numpy as np

from qlearn.mdp import FiniteMDP

CELL = 48  # pixels per cell
COLORS = {
    "empty": (235, 235, 235),
    "start": (250, 236, 180),
    "wall": (60, 60, 60),
    "cliff": (120, 60, 40),
    "ice": (205, 230, 250),
    "good": (120, 200, 120),  # terminal paying more than 0
    "bad": (225, 110, 100),  # terminal paying less than 0
    "still": (110, 150, 220),  # terminal paying 0
    "agent": (20, 20, 20),
}


def _terminal_color(mdp: FiniteMDP, s: int) -> tuple[int, int, int]:
    pay = np.nan_to_num(mdp.entry_reward[s])
    return COLORS["good"] if pay > 0 else COLORS["bad"] if pay < 0 else COLORS["still"]


def _cell_colors(mdp: FiniteMDP) -> np.ndarray:
    """(rows, cols, 3) colour of each cell: the grid, or one row of states."""
    layout = mdp.layout
    if layout is None:
        colors = np.array([COLORS["empty"]] * mdp.n_states, dtype=np.uint8)[None]
        for s in np.flatnonzero(mdp.terminal):
            colors[0, s] = _terminal_color(mdp, s)
        return colors
    colors = np.zeros((layout.height, layout.width, 3), dtype=np.uint8)
    where = {pos: s for s, pos in enumerate(layout.positions)}
    for i, row in enumerate(layout.cells):
        for j, ch in enumerate(row):
            kind = layout.kinds.get(ch, "empty")
            s = where.get((j + 1, layout.height - i))
            if s is not None and mdp.terminal[s]:
                named = {"G": "good", "D": "good", "P": "bad", "H": "still"}.get(ch)
                colors[i, j] = COLORS[named] if named else _terminal_color(mdp, s)
            elif kind in ("wall", "cliff", "start"):
                colors[i, j] = COLORS[kind]
            elif ch == "F":
                colors[i, j] = COLORS["ice"]
            else:
                colors[i, j] = COLORS["empty"]
    return colors


def render_frame(mdp: FiniteMDP, s: int) -> np.ndarray:
    """(H, W, 3) uint8 picture of the world with the agent in state ``s`` as a dark disc."""
    colors = _cell_colors(mdp)
    rows, cols = colors.shape[:2]
    frame = np.repeat(np.repeat(colors, CELL, axis=0), CELL, axis=1)
    frame[::CELL, :] = 255  # grid lines
    frame[:, ::CELL] = 255
    if mdp.layout is None:
        i, j = 0, s
    else:
        col, row = mdp.layout.positions[s]
        i, j = mdp.layout.height - row, col - 1
    yy, xx = np.mgrid[0:CELL, 0:CELL]
    disc = (yy - CELL / 2) ** 2 + (xx - CELL / 2) ** 2 <= (CELL * 0.3) ** 2
    block = frame[i * CELL : (i + 1) * CELL, j * CELL : (j + 1) * CELL]
    block[disc] = COLORS["agent"]
    return frame
