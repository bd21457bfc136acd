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
from typing import Any

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


def _legend_entry(char: str, spec: Any) -> Cell:
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
        legend[str(char)] = _legend_entry(str(char), spec)

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
        for j, ch in enumerate(row, start=1):
            if ch not in legend:
                raise QlearnError(
                    f"unknown map character {ch!r} at row {i} from the top, column {j}; "
                    f"known: {' '.join(sorted(legend))} (or add it to the legend)"
                )
    starts = [ch for row in rows for ch in row if legend[ch].kind == "start"]
    if len(starts) != 1:
        what = "no start cell" if not starts else f"{len(starts)} start cells"
        raise QlearnError(f"the map has {what}; mark exactly one cell with S")


def _cells(gmap: GridMap) -> dict[tuple[int, int], Cell]:
    """Cell of every (col, row), row 1 at the bottom."""
    height = len(gmap.rows)
    return {
        (j + 1, height - i): gmap.legend[ch]
        for i, row in enumerate(gmap.rows)
        for j, ch in enumerate(row)
    }


def _check_reachable(gmap: GridMap) -> None:
    cells = _cells(gmap)
    start = next(pos for pos, c in cells.items() if c.kind == "start")
    seen, frontier = {start}, [start]
    while frontier:
        col, row = frontier.pop()
        for dc, dr in MOVES.values():
            nxt = (col + dc, row + dr)
            cell = cells.get(nxt)
            if cell is None or cell.kind in ("wall", "cliff") or nxt in seen:
                continue
            seen.add(nxt)
            if cell.kind != "terminal":
                frontier.append(nxt)
    if not any(cells[p].kind == "terminal" for p in seen):
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
    chars = np.array([list(row) for row in gmap.rows])  # (H, W), row 0 at the top
    kind_of = {ch: cell.kind for ch, cell in gmap.legend.items()}
    kind = np.vectorize(kind_of.__getitem__, otypes=[object])(chars) if chars.size else chars
    is_state = (kind != "wall") & (kind != "cliff")
    index = np.full(chars.shape, -1, dtype=np.int64)
    index[is_state] = np.arange(int(is_state.sum()))
    n_s = int(is_state.sum())
    start_at = tuple(np.argwhere(kind == "start")[0])
    start_index = index[start_at]
    paid = np.array([[gmap.step_reward if gmap.legend[c].reward is None else gmap.legend[c].reward
                      for c in row] for row in gmap.rows])  # fmt: skip
    slippery = np.array([[gmap.legend[c].slippery for c in row] for row in gmap.rows])
    terminal = (kind == "terminal")[is_state]
    rows, cols = np.nonzero(is_state)  # reading order, as the state indices

    def land(move: str) -> tuple[np.ndarray, np.ndarray]:
        """(S,) where ``move`` takes each state, and the reward paid."""
        dc, dr = MOVES[move]
        r, c = rows - dr, cols + dc  # text rows grow downwards
        inside = (r >= 0) & (r < chars.shape[0]) & (c >= 0) & (c < chars.shape[1])
        r, c = np.where(inside, r, rows), np.where(inside, c, cols)
        there = np.where(inside, kind[r, c], "wall")
        bump = there == "wall"
        lands = np.where(
            bump, index[rows, cols], np.where(there == "cliff", start_index, index[r, c])
        )
        return lands, np.where(bump, gmap.step_reward, paid[r, c])

    slip = slippery[rows, cols]
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
