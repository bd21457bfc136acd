"""Seeded random mazes: ``maze:WxH[:seed=K][:slip=P]``, worlds big enough that a learned
table is genuinely imperfect, every one still solved exactly.

The map is W characters wide and H tall (odd, at least 5). Rooms sit at odd rows and
columns; the walls between them are carved by a randomized depth-first search (the
"recursive backtracker"): from the current room, step to a random unvisited neighbouring
room two cells away and open the wall between, backtracking when none is left, until
every room is reached. Neighbours are shuffled by NumPy's ``default_rng(seed)``, so a
seed always gives the same maze. The result is a perfect maze: exactly one path between
any two rooms. The start is the bottom-left room, the goal ``G`` the top-right one.

Every step costs -1 and the goal pays 0 and ends the episode, with gamma 1, so V*(s) is
minus the number of steps to the goal. With ``slip=P`` every open cell is ice: a move
goes sideways with probability P (P/2 each side), as on FrozenLake.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.envs.grid import GridMap, parse_map

PREFIX = "maze:"
#: Largest map side: a 4001 x 4001 maze has 8 million open cells.
MAX_SIDE = 4001
USAGE = "write maze:WxH[:seed=K][:slip=P] with odd W, H of at least 5, e.g. maze:15x15:seed=1"


def is_maze(name: object) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def parse_spec(name: str) -> tuple[int, int, int, Fraction | None]:
    """(width, height, seed, slip) of ``maze:WxH[:seed=K][:slip=P]``."""
    size, *options = name[len(PREFIX) :].split(":")
    try:
        width, height = (int(x) for x in size.lower().split("x"))
    except ValueError:
        raise QlearnError(f"cannot read the maze size in {name!r}; {USAGE}") from None
    for side in (width, height):
        if side < 5 or side % 2 == 0 or side > MAX_SIDE:
            raise QlearnError(
                f"maze sides must be odd numbers from 5 to {MAX_SIDE}, got {width}x{height}; "
                f"{USAGE}"
            )
    seed, slip = 0, None
    for option in options:
        key, sep, value = option.partition("=")
        if key not in ("seed", "slip") or not sep:
            raise QlearnError(f"unknown maze option {option!r} in {name!r}; {USAGE}")
        try:
            if key == "seed":
                seed = int(value)
                if seed < 0:
                    raise ValueError
            else:
                slip = Fraction(value)
                if not 0 <= slip <= 1:
                    raise ValueError
        except (ValueError, ZeroDivisionError):
            raise QlearnError(
                f"maze option {option!r} in {name!r} must be seed=K (K >= 0) or slip=P "
                "(0 <= P <= 1, e.g. 0.1 or 1/10)"
            ) from None
    return width, height, seed, slip


def carve(width: int, height: int, seed: int) -> np.ndarray:
    """(height, width) bool, True where open: a perfect maze by randomized depth-first
    search from the bottom-left room (row 0 of the array is the top of the map)."""
    rng = np.random.default_rng(seed)
    open_ = np.zeros((height, width), dtype=bool)
    start = (height - 2, 1)
    open_[start] = True
    stack = [start]
    steps = np.array([(-2, 0), (2, 0), (0, -2), (0, 2)])
    while stack:
        r, c = stack[-1]
        for dr, dc in steps[rng.permutation(4)]:
            nr, nc = r + dr, c + dc
            if 0 < nr < height - 1 and 0 < nc < width - 1 and not open_[nr, nc]:
                open_[r + dr // 2, c + dc // 2] = True
                open_[nr, nc] = True
                stack.append((nr, nc))
                break
        else:
            stack.pop()
    return open_


def maze_map(name: str) -> GridMap:
    """The map of a maze name: drawn as text, then read like any other map."""
    width, height, seed, slip = parse_spec(name)
    cells = np.where(carve(width, height, seed), "F" if slip else ".", "#")
    cells[height - 2, 1] = "S"
    cells[1, width - 2] = "G"
    grid = "\n".join("".join(row) for row in cells)
    legend = "legend:\n  G: {kind: terminal, reward: 0}\n"
    slip_line = f"slip: {slip}\n" if slip else ""
    text = (
        f"name: {name}\ngamma: 1\nstep_reward: -1\nmax_steps: {10 * width * height}\n"
        f"{slip_line}{legend}grid: |\n" + "".join(f"  {line}\n" for line in grid.splitlines())
    )
    return parse_map(text, name)
