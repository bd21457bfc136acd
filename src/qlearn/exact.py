"""The exact solution of a finite MDP: value iteration, sparse policy evaluation and
policy iteration, and the exact return of a policy.

Every number qlearn holds a learner against comes from here. Policy evaluation is a
sparse linear solve (scipy, imported inside the functions: its sparse modules take a
third of a second to load), so a million-state maze is solved in seconds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP, check_gamma


class Solution(NamedTuple):
    """The exact solution of a finite MDP at one discount."""

    q: np.ndarray  # (S, A) Q*, -inf for illegal actions, 0 in terminal states
    v: np.ndarray  # (S,) V* = max_a Q*
    policy: np.ndarray  # (S, A) bool: every action tied for the max (within tolerance)
    sweeps: int  # value-iteration sweeps to the tolerance, or policy evaluations
    gamma: float
    method: str = "value iteration"  # or "policy iteration"


def q_from_v(mdp: FiniteMDP, v: np.ndarray, gamma: float) -> np.ndarray:
    """One Bellman backup: Q(s,a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma V(s')]."""
    v_next = np.where(mdp.terminal, 0.0, v)
    q = mdp.expected_reward + gamma * mdp.expected_next(v_next)
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


def policy_matrices(
    mdp: FiniteMDP, policy: np.ndarray, dense: bool = False
) -> tuple[Any, np.ndarray]:
    """(S, S) transition matrix (scipy CSR, or an array when ``dense``) and (S,) expected
    reward under a stochastic policy (S, A)."""
    r_pi = np.einsum("sa,sa->s", policy, np.where(mdp.legal, mdp.expected_reward, 0.0))
    if dense:
        return _dense_policy_matrix(mdp, policy), r_pi
    from scipy import sparse  # scipy's sparse modules take a third of a second to load

    S = mdp.n_states
    rows, cols, weights = _policy_transitions(mdp, policy)
    return sparse.csr_matrix((weights, (rows, cols)), shape=(S, S)), r_pi


def _policy_transitions(mdp: FiniteMDP, policy: np.ndarray):
    """The policy's transitions with positive probability: (from, to, probability) arrays
    (one state pair may appear more than once: the matrices sum them)."""
    weight = policy[:, :, None] * mdp.next_probs  # (S, A, K)
    rows = np.broadcast_to(np.arange(mdp.n_states)[:, None, None], weight.shape)
    live = weight > 0
    return rows[live], mdp.next_states[live], weight[live]


#: Worlds up to this many states evaluate a policy with dense arrays: building scipy's
#: sparse matrices costs more than solving a small world outright (8 ms against well
#: under 1 ms per policy on FrozenLake 8x8, where ``qlearn train --seeds 1024`` judges
#: a thousand distinct greedy policies).
DENSE_LIMIT = 256


def _dense_policy_matrix(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """(S, S) transition matrix under a stochastic policy (S, A), as a dense array."""
    rows, cols, weights = _policy_transitions(mdp, policy)
    p_pi = np.zeros((mdp.n_states, mdp.n_states))
    np.add.at(p_pi, (rows, cols), weights)
    return p_pi


def _reaching(edges: Any, targets: np.ndarray) -> np.ndarray:
    """(S,) True for the states from which some path along ``edges`` (scipy CSR, or a
    dense array) reaches a target."""
    if isinstance(edges, np.ndarray):
        step = edges > 0
        reach = targets.copy()
        while True:
            grown = reach | step[:, reach].any(axis=1)
            if (grown == reach).all():
                return reach
            reach = grown
    from scipy import sparse
    from scipy.sparse.csgraph import breadth_first_order

    S = edges.shape[0]
    # One extra node that every target points to; search backwards from it.
    hub = sparse.csr_matrix(
        (np.ones(int(targets.sum())), (np.flatnonzero(targets), np.full(int(targets.sum()), S))),
        shape=(S + 1, S + 1),
    )
    graph = sparse.bmat([[edges, None], [None, sparse.csr_matrix((1, 1))]], format="csr") + hub
    found = breadth_first_order(graph.T.tocsr(), S, directed=True, return_predecessors=False)
    reach = np.zeros(S + 1, dtype=bool)
    reach[found] = True
    return reach[:S]


def reaches_terminal(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """(S,) True where following ``policy`` ends in a terminal state with probability 1."""
    from scipy import sparse

    if mdp.n_states <= DENSE_LIMIT:
        edges = np.where(mdp.terminal[:, None], 0.0, _dense_policy_matrix(mdp, policy))
    else:
        p_pi, _ = policy_matrices(mdp, policy)
        edges = sparse.diags((~mdp.terminal).astype(float)) @ p_pi  # no moves out of terminals
    # A state ends w.p. 1 iff nothing it can reach is stuck (unable to reach a terminal).
    stuck = ~_reaching(edges, mdp.terminal)
    return ~_reaching(edges, stuck) if stuck.any() else np.ones(mdp.n_states, dtype=bool)


def evaluate_policy(
    mdp: FiniteMDP,
    policy: np.ndarray,
    gamma: float | None = None,
    ends: np.ndarray | None = None,
) -> np.ndarray:
    """V^pi exactly, by solving the linear Bellman expectation equations (dense up to
    :data:`DENSE_LIMIT` states, sparse above).

    ``policy`` is (S, A) action probabilities. With gamma = 1 every state must reach a
    terminal with probability 1 under the policy; states that do not get ``nan``
    (``ends``: :func:`reaches_terminal` of the policy, when the caller has it already).
    """
    gamma = mdp.gamma if gamma is None else gamma
    p_pi, r_pi = policy_matrices(mdp, policy, dense=mdp.n_states <= DENSE_LIMIT)
    solvable = ~mdp.terminal
    if gamma >= 1.0:
        solvable &= reaches_terminal(mdp, policy) if ends is None else ends
    idx = np.flatnonzero(solvable)
    v = np.zeros(mdp.n_states)
    if gamma >= 1.0:
        v[~mdp.terminal & ~solvable] = np.nan
    if not idx.size:
        return v
    if isinstance(p_pi, np.ndarray):
        v[idx] = np.linalg.solve(np.eye(idx.size) - gamma * p_pi[np.ix_(idx, idx)], r_pi[idx])
        return v
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    a = sparse.identity(idx.size, format="csc") - gamma * p_pi[idx][:, idx].tocsc()
    v[idx] = spsolve(a, r_pi[idx]) if idx.size > 1 else r_pi[idx] / a.toarray()[0]
    return v


def greedy_ties(q: np.ndarray, legal: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    """(S, A) bool: every legal action within ``atol`` (scaled by |Q|) of the row's max."""
    best = max_legal(q, legal)
    scale = atol * np.maximum(1.0, np.abs(best))
    return legal & (q >= (best - scale)[:, None])


def deterministic(choice: np.ndarray, n_actions: int) -> np.ndarray:
    """(S,) action indices to an (S, A) one-hot policy."""
    return np.eye(n_actions)[choice]


#: Worlds with more states than this (the largest whose tables are printed whole) are
#: solved by policy iteration: value iteration needs about as many sweeps as the longest
#: path, seconds on a 10,000-cell maze and hours on a million-cell one.
VALUE_ITERATION_LIMIT = 2_500
SOLVE_METHODS = ("auto", "value-iteration", "policy-iteration")


def solve(
    mdp: FiniteMDP, gamma: float | None = None, tol: float = 1e-10, method: str = "auto"
) -> Solution:
    """Q*, V* and the optimal actions (all ties) of a finite MDP.

    ``value-iteration`` runs value iteration to ``tol`` and then evaluates the greedy
    policy exactly and improves it until stable, so the values are exact to machine
    precision rather than merely within ``tol``. ``policy-iteration`` starts from a
    policy that heads for the nearest terminal and alternates exact (sparse) evaluation
    and improvement: a few evaluations even on a million-state maze. ``auto`` picks value
    iteration up to :data:`VALUE_ITERATION_LIMIT` states.
    """
    gamma = mdp.gamma if gamma is None else float(gamma)
    check_gamma(gamma)
    if method not in SOLVE_METHODS:
        raise QlearnError(
            f"unknown solve method {method!r}; choose one of {', '.join(SOLVE_METHODS)}"
        )
    if method == "auto":
        method = "value-iteration" if mdp.n_states <= VALUE_ITERATION_LIMIT else "policy-iteration"
    if method == "policy-iteration":
        solution = _policy_iteration(mdp, gamma)
        if solution is not None:
            return solution
    v, sweeps = value_iteration(mdp, gamma, tol)
    q = _polish(mdp, q_from_v(mdp, v, gamma), gamma)
    return _solution(mdp, q, sweeps, gamma, "value iteration")


def _solution(mdp: FiniteMDP, q: np.ndarray, count: int, gamma: float, method: str) -> Solution:
    v = np.where(mdp.terminal, 0.0, max_legal(q, mdp.legal))
    return Solution(
        q=q, v=v, policy=greedy_ties(q, mdp.legal), sweeps=count, gamma=gamma, method=method
    )


def _polish(mdp: FiniteMDP, q: np.ndarray, gamma: float) -> np.ndarray:
    """``q`` made exact: evaluate its greedy policy exactly and improve until stable."""
    for _ in range(100):
        choice = np.argmax(np.where(mdp.legal, q, -np.inf), axis=1)
        v_exact = evaluate_policy(mdp, deterministic(choice, mdp.n_actions), gamma)
        if np.isnan(v_exact).any():
            break  # gamma = 1 and a tied action loops: keep value iteration's answer
        q_exact = q_from_v(mdp, v_exact, gamma)
        ties = greedy_ties(q_exact, mdp.legal)
        q = q_exact
        if ties[np.arange(mdp.n_states), choice].all():
            break
    return q


def heading_for_terminals(mdp: FiniteMDP) -> np.ndarray:
    """(S,) an action per state with the best chance of landing closer (in moves) to a
    terminal state: a policy that ends with probability 1 wherever that is possible."""
    from scipy import sparse
    from scipy.sparse.csgraph import shortest_path

    S = mdp.n_states
    moves = (mdp.next_probs > 0) & (mdp.legal & ~mdp.terminal[:, None])[:, :, None]
    rows = np.broadcast_to(np.arange(S)[:, None, None], moves.shape)[moves]
    hub = np.full(int(mdp.terminal.sum()), S)
    graph = sparse.csr_matrix(
        (np.ones(rows.size + hub.size), (np.concatenate([mdp.next_states[moves], hub]),
                                          np.concatenate([rows, np.flatnonzero(mdp.terminal)]))),
        shape=(S + 1, S + 1),
    )  # fmt: skip
    dist = shortest_path(graph, unweighted=True, indices=S)[:S]  # moves to a terminal
    closer = (mdp.next_probs * (dist[mdp.next_states] < dist[:, None, None])).sum(axis=2)
    return np.argmax(np.where(mdp.legal, closer, -1.0), axis=1)


def _policy_iteration(mdp: FiniteMDP, gamma: float, max_rounds: int = 1000) -> Solution | None:
    """Policy iteration from :func:`heading_for_terminals`; None if a policy on the way
    never ends (gamma 1), for value iteration to take over."""
    choice = heading_for_terminals(mdp)
    rows = np.arange(mdp.n_states)
    for rounds in range(1, max_rounds + 1):
        v = evaluate_policy(mdp, deterministic(choice, mdp.n_actions), gamma)
        if np.isnan(v).any():
            return None
        q = q_from_v(mdp, v, gamma)
        best = max_legal(q, mdp.legal)
        better = q[rows, choice] < best - 1e-12 * np.maximum(1.0, np.abs(best))
        if not better.any():
            return _solution(mdp, q, rounds, gamma, "policy iteration")
        choice = np.where(better, np.argmax(np.where(mdp.legal, q, -np.inf), axis=1), choice)
    return None


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
    ends = reaches_terminal(mdp, policy)
    v_disc = evaluate_policy(mdp, policy, gamma, ends)
    started = mdp.start > 0
    if not ends[started].all():
        undiscounted = None
    else:
        v_once = evaluate_policy(mdp, policy, 1.0, ends)
        undiscounted = float(mdp.start @ np.nan_to_num(v_once))
    discounted = float(mdp.start[started] @ v_disc[started])
    return PolicyReturn(undiscounted, None if np.isnan(discounted) else discounted)
