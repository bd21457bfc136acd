"""A finite MDP as arrays, and its exact solution.

Every finite world in qlearn (grid maps, Gymnasium's toy_text environments, the
maximization-bias world) compiles to a :class:`FiniteMDP`, so the exact solvers here
and the tabular learners see the same world.

Conventions: entering a terminal state ends the episode; a terminal state's value is
0; ``legal[s, a]`` is False for actions that may not be taken in ``s`` (their Q value
is ``-inf`` in solver outputs).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

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


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """A finite Markov decision process as dense arrays.

    Attributes:
        P: (S, A, S) transition probabilities.
        R: (S, A, S) mean reward of each transition.
        R_std: (S, A, S) standard deviation of that reward (0 where it is fixed).
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

    P: np.ndarray
    R: np.ndarray
    R_std: np.ndarray
    terminal: np.ndarray
    start: np.ndarray
    legal: np.ndarray
    gamma: float
    name: str
    state_names: tuple[str, ...]
    action_names: tuple[str, ...] = ACTIONS
    layout: GridLayout | None = None
    max_steps: int = 1000

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    @cached_property
    def expected_reward(self) -> np.ndarray:
        """(S, A) expected immediate reward of taking ``a`` in ``s``."""
        return np.einsum("sat,sat->sa", self.P, self.R)

    @cached_property
    def decision_states(self) -> np.ndarray:
        """(S,) states where the agent acts: not terminal."""
        return ~self.terminal

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


def validate_mdp(mdp: FiniteMDP) -> None:
    """Check shapes and that every legal row of P is a distribution."""
    S, A, S2 = mdp.P.shape
    if S != S2 or mdp.R.shape != mdp.P.shape or mdp.R_std.shape != mdp.P.shape:
        raise QlearnError(f"MDP {mdp.name!r}: P, R and R_std must all have shape (S, A, S)")
    if mdp.terminal.shape != (S,) or mdp.start.shape != (S,) or mdp.legal.shape != (S, A):
        raise QlearnError(f"MDP {mdp.name!r}: terminal, start and legal have wrong shapes")
    sums = mdp.P.sum(axis=2)
    bad = mdp.legal & ~mdp.terminal[:, None] & ~np.isclose(sums, 1.0, atol=1e-9)
    if bad.any():
        s, a = np.argwhere(bad)[0]
        raise QlearnError(
            f"MDP {mdp.name!r}: P[{s}, {a}] sums to {sums[s, a]:.6g}, not 1; "
            "fix the transition table"
        )
    if not np.isclose(mdp.start.sum(), 1.0):
        raise QlearnError(f"MDP {mdp.name!r}: the start distribution must sum to 1")
    if not mdp.legal[~mdp.terminal].any(axis=1).all():
        raise QlearnError(f"MDP {mdp.name!r}: every non-terminal state needs a legal action")
    check_gamma(mdp.gamma)


# --- exact solution -------------------------------------------------------------


class Solution(NamedTuple):
    """The exact solution of a finite MDP at one discount."""

    q: np.ndarray  # (S, A) Q*, -inf for illegal actions, 0 in terminal states
    v: np.ndarray  # (S,) V* = max_a Q*
    policy: np.ndarray  # (S, A) bool: every action tied for the max (within tolerance)
    sweeps: int  # value-iteration sweeps until the tolerance was met
    gamma: float


def q_from_v(mdp: FiniteMDP, v: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: Q(s,a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma V(s')]."""
    v_next = np.where(mdp.terminal, 0.0, v)
    q = mdp.expected_reward + gamma * (mdp.P @ v_next)
    q = np.where(mdp.legal, q, -np.inf)
    q[mdp.terminal] = 0.0
    return q


def max_legal(q: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """(S,) max over legal actions of an (S, A) table."""
    return np.where(legal, q, -np.inf).max(axis=1)


def bellman_optimality(mdp: FiniteMDP, v: np.ndarray, gamma: float) -> np.ndarray:
    """The Bellman optimality operator T applied to V: (TV)(s) = max_a Q_V(s, a)."""
    tv = max_legal(q_from_v(mdp, v, gamma), mdp.legal)
    return np.where(mdp.terminal, 0.0, tv)


def value_iteration(
    mdp: FiniteMDP, gamma: float | None = None, tol: float = 1e-10, max_sweeps: int = 1_000_000
) -> tuple[np.ndarray, int]:
    """V* to within ``tol`` in the max norm, and the number of sweeps it took.

    With gamma < 1 it stops when the last change is at most ``tol (1 - gamma) / gamma``,
    which bounds the distance to V* by ``tol``; with gamma = 1 it stops when a sweep
    changes nothing by more than ``tol``.
    """
    gamma = mdp.gamma if gamma is None else gamma
    check_gamma(gamma)
    threshold = tol * (1 - gamma) / gamma if 0 < gamma < 1 else tol
    v = np.zeros(mdp.n_states)
    for sweep in range(1, max_sweeps + 1):
        v_new = bellman_optimality(mdp, v, gamma)
        delta = np.max(np.abs(v_new - v)) if v.size else 0.0
        v = v_new
        if delta <= threshold:
            return v, sweep
    raise QlearnError(
        f"value iteration did not converge in {max_sweeps} sweeps on {mdp.name!r} "
        f"(gamma={gamma}); with gamma = 1 some state may never reach a terminal: "
        "try a gamma below 1"
    )


def policy_matrices(mdp: FiniteMDP, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, S) transition matrix and (S,) expected reward under a stochastic policy (S, A)."""
    p_pi = np.einsum("sa,sat->st", policy, mdp.P)
    r_pi = np.einsum("sa,sa->s", policy, np.where(mdp.legal, mdp.expected_reward, 0.0))
    return p_pi, r_pi


def reaches_terminal(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """(S,) True where following ``policy`` ends in a terminal state with probability 1."""
    p_pi, _ = policy_matrices(mdp, policy)
    edges = (p_pi > 0) & ~mdp.terminal[:, None]
    # States that can still reach a terminal: grow backwards from the terminals.
    can_reach = mdp.terminal.copy()
    while True:
        grown = can_reach | (edges & can_reach[None, :]).any(axis=1)
        if (grown == can_reach).all():
            break
        can_reach = grown
    # A state ends w.p. 1 iff nothing it can reach is stuck (unable to reach a terminal).
    stuck = ~can_reach
    reach = stuck.copy()
    while True:
        grown = reach | (edges & reach[None, :]).any(axis=1)
        if (grown == reach).all():
            break
        reach = grown
    return ~reach


def evaluate_policy(mdp: FiniteMDP, policy: np.ndarray, gamma: float | None = None) -> np.ndarray:
    """V^pi exactly, by solving the linear Bellman expectation equations.

    ``policy`` is (S, A) action probabilities. With gamma = 1 every state must reach a
    terminal with probability 1 under the policy; states that do not get ``nan``.
    """
    gamma = mdp.gamma if gamma is None else gamma
    p_pi, r_pi = policy_matrices(mdp, policy)
    solvable = ~mdp.terminal
    if gamma >= 1.0:
        solvable &= reaches_terminal(mdp, policy)
    idx = np.flatnonzero(solvable)
    v = np.zeros(mdp.n_states)
    if gamma >= 1.0:
        v[~mdp.terminal & ~solvable] = np.nan
    if idx.size:
        a = np.eye(idx.size) - gamma * p_pi[np.ix_(idx, idx)]
        v[idx] = np.linalg.solve(a, r_pi[idx])
    return v


def greedy_ties(q: np.ndarray, legal: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """(S, A) bool: every legal action within ``atol`` (scaled by |Q|) of the row's max."""
    best = max_legal(q, legal)
    scale = atol * np.maximum(1.0, np.abs(best))
    return legal & (q >= (best - scale)[:, None])


def deterministic(choice: np.ndarray, n_actions: int) -> np.ndarray:
    """(S,) action indices to an (S, A) one-hot policy."""
    return np.eye(n_actions)[choice]


def solve(mdp: FiniteMDP, gamma: float | None = None, tol: float = 1e-10) -> Solution:
    """Q*, V* and the optimal actions (all ties) of a finite MDP.

    Value iteration runs to ``tol``; then the greedy policy is evaluated exactly and
    improved until stable (policy iteration), so the reported values are exact to
    machine precision rather than merely within ``tol``.
    """
    gamma = mdp.gamma if gamma is None else float(gamma)
    check_gamma(gamma)
    v, sweeps = value_iteration(mdp, gamma, tol)
    q = q_from_v(mdp, v, gamma)
    for _ in range(100):
        choice = np.argmax(np.where(mdp.legal, q, -np.inf), axis=1)
        v_exact = evaluate_policy(mdp, deterministic(choice, mdp.n_actions), gamma)
        if np.isnan(v_exact).any():
            break  # gamma = 1 and a tied action loops: keep value iteration's answer
        q_exact = q_from_v(mdp, v_exact, gamma)
        ties = greedy_ties(q_exact, mdp.legal)
        v, q = v_exact, q_exact
        if ties[np.arange(mdp.n_states), choice].all():
            break
    v = np.where(mdp.terminal, 0.0, max_legal(q, mdp.legal))
    return Solution(q=q, v=v, policy=greedy_ties(q, mdp.legal), sweeps=sweeps, gamma=gamma)


def tie_policy(q: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """(S, A) probabilities of acting greedily on ``q`` with ties broken uniformly at random.

    Ties are exact equality, as in the learners' argmax.
    """
    best = max_legal(q, legal)
    ties = legal & (q == best[:, None])
    return ties / ties.sum(axis=1, keepdims=True)


class PolicyReturn(NamedTuple):
    """What a policy earns from the start, computed exactly on the MDP."""

    undiscounted: float | None  # expected sum of rewards; None if it may never end
    discounted: float | None  # expected discounted return; None if undefined (gamma 1, never ends)


def policy_return(mdp: FiniteMDP, policy: np.ndarray, gamma: float | None = None) -> PolicyReturn:
    """The exact expected return of ``policy`` from the start distribution.

    ``undiscounted`` is None when, with positive probability, the policy never reaches
    a terminal state (for instance a greedy loop between two cells).
    """
    gamma = mdp.gamma if gamma is None else gamma
    v_disc = evaluate_policy(mdp, policy, gamma)
    ends = reaches_terminal(mdp, policy)
    started = mdp.start > 0
    if not ends[started].all():
        undiscounted = None
    else:
        undiscounted = float(mdp.start @ np.nan_to_num(evaluate_policy(mdp, policy, 1.0)))
    discounted = float(mdp.start[started] @ v_disc[started])
    return PolicyReturn(undiscounted, None if np.isnan(discounted) else discounted)
