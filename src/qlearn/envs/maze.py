"""Seeded random mazes: ``maze:WxH[:seed=K][:slip=P]``, worlds big enough that a learned
table is genuinely imperfect, every one still solved exactly.

The map is W characters wide and H tall (odd, at least 5). Rooms sit at odd rows and
columns; the walls between them are carved by a randomized depth-first search (the
"recursive backtracker"): from the current room, step to a random unvisited neighbouring
room two cells away and open the wall between, backtracking when none is left, until
every room is reached. Neighbours are shuffled by NumPy's ``default_rng(seed)``, so a
seed always gives the same maze. The result is a perfect maze: exactly one path between
any two rooms. The start is the bottom-left room, the goal ``G`` the top-right one.

Every step costs -1, except the step onto the goal, which pays 0 and ends the episode;
with gamma 1, V*(s) is minus the number of steps to the goal, plus one. With ``slip=P``
every open cell is ice: a move goes sideways with probability P (P/2 each side), as on
FrozenLake.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.envs.grid import DEFAULT_LEGEND, GridMap, check_map, legend_entry

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
    opened = bytearray(width * height)  # flat, row by row: plain bytes are fastest to poke
    start = (height - 2) * width + 1
    opened[start] = 1
    stack = [start]
    steps = (-2 * width, 2 * width, -2, 2)  # up, down, left, right: two cells, one room
    rooms = ((height - 1) // 2) * ((width - 1) // 2)
    # The search takes one step per room pushed or popped: 2 * rooms - 1 in all. Their
    # neighbour orders are drawn at once; row i is what rng.permutation(4) would give at
    # step i (NumPy draws both the same way), so mazes keep their shape for a seed.
    orders = rng.permuted(np.tile(np.arange(4), (2 * rooms - 1, 1)), axis=1).tolist()
    for order in orders:
        here = stack[-1]
        col = here % width
        for i in order:
            there = here + steps[i]
            if i >= 2 and not 0 < col + (steps[i]) < width - 1:
                continue  # off the left or right edge
            if not width <= there < (height - 1) * width or opened[there]:
                continue  # off the top or bottom row, or visited
            opened[(here + there) // 2] = 1
            opened[there] = 1
            stack.append(there)
            break
        else:
            stack.pop()
    assert not stack, "a perfect maze's search ends with an empty stack"
    return np.frombuffer(bytes(opened), dtype=np.uint8).reshape(height, width).astype(bool)


@lru_cache(maxsize=4)
def maze_map(name: str) -> GridMap:
    """The map of a maze name, checked like any map read from text. Kept for the next
    call (a map is immutable): one command may load its world several times, and a
    million-cell maze takes about a second to carve."""
    width, height, seed, slip = parse_spec(name)
    cells = np.where(carve(width, height, seed), "F" if slip else ".", "#")
    cells[height - 2, 1] = "S"
    cells[1, width - 2] = "G"
    legend = {**DEFAULT_LEGEND, "G": legend_entry("G", {"kind": "terminal", "reward": 0})}
    gmap = GridMap(
        name=name,
        rows=tuple("".join(row) for row in cells),
        legend=legend,
        gamma=1.0,
        step_reward=-1.0,
        slip=slip if slip else GridMap.slip,
        max_steps=10 * width * height,
    )
    check_map(gmap)
    return gmap
