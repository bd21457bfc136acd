"""A finite MDP as arrays: successor lists, checks and the small helpers every floor uses.

Every finite world in qlearn (grid maps, Gymnasium's toy_text environments, the
maximization-bias world) compiles to a :class:`FiniteMDP`, so the exact solvers
(:mod:`qlearn.exact`) and the tabular learners see the same world.

Conventions: entering a terminal state ends the episode; a terminal state's value is
0; ``legal[s, a]`` is False for actions that may not be taken in ``s`` (their Q value
is ``-inf`` in solver outputs).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from qlearn.core.errors import QlearnError

ACTIONS = ("N", "S", "E", "W")


@dataclass(frozen=True)
class GridLayout:
    """Where each state sits on a drawn grid, for printing and plotting.

    ``cells[i][j]`` is the map character at text row ``i`` (top first), column ``j``;
    ``positions[s]`` is state ``s``'s ``(col, row)``, 1-based with row 1 at the bottom.
    """

    cells: tuple[str, ...]
    positions: tuple[tuple[int, int], ...]
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return len(self.cells[0])

    @property
    def height(self) -> int:
        return len(self.cells)

    def char_at(self, col: int, row: int) -> str:
        return self.cells[self.height - row][col - 1]


#: Largest dense view ``P`` (S * A * S entries) a world will build: about 1 GiB of floats.
DENSE_LIMIT = 2**27


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite Markov decision process as successor lists.

    Each (state, action) lists at most K outcomes: the states it may land in, with their
    probabilities and rewards. Grids, mazes and toy_text worlds have a handful of
    outcomes per move, so a world costs O(S * A * K) memory, not O(S^2). Slots are
    sorted by next state; unused ones have probability 0 (and point at the state itself).

    Attributes:
        next_states: (S, A, K) int32 where each outcome lands.
        next_probs: (S, A, K) its probability.
        next_rewards: (S, A, K) its mean reward.
        next_reward_std: (S, A, K) the standard deviation of that reward (0 where fixed).
        terminal: (S,) entering this state ends the episode.
        start: (S,) distribution of the first state.
        legal: (S, A) which actions may be taken in each state.
        gamma: the world's default discount.
        name: what to call the world in output.
        state_names: one label per state, ``"(col,row)"`` on grids, the index otherwise.
        action_names: one label per action.
        layout: the grid drawing, when the world is a grid.
        max_steps: default cap on the length of a training episode.
    """

    next_states: np.ndarray
    next_probs: np.ndarray
    next_rewards: np.ndarray
    next_reward_std: np.ndarray
    terminal: np.ndarray
    start: np.ndarray
    legal: np.ndarray
    gamma: float
    name: str
    state_names: tuple[str, ...]
    action_names: tuple[str, ...] = ACTIONS
    layout: GridLayout | None = None
    max_steps: int = 1000

    @classmethod
    def from_dense(
        cls, P: np.ndarray, R: np.ndarray, R_std: np.ndarray | None = None, **fields: object
    ) -> FiniteMDP:
        """A world given as dense (S, A, S) arrays ``P``, ``R`` (and ``R_std``), for
        small hand-written worlds; the other fields as keywords."""
        P = np.asarray(P, dtype=float)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise QlearnError(f"P must have shape (S, A, S), got {P.shape}")
        R = np.broadcast_to(np.asarray(R, dtype=float), P.shape)
        R_std = np.zeros(P.shape) if R_std is None else np.broadcast_to(R_std, P.shape)
        S = P.shape[0]
        lands = np.broadcast_to(np.arange(S), P.shape)
        arrays = compact_successors(lands, P, R, R_std)
        return cls(*arrays, **fields)  # type: ignore[arg-type]

    def with_dense(
        self, P: np.ndarray, R: np.ndarray | None = None, R_std: np.ndarray | None = None
    ) -> FiniteMDP:
        """The same world with its transitions replaced by dense (S, A, S) arrays (``R``
        and ``R_std`` default to this world's dense views), for editing a small world by
        hand."""
        from dataclasses import fields

        kept = {
            f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("next_")
        }
        R = self.R if R is None else R
        return FiniteMDP.from_dense(P, R, self.R_std if R_std is None else R_std, **kept)

    @property
    def n_states(self) -> int:
        return self.next_states.shape[0]

    @property
    def n_actions(self) -> int:
        return self.next_states.shape[1]

    @property
    def n_successors(self) -> int:
        """K: the most outcomes any (state, action) has."""
        return self.next_states.shape[2]

    @cached_property
    def expected_reward(self) -> np.ndarray:
        """(S, A) expected immediate reward of taking ``a`` in ``s``."""
        return (self.next_probs * self.next_rewards).sum(axis=2)

    @cached_property
    def decision_states(self) -> np.ndarray:
        """(S,) states where the agent acts: not terminal."""
        return ~self.terminal

    @cached_property
    def entry_reward(self) -> np.ndarray:
        """(S,) the most a move from a decision state pays on landing in each state
        (``nan`` for states no move enters): what a terminal cell "pays"."""
        moves = (self.next_probs > 0) & self.decision_states[:, None, None]
        best = np.full(self.n_states, -np.inf)
        np.maximum.at(best, self.next_states[moves], self.next_rewards[moves])
        return np.where(np.isfinite(best), best, np.nan)

    def expected_next(self, values: np.ndarray) -> np.ndarray:
        """(S, A) E[values(s') | s, a]: the expectation of a per-state array over where
        each move lands."""
        return (self.next_probs * values[self.next_states]).sum(axis=2)

    def landing_reward(self, s: np.ndarray, a: np.ndarray, s2: np.ndarray) -> np.ndarray:
        """The mean reward of taking ``a`` in ``s`` and landing in ``s2`` (arrays of one
        shape; the first matching outcome where several land alike; 0 where none does)."""
        match = (self.next_states[s, a] == np.asarray(s2)[..., None]) & (self.next_probs[s, a] > 0)
        k = np.argmax(match, axis=-1)
        found = np.take_along_axis(self.next_rewards[s, a], k[..., None], axis=-1)[..., 0]
        return np.where(match.any(axis=-1), found, 0.0)

    def outcomes(self, s: int, a: int) -> list[tuple[int, float, float, float]]:
        """``(next state, probability, mean reward, reward std)`` of each outcome of
        taking ``a`` in ``s``, in the order the samplers use."""
        used = np.flatnonzero(self.next_probs[s, a] > 0)
        return [
            (int(self.next_states[s, a, k]), float(self.next_probs[s, a, k]),
             float(self.next_rewards[s, a, k]), float(self.next_reward_std[s, a, k]))
            for k in used
        ]  # fmt: skip

    def _dense(self, values: np.ndarray, pool: bool = True) -> np.ndarray:
        """``values`` (S, A, K) spread over (S, A, S) by landing state: summed when
        ``pool``, else each outcome's own value (outcomes sharing a landing state are
        then pooled by the caller)."""
        S, A = self.n_states, self.n_actions
        if S * A * S > DENSE_LIMIT:
            raise QlearnError(
                f"world {self.name!r} has {S:,} states: its dense (S, A, S) view would hold "
                f"{S * A * S:,} numbers; use its successor lists (next_states, next_probs, "
                "next_rewards) instead"
            )
        dense = np.zeros((S, A, S))
        s_idx, a_idx = np.indices((S, A))
        used = self.next_probs > 0
        for k in range(self.n_successors):
            where = (
                s_idx[used[:, :, k]],
                a_idx[used[:, :, k]],
                self.next_states[:, :, k][used[:, :, k]],
            )
            if pool:
                np.add.at(dense, where, values[:, :, k][used[:, :, k]])
            else:
                dense[where] = values[:, :, k][used[:, :, k]]
        return dense

    @cached_property
    def _shared_landings(self) -> np.ndarray:
        """(S, A, S) True where two outcomes of one move land in the same state."""
        return self._dense(np.ones(self.next_probs.shape)) > 1

    @cached_property
    def P(self) -> np.ndarray:
        """(S, A, S) transition probabilities: a dense view for small worlds and tests."""
        return self._dense(self.next_probs)

    @cached_property
    def R(self) -> np.ndarray:
        """(S, A, S) mean reward of landing in each state (a dense view; outcomes that
        land alike with different rewards are pooled by probability)."""
        r = self._dense(self.next_rewards, pool=False)
        shared = self._shared_landings
        if shared.any():
            mass = self._dense(self.next_probs * self.next_rewards)
            r[shared] = mass[shared] / self.P[shared]
        return r

    @cached_property
    def R_std(self) -> np.ndarray:
        """(S, A, S) standard deviation of the reward of landing in each state (a dense
        view, pooled like :attr:`R`)."""
        std = self._dense(self.next_reward_std, pool=False)
        shared = self._shared_landings
        if shared.any():
            second = self._dense(self.next_probs * (self.next_reward_std**2 + self.next_rewards**2))
            std[shared] = np.sqrt(
                np.maximum(second[shared] / self.P[shared] - self.R[shared] ** 2, 0)
            )
        return std

    def with_gamma(self, gamma: float | None) -> FiniteMDP:
        """The same world with another discount (``None`` keeps the default)."""
        if gamma is None or gamma == self.gamma:
            return self
        check_gamma(gamma)
        from dataclasses import replace

        return replace(self, gamma=float(gamma))

    def state_index(self, name: str) -> int:
        """The index of a state given its label, e.g. ``"(3,2)"`` or ``"(3, 2)"``."""
        key = name.replace(" ", "")
        try:
            return self.state_names.index(key)
        except ValueError:
            raise QlearnError(
                f"unknown state {name!r} in world {self.name!r}; "
                f"states are {', '.join(self.state_names[:12])}"
                + (", ..." if self.n_states > 12 else "")
            ) from None

    def action_index(self, name: str) -> int:
        try:
            return self.action_names.index(name)
        except ValueError:
            raise QlearnError(
                f"unknown action {name!r}; actions are {', '.join(self.action_names)}"
            ) from None


def one_line(text: object) -> str:
    """``text`` (an exception's, say) with each run of whitespace, line breaks too, as a space."""
    return " ".join(str(text).split())


def shown(value: object, limit: int = 60) -> str:
    """A user's value for an error message: one line (text is repr'd, so line breaks
    show as ``\\n``), shortened to about ``limit`` characters."""
    try:
        text = str(value) if isinstance(value, numbers.Number) else repr(value)
    except ValueError:  # an int with too many digits to print
        text = "a very long integer"
    text = one_line(text)  # in case a custom repr spans lines
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finite_float(value: object) -> float | None:
    """``value`` as a float if it is a finite real number (not a bool), else None:
    refuses nan, inf, ints beyond the float range and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check_gamma(gamma: float) -> None:
    try:
        ok = 0.0 <= float(gamma) <= 1.0  # False for nan
    except (TypeError, ValueError, OverflowError):  # not a number, or an int beyond floats
        ok = False
    if not ok:
        raise QlearnError(f"gamma must be in [0, 1], got {shown(gamma)}; pass e.g. --gamma 0.9")


def compact_successors(
    lands: np.ndarray, probs: np.ndarray, rewards: np.ndarray, reward_std: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Successor lists in their one canonical form, from candidate outcomes.

    The inputs are (S, A, C): C candidate outcomes per move, possibly landing in the same
    state twice or with probability 0. Outcomes with the same landing state and reward
    merge (probabilities summed in the order given, as a dense table's ``+=`` would);
    the rest are sorted by landing state, then reward; unused slots come last, with
    probability 0, pointing at the state itself. Returns ``(next_states, next_probs,
    next_rewards, next_reward_std)``, each (S, A, K) with K the most outcomes of a move.
    """
    probs = np.asarray(probs, dtype=float)
    S, A, C = probs.shape
    lands = np.broadcast_to(np.asarray(lands, dtype=np.int64), probs.shape)
    rewards = np.broadcast_to(np.asarray(rewards, dtype=float), probs.shape)
    reward_std = np.broadcast_to(np.asarray(reward_std, dtype=float), probs.shape)
    live = probs > 0
    order = np.lexsort((rewards, np.where(live, lands, S)), axis=-1)
    width = max(1, int(live.sum(axis=2).max(initial=0)))
    order = order[:, :, :width]  # dead candidates sorted last: drop them

    def sorted_(x: np.ndarray) -> np.ndarray:
        return np.take_along_axis(x, order, axis=2)

    lands, probs, rewards, reward_std, live = map(
        sorted_, (lands, probs, rewards, reward_std, live)
    )
    new = np.ones(lands.shape, dtype=bool)
    new[:, :, 1:] = (lands[:, :, 1:] != lands[:, :, :-1]) | (
        rewards[:, :, 1:] != rewards[:, :, :-1]
    )
    slot = np.cumsum(new & live, axis=2) - 1  # the output slot of each live candidate
    K = max(1, int(slot.max(initial=0)) + 1)
    own = np.broadcast_to(np.arange(S)[:, None, None], (S, A, K))
    out = (own.astype(np.int32), np.zeros((S, A, K)), np.zeros((S, A, K)), np.zeros((S, A, K)))
    s_idx, a_idx = np.indices((S, A))
    for c in range(lands.shape[2]):
        m = live[:, :, c]
        where = (s_idx[m], a_idx[m], slot[:, :, c][m])
        out[0][where] = lands[:, :, c][m]
        out[1][where] += probs[:, :, c][m]
        out[2][where] = rewards[:, :, c][m]
        out[3][where] = reward_std[:, :, c][m]
    return out


def validate_mdp(mdp: FiniteMDP) -> None:
    """Check shapes and that every legal move's outcomes form a distribution."""
    shape = mdp.next_states.shape
    S, A = shape[:2]
    if len(shape) != 3 or any(
        x.shape != shape for x in (mdp.next_probs, mdp.next_rewards, mdp.next_reward_std)
    ):
        raise QlearnError(
            f"MDP {mdp.name!r}: next_states, next_probs, next_rewards and next_reward_std "
            "must all have shape (S, A, K)"
        )
    if mdp.terminal.shape != (S,) or mdp.start.shape != (S,) or mdp.legal.shape != (S, A):
        raise QlearnError(f"MDP {mdp.name!r}: terminal, start and legal have wrong shapes")
    if S and (mdp.next_states.min() < 0 or mdp.next_states.max() >= S):
        raise QlearnError(f"MDP {mdp.name!r}: next_states must be state indices in [0, {S})")
    if (mdp.next_probs < 0).any():
        raise QlearnError(f"MDP {mdp.name!r}: probabilities must not be negative")
    sums = mdp.next_probs.sum(axis=2)
    bad = mdp.legal & ~mdp.terminal[:, None] & ~np.isclose(sums, 1.0, atol=1e-9)
    if bad.any():
        s, a = np.argwhere(bad)[0]
        raise QlearnError(
            f"MDP {mdp.name!r}: the outcomes of action {a} in state {s} sum to "
            f"{sums[s, a]:.6g}, not 1; fix the transition table"
        )
    if not np.isclose(mdp.start.sum(), 1.0):
        raise QlearnError(f"MDP {mdp.name!r}: the start distribution must sum to 1")
    if not mdp.legal[~mdp.terminal].any(axis=1).all():
        raise QlearnError(f"MDP {mdp.name!r}: every non-terminal state needs a legal action")
    check_gamma(mdp.gamma)
