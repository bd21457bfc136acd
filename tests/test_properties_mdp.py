"""Property tests of the exact solvers (and tabular Q-learning) on random small MDPs.

The Bellman operators are written out here from P, R and ``terminal`` alone, so the
library is checked against the textbook definitions, not against itself:

    (T q)(s, a) = sum_s' P(s'|s,a) [R(s,a,s') + gamma (1 - terminal(s')) max_a' q(s', a')]

with the max over the legal actions of s'. Library conventions checked along the way:
a terminal state's value is 0 and illegal actions are -inf in solver outputs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qlearn.exact import deterministic, evaluate_policy, max_legal, q_from_v, solve, value_iteration
from qlearn.mdp import FiniteMDP, validate_mdp
from qlearn.tabular.train import train

#: Deterministic in CI: the same examples on every run, nothing read from or written to
#: a local example database.
DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)


# --- random MDPs -------------------------------------------------------------------


@st.composite
def random_mdps(
    draw,
    max_states: int = 6,
    max_actions: int = 4,
    max_gamma: float = 0.95,
    reward_scale: float = 5.0,
) -> FiniteMDP:
    """A valid FiniteMDP: 2..max_states states, 2..max_actions actions, some terminal
    states (absorbing, as grid_mdp builds them), a random legal mask with at least one
    legal action per state, sparse random transitions, gamma in [0, max_gamma]."""
    n_s = draw(st.integers(2, max_states), label="states")
    n_a = draw(st.integers(2, max_actions), label="actions")
    n_cells = n_s * n_a * n_s
    unit = st.floats(0.0, 1.0, allow_nan=False, allow_infinity=False)
    weights = np.array(draw(st.lists(unit, min_size=n_cells, max_size=n_cells))).reshape(
        n_s, n_a, n_s
    )
    # Sparsity: drop some successors; every row keeps at least one (its largest weight,
    # or a drawn state when all weights are 0).
    keep = np.array(draw(st.lists(st.booleans(), min_size=n_cells, max_size=n_cells)))
    weights = weights * keep.reshape(weights.shape)
    fallback = draw(st.integers(0, n_s - 1), label="fallback successor")
    empty = weights.sum(axis=2) == 0
    weights[empty, fallback] = 1.0
    P = weights / weights.sum(axis=2, keepdims=True)

    rewards = st.floats(-reward_scale, reward_scale, allow_nan=False, allow_infinity=False)
    R = np.array(draw(st.lists(rewards, min_size=n_cells, max_size=n_cells))).reshape(P.shape)

    n_terminal = draw(st.integers(0, n_s - 1), label="terminal states")
    terminal_ids = draw(st.permutations(range(n_s)))[:n_terminal]
    terminal = np.zeros(n_s, dtype=bool)
    terminal[list(terminal_ids)] = True
    for s in np.flatnonzero(terminal):  # absorbing, no reward (never used by learners)
        P[s] = 0.0
        P[s, :, s] = 1.0
        R[s] = 0.0

    mask = np.array(draw(st.lists(st.booleans(), min_size=n_s * n_a, max_size=n_s * n_a)))
    legal = mask.reshape(n_s, n_a)
    first_legal = draw(st.lists(st.integers(0, n_a - 1), min_size=n_s, max_size=n_s))
    legal[np.arange(n_s), first_legal] = True  # every state keeps a legal action
    legal[terminal] = True

    start = (~terminal).astype(float)
    start /= start.sum()
    gamma = draw(st.floats(0.0, max_gamma, allow_nan=False), label="gamma")
    mdp = FiniteMDP.from_dense(
        P,
        R,
        terminal=terminal,
        start=start,
        legal=legal,
        gamma=gamma,
        name="random",
        state_names=tuple(str(s) for s in range(n_s)),
        action_names=tuple("abcd"[:n_a]),
        max_steps=100,
    )
    validate_mdp(mdp)
    return mdp


def live(mdp: FiniteMDP) -> np.ndarray:
    """(S, A) bool: the entries of a Q table that mean something (legal, non-terminal)."""
    return mdp.legal & ~mdp.terminal[:, None]


def bellman_optimality_q(mdp: FiniteMDP, q: np.ndarray, gamma: float) -> np.ndarray:
    """The Bellman optimality operator on Q, from the definition, loop by loop.

    Returns 0 in terminal rows and -inf for illegal actions (the library's conventions).
    """
    n_s, n_a = mdp.legal.shape
    best_next = np.array(
        [0.0 if mdp.terminal[t] else max(q[t, b] for b in range(n_a) if mdp.legal[t, b])
         for t in range(n_s)]
    )  # fmt: skip
    out = np.zeros((n_s, n_a))
    for s in range(n_s):
        for a in range(n_a):
            if mdp.terminal[s]:
                out[s, a] = 0.0
            elif not mdp.legal[s, a]:
                out[s, a] = -np.inf
            else:
                out[s, a] = sum(
                    mdp.P[s, a, t] * (mdp.R[s, a, t] + gamma * best_next[t]) for t in range(n_s)
                )
    return out


def bellman_expectation_v(mdp: FiniteMDP, v: np.ndarray, policy: np.ndarray, gamma: float):
    """(T^pi v)(s) from the definition; 0 at terminal states."""
    n_s, n_a = mdp.legal.shape
    out = np.zeros(n_s)
    for s in np.flatnonzero(~mdp.terminal):
        out[s] = sum(
            policy[s, a]
            * sum(
                mdp.P[s, a, t] * (mdp.R[s, a, t] + gamma * (0.0 if mdp.terminal[t] else v[t]))
                for t in range(n_s)
            )
            for a in range(n_a)
        )
    return out


def value_scale(mdp: FiniteMDP) -> float:
    """A bound on |V| (rewards bounded, gamma < 1), used to scale tolerances."""
    return 1.0 + np.abs(mdp.R).max() / (1.0 - mdp.gamma)


def random_table(draw, mdp: FiniteMDP, scale: float = 10.0) -> np.ndarray:
    """A finite random Q table on the live entries (-inf illegal, 0 terminal)."""
    n = mdp.n_states * mdp.n_actions
    values = st.floats(-scale, scale, allow_nan=False, allow_infinity=False)
    q = np.array(draw(st.lists(values, min_size=n, max_size=n))).reshape(mdp.legal.shape)
    q = np.where(mdp.legal, q, -np.inf)
    q[mdp.terminal] = 0.0
    return q


def random_policy(draw, mdp: FiniteMDP) -> np.ndarray:
    """(S, A) action probabilities, zero on illegal actions."""
    n = mdp.n_states * mdp.n_actions
    w = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    w = w.reshape(mdp.legal.shape) * mdp.legal
    dead = w.sum(axis=1) == 0
    w[dead] = mdp.legal[dead]  # uniform over the legal actions when all weights are 0
    return w / w.sum(axis=1, keepdims=True)


# --- the operator itself -------------------------------------------------------------


@DETERMINISTIC
@given(data=st.data(), mdp=random_mdps())
def test_our_operator_matches_the_library_backup(data, mdp):
    """The test's T and the library's q_from_v(max_legal(q)) agree, conventions included."""
    q = random_table(data.draw, mdp)
    ours = bellman_optimality_q(mdp, q, mdp.gamma)
    v = np.where(mdp.terminal, 0.0, max_legal(q, mdp.legal))
    theirs = q_from_v(mdp, v, mdp.gamma)
    assert np.all(theirs[mdp.terminal] == 0.0)
    assert np.all(np.isneginf(theirs[~mdp.legal & ~mdp.terminal[:, None]]))
    np.testing.assert_allclose(theirs[live(mdp)], ours[live(mdp)], rtol=1e-12, atol=1e-12)


@DETERMINISTIC
@given(data=st.data(), mdp=random_mdps())
def test_bellman_optimality_operator_is_a_gamma_contraction(data, mdp):
    q1 = random_table(data.draw, mdp)
    q2 = random_table(data.draw, mdp)
    mask = live(mdp)
    t1 = bellman_optimality_q(mdp, q1, mdp.gamma)
    t2 = bellman_optimality_q(mdp, q2, mdp.gamma)
    before = np.abs(q1[mask] - q2[mask]).max()  # (-inf - -inf would be nan: mask first)
    after = np.abs(t1[mask] - t2[mask]).max()
    assert after <= mdp.gamma * before + 1e-12 * (1.0 + before)


# --- value iteration and the exact solution ------------------------------------------


@DETERMINISTIC
@given(mdp=random_mdps())
def test_value_iteration_result_is_the_fixed_point(mdp):
    tol = 1e-8 * value_scale(mdp)
    sol = solve(mdp)
    mask = live(mdp)
    # Conventions of the solver's output.
    assert np.all(sol.q[mdp.terminal] == 0.0) and np.all(sol.v[mdp.terminal] == 0.0)
    assert np.all(np.isneginf(sol.q[~mdp.legal & ~mdp.terminal[:, None]]))
    assert np.all(np.isfinite(sol.q[mask]))
    np.testing.assert_allclose(sol.v, np.where(mdp.terminal, 0.0, max_legal(sol.q, mdp.legal)))
    # T q* = q* (solve polishes value iteration by exact policy evaluation).
    t_q = bellman_optimality_q(mdp, sol.q, mdp.gamma)
    np.testing.assert_allclose(t_q[mask], sol.q[mask], rtol=0, atol=tol)
    # value_iteration alone: within its tolerance of V*, and a fixed point up to it.
    v, sweeps = value_iteration(mdp, tol=1e-10)
    assert sweeps >= 1
    np.testing.assert_allclose(v, sol.v, rtol=0, atol=tol)
    q_vi = q_from_v(mdp, v, mdp.gamma)
    np.testing.assert_allclose(bellman_optimality_q(mdp, q_vi, mdp.gamma)[mask], q_vi[mask],
                               rtol=0, atol=tol)  # fmt: skip
    # The optimal actions listed are exactly the argmax ties of Q*, and only legal ones.
    assert not (sol.policy & ~mdp.legal).any()
    assert sol.policy[~mdp.terminal].any(axis=1).all()


@DETERMINISTIC
@given(data=st.data(), mdp=random_mdps())
def test_exact_policy_evaluation_satisfies_the_bellman_expectation_equation(data, mdp):
    policy = random_policy(data.draw, mdp)
    v = evaluate_policy(mdp, policy)
    assert v.shape == (mdp.n_states,)
    assert np.all(np.isfinite(v))
    assert np.all(v[mdp.terminal] == 0.0)
    np.testing.assert_allclose(
        bellman_expectation_v(mdp, v, policy, mdp.gamma), v, rtol=0, atol=1e-9 * value_scale(mdp)
    )
    # |V^pi| <= max |r| / (1 - gamma)
    assert np.abs(v).max() <= value_scale(mdp)


def all_value_functions(mdp: FiniteMDP, choices: np.ndarray) -> np.ndarray:
    """(N, S) exact V of N deterministic policies (rows of action indices), in one batch."""
    n_s = mdp.n_states
    states = np.arange(n_s)
    p_pi = mdp.P[states[None, :], choices]  # (N, S, S)
    r_pi = mdp.expected_reward[states[None, :], choices]  # (N, S)
    p_pi = p_pi * ~mdp.terminal[None, None, :]  # entering a terminal ends the episode
    alive = ~mdp.terminal[None, :]
    r_pi = r_pi * alive
    a = np.eye(n_s)[None] - mdp.gamma * p_pi * alive[:, :, None]
    return np.linalg.solve(a, r_pi[..., None])[..., 0]


@DETERMINISTIC
@given(data=st.data(), mdp=random_mdps())
def test_greedy_policy_of_q_star_beats_every_deterministic_policy(data, mdp):
    sol = solve(mdp)
    greedy = np.argmax(np.where(mdp.legal, sol.q, -np.inf), axis=1)
    v_greedy = evaluate_policy(mdp, deterministic(greedy, mdp.n_actions))
    scale = value_scale(mdp)
    np.testing.assert_allclose(v_greedy, sol.v, rtol=0, atol=1e-9 * scale)

    options = [np.flatnonzero(mdp.legal[s]) for s in range(mdp.n_states)]
    n_policies = int(np.prod([len(o) for o in options]))
    if n_policies <= 2048:
        choices = np.array(list(itertools.product(*options)))
    else:
        seed = data.draw(st.integers(0, 2**32 - 1), label="policy sample seed")
        rng = np.random.default_rng(seed)
        choices = np.stack([rng.choice(o, size=1024) for o in options], axis=1)
    values = all_value_functions(mdp, choices)
    # The batch evaluation agrees with the library's on the greedy policy itself.
    np.testing.assert_allclose(
        all_value_functions(mdp, greedy[None])[0], v_greedy, rtol=0, atol=1e-9 * scale
    )
    worst_excess = (values - v_greedy[None, :]).max()
    assert worst_excess <= 1e-9 * scale, f"a policy beats greedy(Q*) by {worst_excess}"


# --- tabular Q-learning approaches Q* ------------------------------------------------


@pytest.mark.slow
@settings(DETERMINISTIC, max_examples=5)
@given(
    mdp=random_mdps(max_states=4, max_actions=3, max_gamma=0.8, reward_scale=1.0),
    alpha=st.sampled_from(["1/n^0.8", "1/n^0.7"]),
)
def test_q_learning_with_visit_count_step_sizes_approaches_q_star(mdp, alpha):
    sol = solve(mdp)
    mask = live(mdp)
    initial_gap = np.abs(sol.q[mask]).max()  # the table starts at zeros
    assume(initial_gap > 0.1)
    run = train(mdp, algo="q-learning", alpha=alpha, epsilon="1", episodes=4000, seeds=2, seed=7)
    q = run.q_per_seed  # (seeds, S, A)
    final_gaps = np.abs(q - sol.q[None])[:, mask].max(axis=1)
    # The run's own gap metric measures the same thing.
    np.testing.assert_allclose(run.arrays.gaps[:, -1], final_gaps, rtol=1e-9, atol=1e-12)
    assert np.all(final_gaps <= 0.1 * initial_gap), (final_gaps, initial_gap)
