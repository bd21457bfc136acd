"""Grid worlds drawn as text, compiled to finite MDPs.

A map is the grid, top row first, one character per cell, plus a legend that says
what each character is. Plain text files hold only the grid and use the default
legend; YAML files add parameters and legend entries::

    name: classic
    gamma: 0.9
    step_reward: 0
    legend:
      D: {kind: terminal, reward: 1}
    grid: |
      ...D
      .#.P
      S...

Rules: a move goes one cell N, S, E or W; bumping a wall or the border leaves the
agent in place. Entering a cell pays that cell's own reward if the legend gives it
one, otherwise the step reward. Entering a terminal ends the episode; entering a
cliff pays its penalty and sends the agent back to the start (the episode goes on).
From a slippery cell the move goes as intended with probability ``1 - slip`` and to
each perpendicular side with ``slip / 2`` (FrozenLake: slip 2/3).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from qlearn.core.errors import QlearnError, QlearnWarning
from qlearn.mdp import (
    ACTIONS,
    FiniteMDP,
    GridLayout,
    check_gamma,
    compact_successors,
    finite_float,
    one_line,
    shown,
    validate_mdp,
)

KINDS = ("start", "empty", "wall", "terminal", "cliff")
# (dcol, drow) per action, row growing upwards (N is +1 row).
MOVES = {"N": (0, 1), "S": (0, -1), "E": (1, 0), "W": (-1, 0)}
PERPENDICULAR = {"N": ("E", "W"), "S": ("E", "W"), "E": ("N", "S"), "W": ("N", "S")}


@dataclass(frozen=True)
class Cell:
    """What one map character means."""

    kind: str
    reward: float | None = None  # paid on entry instead of the step reward
    slippery: bool = False
    description: str = ""


DEFAULT_LEGEND: dict[str, Cell] = {
    "S": Cell("start", description="start"),
    ".": Cell("empty", description="empty"),
    "#": Cell("wall", description="wall"),
    "D": Cell("terminal", 1.0, description="diamond: +1, ends the episode"),
    "P": Cell("terminal", -1.0, description="pit: -1, ends the episode"),
    "G": Cell("terminal", 1.0, description="goal: +1, ends the episode"),
    "H": Cell("terminal", 0.0, description="hole: 0, ends the episode"),
    "C": Cell("cliff", -100.0, description="cliff: -100, back to the start"),
    "F": Cell("empty", slippery=True, description="frozen ice: slippery"),
}


@dataclass(frozen=True)
class GridMap:
    """A parsed map: the drawing, its legend and the world's parameters."""

    name: str
    rows: tuple[str, ...]
    legend: dict[str, Cell] = field(default_factory=lambda: dict(DEFAULT_LEGEND))
    gamma: float = 0.9
    step_reward: float = 0.0
    slip: Fraction = Fraction(2, 3)
    max_steps: int = 1000
    description: str = ""

    def with_params(
        self,
        gamma: float | None = None,
        step_reward: float | None = None,
        slip: float | Fraction | str | None = None,
    ) -> GridMap:
        """The same map with some parameters replaced (``None`` keeps the current one)."""
        changes: dict[str, Any] = {}
        if gamma is not None:
            check_gamma(gamma)
            changes["gamma"] = float(gamma)
        if step_reward is not None:
            changes["step_reward"] = json_number(step_reward, "step_reward")
        if slip is not None:
            changes["slip"] = _probability(slip, "slip")
            if not self.has_ice():
                warnings.warn(
                    f"slip {slip} does nothing on {self.name}: it has no slippery cells",
                    QlearnWarning,
                    stacklevel=2,
                )
        return replace(self, **changes)

    def has_ice(self) -> bool:
        """Whether any cell of the drawing is slippery (only those use ``slip``)."""
        return any(self.legend[c].slippery for row in self.rows for c in row if c in self.legend)


def json_number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QlearnError(f"map parameter {key!r} must be a number, got {shown(value)}")
    number = finite_float(value)
    if number is None:  # nan, inf, or an int beyond the float range
        raise QlearnError(f"map parameter {key!r} must be finite, got {shown(value)}")
    return number


def _probability(value: Any, key: str) -> Fraction:
    """A probability as an exact fraction, so that 2/3 splits into exact thirds."""
    try:
        if isinstance(value, bool):
            raise ValueError
        frac = Fraction(str(value).strip()) if not isinstance(value, Fraction) else value
    except (ValueError, ZeroDivisionError):
        raise QlearnError(
            f"map parameter {key!r} must be a probability like 0.2 or 2/3, got {shown(value)}"
        ) from None
    if not 0 <= frac <= 1:
        raise QlearnError(f"map parameter {key!r} must be in [0, 1], got {shown(value)}")
    return frac


def legend_entry(char: str, spec: Any) -> Cell:
    if not isinstance(char, str) or len(char) != 1 or char.isspace():
        raise QlearnError(f"legend key {char!r} must be a single visible character")
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict):
        raise QlearnError(
            f"legend entry {char!r} must be a kind or a mapping like {{kind: terminal, reward: 1}}"
        )
    unknown = set(spec) - {"kind", "reward", "slippery", "description"}
    if unknown:
        raise QlearnError(
            f"legend entry {char!r} has unknown key {shown(min(unknown, key=str))}; "
            "allowed: kind, reward, slippery, description"
        )
    kind = spec.get("kind")
    if kind not in KINDS:
        raise QlearnError(
            f"legend entry {char!r} has kind {shown(kind)}; choose one of {', '.join(KINDS)}"
        )
    reward = spec.get("reward")
    if reward is not None:
        reward = json_number(reward, f"legend {char} reward")
    if kind in ("terminal", "cliff") and reward is None:
        raise QlearnError(f"legend entry {char!r} ({kind}) needs a reward, e.g. reward: 1")
    slippery = spec.get("slippery", False)
    if not isinstance(slippery, bool):
        raise QlearnError(f"legend entry {char!r}: slippery must be true or false")
    return Cell(kind, reward, slippery, str(spec.get("description", kind)))


#: The keys a YAML map may have; a line starting with one of them makes a text a YAML map.
MAP_KEYS = ("name", "gamma", "step_reward", "slip", "legend", "max_steps", "description", "grid")
_KEY_LINE = re.compile(rf"^\s*({'|'.join(MAP_KEYS)})\s*:", re.MULTILINE)


def yaml_shaped(text: str) -> bool:
    """Whether ``text`` is meant as a YAML map (a line starts with a map key and a colon);
    only a text that is not is read as a bare grid, so a YAML typo is reported as one."""
    return bool(_KEY_LINE.search(text))


def _yaml_where(exc: yaml.YAMLError) -> str:
    """Where and what a YAML parser error is: ``line N: problem``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or one_line(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def parse_map(text: str, name: str = "map") -> GridMap:
    """Parse a map from text (a bare grid, or YAML with a ``grid`` key)."""
    if not isinstance(text, str):
        raise QlearnError("a map must be text")
    header: dict[str, Any] = {}
    shaped = yaml_shaped(text)
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        if shaped:
            raise QlearnError(f"map {name!r} is not valid YAML at {_yaml_where(exc)}") from None
        loaded = None  # not YAML: a bare grid
    except ValueError as exc:  # YAML with a value it cannot build, like the date 2001-13-14
        raise QlearnError(
            f"cannot read a value in the map ({one_line(exc)}); "
            "put quotes around text that looks like a date or a number"
        ) from None
    except RecursionError:
        raise QlearnError(
            "the map is nested too deeply to read; give the grid and flat parameters"
        ) from None
    if shaped and not (isinstance(loaded, dict) and "grid" in loaded):
        raise QlearnError(
            f"map {name!r} is YAML without a 'grid' key; add the grid as a block: 'grid: |'"
        )
    if isinstance(loaded, dict) and "grid" in loaded:
        header = loaded
        grid_text = header.pop("grid")
        if not isinstance(grid_text, str):
            raise QlearnError("the map's 'grid' must be a block of text (use 'grid: |')")
    else:
        grid_text = text
    allowed = set(MAP_KEYS) - {"grid"}
    unknown = set(header) - allowed
    if unknown:
        raise QlearnError(
            f"unknown map key {sorted(map(str, unknown))[0]!r}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    legend = dict(DEFAULT_LEGEND)
    extra = header.get("legend") or {}
    if not isinstance(extra, dict):
        raise QlearnError("the map's 'legend' must map characters to cell kinds")
    for char, spec in extra.items():
        legend[str(char)] = legend_entry(str(char), spec)

    rows = tuple(line.rstrip() for line in grid_text.strip("\n").splitlines())
    rows = tuple(r for r in rows if r.strip())
    rows = tuple(r.strip() for r in rows)
    _check_rows(rows, legend)

    gamma = header.get("gamma", 0.9)
    gamma = json_number(gamma, "gamma")
    check_gamma(gamma)
    max_steps = header.get("max_steps", 1000)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise QlearnError(
            f"map parameter 'max_steps' must be a positive integer, got {shown(max_steps)}"
        )
    gmap = GridMap(
        name=str(header.get("name", name)),
        rows=rows,
        legend=legend,
        gamma=gamma,
        step_reward=json_number(header.get("step_reward", 0.0), "step_reward"),
        slip=_probability(header.get("slip", "2/3"), "slip"),
        max_steps=max_steps,
        description=str(header.get("description", "")),
    )
    _check_reachable(gmap)
    return gmap


def check_map(gmap: GridMap) -> None:
    """The checks every map read from text passes, for maps built in code: rows of one
    length, known characters, one start, a terminal within reach."""
    _check_rows(gmap.rows, gmap.legend)
    _check_reachable(gmap)


def _codes(rows: tuple[str, ...]) -> np.ndarray:
    """(H, W) the code point of every map character, row 0 at the top."""
    return np.array(rows).view(np.uint32).reshape(len(rows), -1)


def _check_rows(rows: tuple[str, ...], legend: dict[str, Cell]) -> None:
    if not rows:
        raise QlearnError("the map is empty; draw the grid one row per line, top row first")
    width = len(rows[0])
    for i, row in enumerate(rows, start=1):
        if len(row) != width:
            raise QlearnError(
                f"ragged map: row {i} from the top has {len(row)} cells, row 1 has {width}; "
                "every row must have the same length"
            )
    codes = _codes(rows)
    known = np.isin(codes, [ord(ch) for ch in legend if len(ch) == 1])
    if not known.all():
        i, j = (int(x) for x in np.argwhere(~known)[0])
        raise QlearnError(
            f"unknown map character {rows[i][j]!r} at row {i + 1} from the top, column {j + 1}; "
            f"known: {' '.join(sorted(legend))} (or add it to the legend)"
        )
    starts = int(np.isin(codes, [ord(ch) for ch, c in legend.items() if c.kind == "start"]).sum())
    if starts != 1:
        what = "no start cell" if not starts else f"{starts} start cells"
        raise QlearnError(f"the map has {what}; mark exactly one cell with S")


class _Cells(NamedTuple):
    """Every cell of a map as arrays (H, W), row 0 at the top."""

    kind: np.ndarray  # index into KINDS
    paid: np.ndarray  # reward paid on entering the cell
    slippery: np.ndarray  # bool


def _cell_arrays(gmap: GridMap) -> _Cells:
    codes = _codes(gmap.rows)
    kind = np.zeros(codes.shape, dtype=np.int8)
    paid = np.full(codes.shape, float(gmap.step_reward))
    slippery = np.zeros(codes.shape, dtype=bool)
    for ch, cell in gmap.legend.items():
        if len(ch) != 1:
            continue
        here = codes == ord(ch)
        kind[here] = KINDS.index(cell.kind)
        if cell.reward is not None:
            paid[here] = cell.reward
        slippery[here] = cell.slippery
    return _Cells(kind, paid, slippery)


WALL, CLIFF, TERMINAL, START = (KINDS.index(k) for k in ("wall", "cliff", "terminal", "start"))


def _neighbour(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], move: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Where ``move`` leads from each (row, col) (rows count from the top) and whether
    that is still on the map; off the map the position is the cell itself."""
    dc, dr = MOVES[move]
    r, c = rows - dr, cols + dc
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    return np.where(inside, r, rows), np.where(inside, c, cols), inside


def _check_reachable(gmap: GridMap) -> None:
    from scipy import sparse  # loaded by the exact solvers anyway
    from scipy.sparse.csgraph import breadth_first_order

    cells = _cell_arrays(gmap)
    open_ = (cells.kind != WALL) & (cells.kind != CLIFF)
    index = np.full(open_.shape, -1, dtype=np.int64)
    index[open_] = np.arange(int(open_.sum()))
    rows, cols = np.nonzero(open_ & (cells.kind != TERMINAL))  # terminals are not left
    heads, tails = [], []
    for move in MOVES:
        r, c, inside = _neighbour(rows, cols, open_.shape, move)
        step = inside & open_[r, c]
        heads.append(index[rows[step], cols[step]])
        tails.append(index[r[step], c[step]])
    n = int(open_.sum())
    heads, tails = np.concatenate(heads), np.concatenate(tails)
    graph = sparse.csr_matrix((np.ones(heads.size), (heads, tails)), shape=(n, n))
    start = int(index[cells.kind == START][0])
    seen = breadth_first_order(graph, start, directed=True, return_predecessors=False)
    if not (cells.kind[open_][seen] == TERMINAL).any():
        raise QlearnError(
            f"map {gmap.name!r}: no terminal cell can be reached from the start; "
            "add one (D, P, G or H) or open a path to it"
        )


def grid_mdp(gmap: GridMap) -> FiniteMDP:
    """Compile a map to its finite MDP. States are the non-wall, non-cliff cells in
    reading order (top row first), so FrozenLake's states keep Gymnasium's indices.

    Built as arrays over the whole drawing at once (a 1001 x 1001 maze in about a
    second): each move has at most three outcomes, the intended one and two slips.
    """
    cells = _cell_arrays(gmap)
    shape = cells.kind.shape
    is_state = (cells.kind != WALL) & (cells.kind != CLIFF)
    index = np.full(shape, -1, dtype=np.int64)
    n_s = int(is_state.sum())
    index[is_state] = np.arange(n_s)
    start_index = int(index[cells.kind == START][0])
    terminal = (cells.kind == TERMINAL)[is_state]
    rows, cols = np.nonzero(is_state)  # reading order, as the state indices

    def land(move: str) -> tuple[np.ndarray, np.ndarray]:
        """(S,) where ``move`` takes each state, and the reward paid."""
        r, c, inside = _neighbour(rows, cols, shape, move)
        there = np.where(inside, cells.kind[r, c], WALL)
        bump = there == WALL
        lands = np.where(
            bump, index[rows, cols], np.where(there == CLIFF, start_index, index[r, c])
        )
        return lands, np.where(bump, gmap.step_reward, cells.paid[r, c])

    slip = cells.slippery[rows, cols]
    straight, sideways = float(1 - gmap.slip), float(gmap.slip / 2)
    lands = np.zeros((n_s, len(ACTIONS), 3), dtype=np.int64)
    probs = np.zeros((n_s, len(ACTIONS), 3))
    rewards = np.zeros((n_s, len(ACTIONS), 3))
    for a, action in enumerate(ACTIONS):
        for k, (move, prob) in enumerate(
            zip((action, *PERPENDICULAR[action]), (straight, sideways, sideways), strict=True)
        ):
            lands[:, a, k], rewards[:, a, k] = land(move)
            probs[:, a, k] = np.where(slip, prob, 1.0 if k == 0 else 0.0)
    # A terminal state is absorbing: it is never left, and the learners never act there.
    lands[terminal] = np.flatnonzero(terminal)[:, None, None]
    probs[terminal] = np.array([1.0, 0.0, 0.0])
    rewards[terminal] = 0.0
    next_states, next_probs, next_rewards, next_std = compact_successors(lands, probs, rewards, 0.0)
    start = np.zeros(n_s)
    start[start_index] = 1.0
    height = len(gmap.rows)
    positions = tuple(zip((cols + 1).tolist(), (height - rows).tolist(), strict=True))
    layout = GridLayout(
        cells=gmap.rows,
        positions=positions,
        kinds={ch: c.kind for ch, c in gmap.legend.items()},
    )
    mdp = FiniteMDP(
        next_states=next_states,
        next_probs=next_probs,
        next_rewards=next_rewards,
        next_reward_std=next_std,
        terminal=terminal,
        start=start,
        legal=np.ones((n_s, len(ACTIONS)), dtype=bool),
        gamma=gmap.gamma,
        name=gmap.name,
        state_names=tuple(f"({c},{r})" for c, r in positions),
        layout=layout,
        max_steps=gmap.max_steps,
    )
    validate_mdp(mdp)
    return mdp


def load_map(path: str | Path) -> GridMap:
    """Read a map file (bare grid or YAML)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QlearnError(f"map file {str(p)!r} not found; check the path") from None
    except (OSError, ValueError) as exc:  # ValueError: undecodable text, a NUL in the path
        raise QlearnError(f"cannot read map file {str(p)!r}: {one_line(exc)}") from None
    return parse_map(text, name=p.stem)
