"""The one compiled loop that drives every tabular learner over a finite MDP's arrays.

``train_batch`` runs ``len(seeds)`` independent runs in parallel (Numba ``prange``).
Each run seeds Numba's per-thread generator with its own seed before its first
random draw and runs start to finish on one thread, so seed ``k`` of a batch gives
the same numbers as that seed run alone.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from qlearn.explore import schedule_value
from qlearn.mdp import FiniteMDP
from qlearn.tabular.rules import (
    argmax_random,
    boltzmann_probs,
    double_q_target,
    epsilon_greedy_probs,
    expected_sarsa_target,
    max_legal,
    q_learning_target,
    random_below,
    sarsa_target,
    td0_target,
    td_update,
)

ALGOS = ("q-learning", "sarsa", "expected-sarsa", "double-q", "td0")
Q_LEARNING, SARSA, EXPECTED_SARSA, DOUBLE_Q, TD0 = range(5)
EPSILON_GREEDY, BOLTZMANN = 0, 1
EXPLORATIONS = ("epsilon-greedy", "boltzmann")
#: Columns of the optional step trace (one row per update, for ``qlearn explain``).
TRACE_FIELDS = (
    "episode",  # 0-based
    "state",
    "action",
    "reward",  # as paid, noise included
    "next_state",
    "done",
    "next_action",  # SARSA's next action (-1 when none was chosen)
    "alpha",  # learning rate used
    "explore",  # epsilon (or temperature) at that step
)


class Outcomes(NamedTuple):
    """A finite MDP's transitions as short per-(s, a) lists, for fast sampling."""

    next_state: np.ndarray  # (S, A, K) int64
    cum_prob: np.ndarray  # (S, A, K) cumulative probabilities
    reward: np.ndarray  # (S, A, K) mean reward
    reward_std: np.ndarray  # (S, A, K)
    count: np.ndarray  # (S, A) how many of the K slots are used
    start_state: np.ndarray  # (M,) possible first states
    start_cum: np.ndarray  # (M,) their cumulative probabilities


def outcomes(mdp: FiniteMDP) -> Outcomes:
    """Sparse transition lists of ``mdp`` (K = most successors of any (s, a))."""
    nonzero = mdp.P > 0
    count = nonzero.sum(axis=2)
    k = max(1, int(count.max()))
    S, A = mdp.n_states, mdp.n_actions
    next_state = np.zeros((S, A, k), dtype=np.int64)
    cum_prob = np.ones((S, A, k))
    reward = np.zeros((S, A, k))
    reward_std = np.zeros((S, A, k))
    for s in range(S):
        for a in range(A):
            succ = np.flatnonzero(nonzero[s, a])
            n = succ.size
            next_state[s, a, :n] = succ
            cum_prob[s, a, :n] = np.cumsum(mdp.P[s, a, succ])
            cum_prob[s, a, max(n - 1, 0) :] = 1.0  # guard against rounding in the last slot
            reward[s, a, :n] = mdp.R[s, a, succ]
            reward_std[s, a, :n] = mdp.R_std[s, a, succ]
    start_state = np.flatnonzero(mdp.start > 0).astype(np.int64)
    start_cum = np.cumsum(mdp.start[start_state])
    start_cum[-1] = 1.0
    return Outcomes(
        next_state, cum_prob, reward, reward_std, count.astype(np.int64), start_state, start_cum
    )


@njit(cache=True, inline="always")
def _pick(cum: np.ndarray, n: int) -> int:
    u = np.random.random()
    for k in range(n - 1):
        if u < cum[k]:
            return k
    return n - 1


@njit(cache=True, inline="always")
def _act(q_row, legal_row, explore, epsilon, temperature, probs) -> int:
    """Choose an action: epsilon-greedy (random legal action w.p. epsilon) or Boltzmann."""
    if explore == EPSILON_GREEDY:
        if epsilon > 0.0 and np.random.random() < epsilon:
            n_legal = 0
            for a in range(legal_row.shape[0]):
                n_legal += legal_row[a]
            k = random_below(n_legal)
            for a in range(legal_row.shape[0]):
                if legal_row[a]:
                    if k == 0:
                        return a
                    k -= 1
        return argmax_random(q_row, legal_row)
    boltzmann_probs(q_row, legal_row, temperature, probs)
    u = np.random.random()
    acc = 0.0
    last = 0
    for a in range(probs.shape[0]):
        if probs[a] > 0.0:
            last = a
            acc += probs[a]
            if u < acc:
                return a
    return last


@njit(cache=True, inline="always")
def _act_policy(policy_row) -> int:
    """Sample an action from a fixed policy's probabilities."""
    u = np.random.random()
    acc = 0.0
    last = 0
    for a in range(policy_row.shape[0]):
        if policy_row[a] > 0.0:
            last = a
            acc += policy_row[a]
            if u < acc:
                return a
    return last


@njit(cache=True)
def _gap_and_share(q, legal, terminal, q_ref, opt, v, v_ref, algo):
    """Max-norm distance to the reference table, and the share of states acted optimally."""
    S, A = q.shape
    gap = 0.0
    good = 0
    live = 0
    for s in range(S):
        if terminal[s]:
            continue
        live += 1
        if algo == TD0:
            gap = max(gap, abs(v[s] - v_ref[s]))
            continue
        best = max_legal(q[s], legal[s])
        all_optimal = True
        for a in range(A):
            if legal[s, a]:
                gap = max(gap, abs(q[s, a] - q_ref[s, a]))
                if q[s, a] == best and not opt[s, a]:
                    all_optimal = False
        good += all_optimal
    share = np.nan if algo == TD0 else good / max(live, 1)
    return gap, share


@njit(cache=True)
def run_one(
    seed,
    algo,
    explore,
    eps_spec,
    temp_spec,
    alpha,
    omega,
    q_init,
    next_state,
    cum_prob,
    reward,
    reward_std,
    count,
    start_state,
    start_cum,
    terminal,
    legal,
    gamma,
    episodes,
    max_steps,
    q_ref,
    opt,
    v_ref,
    policy,
    snapshot_at,
    q_out,
    q2_out,
    v_out,
    returns,
    lengths,
    gaps,
    shares,
    first_action,
    eps_trace,
    snapshots,
    trace,
):
    """One independent run; writes its results into the given output slices.

    ``trace`` (T, len(TRACE_FIELDS)) receives the first T transitions; T is 0 unless
    the caller wants to narrate the run.
    """
    np.random.seed(seed)
    S, A = legal.shape
    q = q_out
    q2 = q2_out
    q[:] = q_init
    q2[:] = q_init
    v = v_out
    v[:] = 0.0
    visits = np.zeros((S, A))
    probs = np.zeros(A)
    q_act = np.empty(A)  # acting row: Q, or Q1 + Q2 for double Q-learning
    total_steps = 0
    snap = 0
    for ep in range(episodes):
        s = start_state[_pick(start_cum, start_cum.shape[0])]
        ep_return = 0.0
        steps = 0
        epsilon = schedule_value(eps_spec, ep if eps_spec[4] == 0.0 else total_steps)
        temperature = schedule_value(temp_spec, ep if temp_spec[4] == 0.0 else total_steps)
        eps_trace[ep] = epsilon if explore == EPSILON_GREEDY else temperature
        a = -1
        while steps < max_steps:
            if eps_spec[4] == 1.0:
                epsilon = schedule_value(eps_spec, total_steps)
            if temp_spec[4] == 1.0:
                temperature = schedule_value(temp_spec, total_steps)
            if a < 0:  # choose now unless SARSA already chose it last step
                if algo == TD0:
                    a = _act_policy(policy[s])
                elif algo == DOUBLE_Q:
                    for b in range(A):
                        q_act[b] = q[s, b] + q2[s, b]
                    a = _act(q_act, legal[s], explore, epsilon, temperature, probs)
                else:
                    a = _act(q[s], legal[s], explore, epsilon, temperature, probs)
            if steps == 0:
                first_action[ep] = a
            k = _pick(cum_prob[s, a], count[s, a])
            s2 = next_state[s, a, k]
            r = reward[s, a, k]
            if reward_std[s, a, k] > 0.0:
                r += reward_std[s, a, k] * np.random.standard_normal()
            done = terminal[s2]
            visits[s, a] += 1.0
            lr = alpha if omega <= 0.0 else 1.0 / visits[s, a] ** omega
            a2 = -1
            if algo == Q_LEARNING:
                q[s, a] = td_update(
                    q[s, a], q_learning_target(r, gamma, done, q[s2], legal[s2]), lr
                )
            elif algo == SARSA:
                if not done:
                    a2 = _act(q[s2], legal[s2], explore, epsilon, temperature, probs)
                q[s, a] = td_update(q[s, a], sarsa_target(r, gamma, done, q[s2], a2), lr)
            elif algo == EXPECTED_SARSA:
                if explore == EPSILON_GREEDY:
                    epsilon_greedy_probs(q[s2], legal[s2], epsilon, probs)
                else:
                    boltzmann_probs(q[s2], legal[s2], temperature, probs)
                q[s, a] = td_update(
                    q[s, a], expected_sarsa_target(r, gamma, done, q[s2], probs), lr
                )
            elif algo == DOUBLE_Q:
                if np.random.random() < 0.5:
                    t = double_q_target(r, gamma, done, q[s2], q2[s2], legal[s2])
                    q[s, a] = td_update(q[s, a], t, lr)
                else:
                    t = double_q_target(r, gamma, done, q2[s2], q[s2], legal[s2])
                    q2[s, a] = td_update(q2[s, a], t, lr)
            else:
                v[s] = td_update(v[s], td0_target(r, gamma, done, v[s2]), lr)
            if total_steps < trace.shape[0]:
                row = trace[total_steps]
                row[0] = ep
                row[1] = s
                row[2] = a
                row[3] = r
                row[4] = s2
                row[5] = done
                row[6] = a2
                row[7] = lr
                row[8] = epsilon if explore == EPSILON_GREEDY else temperature
            ep_return += r
            steps += 1
            total_steps += 1
            if done:
                break
            s = s2
            a = a2
        returns[ep] = ep_return
        lengths[ep] = steps
        if algo == DOUBLE_Q:
            q_eval = (q + q2) / 2.0
        else:
            q_eval = q
        gaps[ep], shares[ep] = _gap_and_share(q_eval, legal, terminal, q_ref, opt, v, v_ref, algo)
        while snap < snapshot_at.shape[0] and snapshot_at[snap] == ep + 1:
            snapshots[snap] = q_eval
            snap += 1
    return total_steps


class RunArrays(NamedTuple):
    """Everything the loop writes, one leading row per seed."""

    q: np.ndarray  # (N, S, A) final table (Q1 for double Q-learning)
    q2: np.ndarray  # (N, S, A) second table of double Q-learning
    v: np.ndarray  # (N, S) TD(0) state values
    returns: np.ndarray  # (N, E) undiscounted return of each episode
    lengths: np.ndarray  # (N, E) steps in each episode
    gaps: np.ndarray  # (N, E) max-norm distance to the reference table after each episode
    shares: np.ndarray  # (N, E) share of states whose greedy actions are all optimal
    first_action: np.ndarray  # (N, E) the action taken at the first step
    explore_value: np.ndarray  # (N, E) epsilon (or temperature) at the episode's start
    snapshots: np.ndarray  # (N, M, S, A) tables after the chosen episodes
    trace: np.ndarray  # (N, T, len(TRACE_FIELDS)) first T transitions (T = 0: none kept)
    steps: np.ndarray  # (N,) environment steps taken


def empty_arrays(
    n: int, n_states: int, n_actions: int, episodes: int, n_snap: int, trace_steps: int = 0
) -> RunArrays:
    S, A, E = n_states, n_actions, episodes
    return RunArrays(
        q=np.empty((n, S, A)),
        q2=np.empty((n, S, A)),
        v=np.empty((n, S)),
        returns=np.empty((n, E)),
        lengths=np.empty((n, E), dtype=np.int64),
        gaps=np.empty((n, E)),
        shares=np.empty((n, E)),
        first_action=np.empty((n, E), dtype=np.int64),
        explore_value=np.empty((n, E)),
        snapshots=np.empty((n, n_snap, S, A)),
        trace=np.full((n, trace_steps, len(TRACE_FIELDS)), np.nan),
        steps=np.empty(n, dtype=np.int64),
    )


@njit(cache=True, parallel=True)
def run_parallel(
    seeds,
    algo,
    explore,
    eps_spec,
    temp_spec,
    alpha,
    omega,
    q_init,
    next_state,
    cum_prob,
    reward,
    reward_std,
    count,
    start_state,
    start_cum,
    terminal,
    legal,
    gamma,
    episodes,
    max_steps,
    q_ref,
    opt,
    v_ref,
    policy,
    snapshot_at,
    q_out,
    q2_out,
    v_out,
    returns,
    lengths,
    gaps,
    shares,
    first_action,
    eps_trace,
    snapshots,
    trace,
    steps,
):
    """Run one learner for every seed, in parallel, into preallocated outputs."""
    for i in prange(seeds.shape[0]):
        steps[i] = run_one(
            seeds[i],
            algo,
            explore,
            eps_spec,
            temp_spec,
            alpha,
            omega,
            q_init,
            next_state,
            cum_prob,
            reward,
            reward_std,
            count,
            start_state,
            start_cum,
            terminal,
            legal,
            gamma,
            episodes,
            max_steps,
            q_ref,
            opt,
            v_ref,
            policy,
            snapshot_at,
            q_out[i],
            q2_out[i],
            v_out[i],
            returns[i],
            lengths[i],
            gaps[i],
            shares[i],
            first_action[i],
            eps_trace[i],
            snapshots[i],
            trace[i],
        )
