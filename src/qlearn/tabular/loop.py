"""The one compiled loop that drives every tabular learner over a finite MDP's arrays.

A run's whole state between episodes is a :class:`RunArrays` row: its tables, visit
counts, explicit random-generator state and step count, next to the metrics recorded so
far. :func:`run_episodes` advances one row from episode ``start`` to ``stop``, so a run
can be cut into chunks (for a progress bar, or a checkpoint) and continued with the same
numbers as if it had never stopped. (Eligibility traces start at zero every episode, so
they live only inside the loop and need no row.) :func:`run_episodes_parallel` advances every row
(seed) at once, on as many threads as Numba may use; seed ``k`` of a batch gives the same
numbers as that seed run alone, because each row owns its generator state
(:mod:`qlearn.core.rng`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from qlearn.core.rng import load, seed_state, store, uniform_t
from qlearn.envs.kernels import World, pick_t, transition_t
from qlearn.tabular.rules import (
    DOUBLE_Q,
    EXPECTED_SARSA,
    Q_LAMBDA,
    Q_LEARNING,
    SARSA,
    SARSA_LAMBDA,
    TD0,
    argmax_random_t,
    boltzmann_probs,
    double_q_target_t,
    epsilon_greedy_probs,
    expected_sarsa_target,
    exploratory,
    q_learning_target,
    sarsa_target,
    td0_target,
    td_update,
    trace_bump,
    trace_decay,
    traced_update,
)
from qlearn.tabular.schedule_kernel import schedule_value

EPSILON_GREEDY, BOLTZMANN = 0, 1
#: Columns of the optional step trace (one row per update, for ``qlearn explain``).
TRACE_FIELDS = (
    "episode",  # 0-based
    "state",
    "action",
    "reward",  # as paid, noise included
    "next_state",
    "done",
    "next_action",  # SARSA's next action (-1 when none was chosen)
    "alpha",  # step size used
    "explore",  # epsilon (or temperature) at that step
)


class Settings(NamedTuple):
    """What to learn and how, as plain numbers and arrays."""

    algo: int  # ALGO_CODES[name]
    explore: int  # EPSILON_GREEDY or BOLTZMANN
    eps_spec: np.ndarray  # Schedule.as_array()
    temp_spec: np.ndarray
    alpha: float
    omega: float  # > 0: step size 1 / n(s, a)^omega instead of alpha
    gamma: float
    max_steps: int  # cap on an episode's length
    snapshot_at: np.ndarray  # (M,) sorted 1-based episodes after which to copy the table
    q_ref: np.ndarray  # (S, A) the exact answer the gap is measured against
    opt: np.ndarray  # (S, A) bool optimal actions
    v_ref: np.ndarray  # (S,) exact V of the evaluated policy (TD(0))
    policy: np.ndarray  # (S, A) the fixed policy TD(0) follows
    lam: float = 0.0  # lambda of the eligibility traces (q-lambda, sarsa-lambda)
    replacing: bool = False  # replacing traces (else accumulating)


class RunArrays(NamedTuple):
    """Everything a batch of runs carries and records, one leading row per seed."""

    q: np.ndarray  # (N, S, A) the table (Q1 for double Q-learning)
    q2: np.ndarray  # (N, S, A) second table of double Q-learning
    v: np.ndarray  # (N, S) TD(0) state values
    visits: np.ndarray  # (N, S, A) updates of each entry (for 1/n step sizes)
    rng: np.ndarray  # (N, 4) uint64 generator states
    steps: np.ndarray  # (N,) environment steps taken so far
    returns: np.ndarray  # (N, E) undiscounted return of each episode
    lengths: np.ndarray  # (N, E) steps in each episode
    gaps: np.ndarray  # (N, E) max-norm distance to the reference table after each episode
    shares: np.ndarray  # (N, E) share of states whose greedy actions are all optimal
    first_action: np.ndarray  # (N, E) the action taken at the first step
    explore_value: np.ndarray  # (N, E) epsilon (or temperature) at the episode's start
    snapshots: np.ndarray  # (N, M, S, A) tables after the chosen episodes
    trace: np.ndarray  # (N, T, len(TRACE_FIELDS)) the first T transitions (T = 0: none kept)


def fresh_arrays(
    seeds: np.ndarray,
    n_states: int,
    n_actions: int,
    episodes: int,
    n_snap: int,
    q_init: float,
    trace_steps: int = 0,
) -> RunArrays:
    """The state of untrained runs, one per seed (metrics not yet recorded are NaN).

    ``trace_steps`` > 0 keeps each run's first transitions for ``qlearn explain``.
    """
    n, S, A, E = len(seeds), n_states, n_actions, episodes
    return RunArrays(
        q=np.full((n, S, A), float(q_init)),
        q2=np.full((n, S, A), float(q_init)),
        v=np.zeros((n, S)),
        visits=np.zeros((n, S, A)),
        rng=np.stack([seed_state(int(seed)) for seed in seeds]).reshape(n, 4),
        steps=np.zeros(n, dtype=np.int64),
        returns=np.full((n, E), np.nan),
        lengths=np.zeros((n, E), dtype=np.int64),
        gaps=np.full((n, E), np.nan),
        shares=np.full((n, E), np.nan),
        first_action=np.full((n, E), -1, dtype=np.int64),
        explore_value=np.full((n, E), np.nan),
        snapshots=np.full((n, n_snap, S, A), np.nan),
        trace=np.full((n, trace_steps, len(TRACE_FIELDS)), np.nan),
    )


@njit(cache=True, inline="always")
def _act(q_row, legal_row, explore, epsilon, temperature, probs, st):
    """Choose an action: epsilon-greedy (random legal action w.p. epsilon) or Boltzmann.
    Returns (action, generator state)."""
    if explore == EPSILON_GREEDY:
        u, st = uniform_t(st)
        if u < epsilon:
            n_legal = 0
            for a in range(legal_row.shape[0]):
                n_legal += legal_row[a]
            # Given u < epsilon, u / epsilon is itself uniform on [0, 1): reuse the draw.
            k = min(int(u / epsilon * n_legal), n_legal - 1)
            for a in range(legal_row.shape[0]):
                if legal_row[a]:
                    if k == 0:
                        return a, st
                    k -= 1
        return argmax_random_t(q_row, legal_row, st)
    boltzmann_probs(q_row, legal_row, temperature, probs)
    return _sample(probs, st)


@njit(cache=True, inline="always")
def _sample(probs, st):
    """An action drawn from ``probs`` (zeros skipped), and the generator state."""
    u, st = uniform_t(st)
    acc = 0.0
    last = 0
    for a in range(probs.shape[0]):
        if probs[a] > 0.0:
            last = a
            acc += probs[a]
            if u < acc:
                return a, st
    return last, st


@njit(cache=True, inline="always")
def _state_metrics(s, q, q2, algo, legal, q_ref, opt, v, v_ref):
    """For one state: the largest |learned - exact| value, and whether every greedy action
    of the learned table is optimal. Double Q-learning is judged on the mean of its tables."""
    if algo == TD0:
        return abs(v[s] - v_ref[s]), True
    both = algo == DOUBLE_Q
    best = -np.inf
    for a in range(legal.shape[1]):
        if legal[s, a]:
            value = 0.5 * (q[s, a] + q2[s, a]) if both else q[s, a]
            best = max(best, value)
    err = 0.0
    optimal = True
    for a in range(legal.shape[1]):
        if legal[s, a]:
            value = 0.5 * (q[s, a] + q2[s, a]) if both else q[s, a]
            err = max(err, abs(value - q_ref[s, a]))
            if value == best and not opt[s, a]:
                optimal = False
    return err, optimal


@njit(cache=True, nogil=True)  # not inlined: the one-step learners' loop stays lean
def _clear_traces(elig, traced_at, n_traced) -> int:
    """Zero every trace (a new episode, or Watkins's cut); returns the new count, 0."""
    A = elig.shape[1]
    for j in range(n_traced):
        elig[traced_at[j] // A, traced_at[j] % A] = 0.0
    return 0


@njit(cache=True, nogil=True)  # not inlined: the one-step learners' loop stays lean
def _traced_step(q, elig, traced_at, n_traced, visits, s, a, td_error, lr, omega, decay, replacing):
    """One update of a learner with traces: raise the trace of (s, a), move every traced
    entry by alpha * TD error * its trace (with 1/n^omega step sizes, each entry by its
    own count), then decay the traces. ``traced_at[:n_traced]`` lists the entries (s * A + a)
    whose trace is not 0, in the order they were first visited (room for all S * A of
    them); returns its new length.
    """
    A = elig.shape[1]
    if elig[s, a] == 0.0:
        traced_at[n_traced] = s * A + a
        n_traced += 1
    elig[s, a] = trace_bump(elig[s, a], replacing)
    kept = 0
    for j in range(n_traced):
        x, b = traced_at[j] // A, traced_at[j] % A
        step = lr if omega <= 0.0 else 1.0 / visits[x, b] ** omega
        q[x, b] = traced_update(q[x, b], td_error, elig[x, b], step)
        elig[x, b] = trace_decay(elig[x, b], decay)
        if elig[x, b] != 0.0:
            traced_at[kept] = traced_at[j]
            kept += 1
    return kept


@njit(cache=True, inline="always")
def _record(row, ep, s, a, r, s2, done, a2, lr, explore_value) -> None:
    """One transition into a trace row (columns: :data:`TRACE_FIELDS`)."""
    row[0] = ep
    row[1] = s
    row[2] = a
    row[3] = r
    row[4] = s2
    row[5] = done
    row[6] = a2
    row[7] = lr
    row[8] = explore_value


@njit(cache=True, nogil=True)
def run_episodes(world, cfg, runs, i, start, stop):
    """Advance run ``i`` of ``runs`` from episode ``start`` to ``stop`` (0-based, exclusive).

    Reads and writes row ``i`` of every array in ``runs``; returns nothing.
    """
    # Work on this run's own copies: slicing an array shared between threads touches its
    # reference count, a cache line every thread would then fight over.
    next_state, cum_prob = world.next_state.copy(), world.cum_prob.copy()
    reward, reward_std, count = world.reward.copy(), world.reward_std.copy(), world.count.copy()
    start_state, start_cum = world.start_state.copy(), world.start_cum.copy()
    terminal, legal = world.terminal.copy(), world.legal.copy()
    q_ref, opt, v_ref, policy = (
        cfg.q_ref.copy(),
        cfg.opt.copy(),
        cfg.v_ref.copy(),
        cfg.policy.copy(),
    )
    algo, explore, gamma, alpha, omega = cfg.algo, cfg.explore, cfg.gamma, cfg.alpha, cfg.omega
    eps_spec, temp_spec, snapshot_at = cfg.eps_spec.copy(), cfg.temp_spec.copy(), cfg.snapshot_at
    q, q2, v = runs.q[i].copy(), runs.q2[i].copy(), runs.v[i].copy()
    visits = runs.visits[i].copy()
    st = load(runs.rng[i])  # the generator as four values, kept in registers
    total_steps = runs.steps[i]

    S, A = legal.shape
    probs = np.zeros(A)
    q_act = np.empty(A)  # acting row: Q, or Q1 + Q2 for double Q-learning
    snap = 0
    while snap < snapshot_at.shape[0] and snapshot_at[snap] <= start:
        snap += 1
    # Metrics are kept per state and refreshed only for the states an episode updated.
    state_err = np.zeros(S)
    state_ok = np.zeros(S, dtype=np.bool_)
    live = 0
    ok_count = 0
    gap = 0.0
    for x in range(S):
        if not terminal[x]:
            live += 1
            state_err[x], state_ok[x] = _state_metrics(x, q, q2, algo, legal, q_ref, opt, v, v_ref)
            ok_count += state_ok[x]
            gap = max(gap, state_err[x])
    eps_per_step = eps_spec[4] == 1.0 and eps_spec[0] != 0.0
    temp_per_step = temp_spec[4] == 1.0 and temp_spec[0] != 0.0
    noisy = reward_std.max() > 0.0
    touched_in = np.zeros(S, dtype=np.int64)  # episode number + 1 when last touched
    max_steps = cfg.max_steps
    touched = np.empty(S, dtype=np.int64)  # the states this episode updated, once each
    trace_len = runs.trace.shape[1]
    traced = algo == Q_LAMBDA or algo == SARSA_LAMBDA
    decay, replacing = gamma * cfg.lam, cfg.replacing
    elig = np.zeros((S, A) if traced else (0, A))  # eligibility traces
    # The entries with a trace, allocated whole: an array that could be replaced (grown)
    # inside the step loop costs the one-step learners about 12% of their speed.
    traced_at = np.empty(S * A if traced else 0, dtype=np.int64)
    n_traced = 0

    for ep in range(start, stop):
        n_touched = 0
        k, st = pick_t(start_cum, start_cum.shape[0], st)
        s = start_state[k]
        ep_return = 0.0
        steps = 0
        epsilon = schedule_value(eps_spec, ep if eps_spec[4] == 0.0 else total_steps)
        temperature = schedule_value(temp_spec, ep if temp_spec[4] == 0.0 else total_steps)
        runs.explore_value[i, ep] = epsilon if explore == EPSILON_GREEDY else temperature
        a = -1
        if traced:
            n_traced = _clear_traces(elig, traced_at, n_traced)
        while steps < max_steps:
            if eps_per_step:
                epsilon = schedule_value(eps_spec, total_steps)
            if temp_per_step:
                temperature = schedule_value(temp_spec, total_steps)
            if a < 0:  # choose now unless SARSA already chose it last step
                if algo == TD0:
                    a, st = _sample(policy[s], st)
                elif algo == DOUBLE_Q:
                    for b in range(A):
                        q_act[b] = q[s, b] + q2[s, b]
                    a, st = _act(q_act, legal[s], explore, epsilon, temperature, probs, st)
                else:
                    a, st = _act(q[s], legal[s], explore, epsilon, temperature, probs, st)
                    if algo == Q_LAMBDA and exploratory(q[s], legal[s], a):
                        n_traced = _clear_traces(elig, traced_at, n_traced)  # Watkins's cut
            if steps == 0:
                runs.first_action[i, ep] = a
            s2, r, st = transition_t(
                next_state, cum_prob, reward, reward_std, count, noisy, s, a, st
            )
            done = terminal[s2]
            lr = alpha
            if omega > 0.0:
                visits[s, a] += 1.0
                lr = 1.0 / visits[s, a] ** omega
            a2 = -1
            if algo == Q_LEARNING or algo == Q_LAMBDA:
                target = q_learning_target(r, gamma, done, q[s2], legal[s2])
                if algo == Q_LEARNING:
                    q[s, a] = td_update(q[s, a], target, lr)
                else:
                    n_traced = _traced_step(
                        q, elig, traced_at, n_traced, visits, s, a, target - q[s, a], lr, omega,
                        decay, replacing
                    )  # fmt: skip
            elif algo == SARSA or algo == SARSA_LAMBDA:
                if not done:
                    a2, st = _act(q[s2], legal[s2], explore, epsilon, temperature, probs, st)
                target = sarsa_target(r, gamma, done, q[s2], a2)
                if algo == SARSA:
                    q[s, a] = td_update(q[s, a], target, lr)
                else:
                    n_traced = _traced_step(
                        q, elig, traced_at, n_traced, visits, s, a, target - q[s, a], lr, omega,
                        decay, replacing
                    )  # fmt: skip
            elif algo == EXPECTED_SARSA:
                if explore == EPSILON_GREEDY:
                    epsilon_greedy_probs(q[s2], legal[s2], epsilon, probs)
                else:
                    boltzmann_probs(q[s2], legal[s2], temperature, probs)
                target = expected_sarsa_target(r, gamma, done, q[s2], probs)
                q[s, a] = td_update(q[s, a], target, lr)
            elif algo == DOUBLE_Q:
                coin, st = uniform_t(st)
                if coin < 0.5:
                    target, st = double_q_target_t(r, gamma, done, q[s2], q2[s2], legal[s2], st)
                    q[s, a] = td_update(q[s, a], target, lr)
                else:
                    target, st = double_q_target_t(r, gamma, done, q2[s2], q[s2], legal[s2], st)
                    q2[s, a] = td_update(q2[s, a], target, lr)
            else:
                v[s] = td_update(v[s], td0_target(r, gamma, done, v[s2]), lr)
            if total_steps < trace_len:
                _record(
                    runs.trace[i, total_steps],
                    ep,
                    s,
                    a,
                    r,
                    s2,
                    done,
                    a2,
                    lr,
                    epsilon if explore == EPSILON_GREEDY else temperature,
                )
            if touched_in[s] != ep + 1:
                touched_in[s] = ep + 1
                touched[n_touched] = s
                n_touched += 1
            ep_return += r
            steps += 1
            total_steps += 1
            if done:
                break
            s = s2
            a = a2
        runs.returns[i, ep] = ep_return
        runs.lengths[i, ep] = steps
        stale = False
        for j in range(n_touched):
            x = touched[j]
            before = state_err[x]
            err, optimal = _state_metrics(x, q, q2, algo, legal, q_ref, opt, v, v_ref)
            state_err[x] = err
            ok_count += optimal - state_ok[x]
            state_ok[x] = optimal
            if err >= gap:
                gap = err
            elif before >= gap:
                stale = True  # the largest error shrank: look for the new largest
        if stale:
            gap = state_err.max()
        runs.gaps[i, ep] = gap
        runs.shares[i, ep] = np.nan if algo == TD0 else ok_count / max(live, 1)
        while snap < snapshot_at.shape[0] and snapshot_at[snap] == ep + 1:
            for x in range(S):
                for b in range(A):
                    runs.snapshots[i, snap, x, b] = (
                        0.5 * (q[x, b] + q2[x, b]) if algo == DOUBLE_Q else q[x, b]
                    )
            snap += 1

    runs.q[i] = q
    runs.q2[i] = q2
    runs.v[i] = v
    runs.visits[i] = visits
    store(runs.rng[i], st)
    runs.steps[i] = total_steps


@njit(cache=True, nogil=True)
def run_episodes_range(world, cfg, runs, first, last, start, stop):
    """Advance runs ``first`` to ``last`` (exclusive), one after the other."""
    for i in range(first, last):
        run_episodes(world, cfg, runs, i, start, stop)


def run_episodes_parallel(
    world: World, cfg: Settings, runs: RunArrays, start: int, stop: int, threads: int
) -> None:
    """Advance every run (seed) from ``start`` to ``stop`` on ``threads`` threads.

    Plain threads over a GIL-free loop, not a Numba ``prange``: the numbers are the
    same, it runs as fast, and it spares the parallel compile (twice the loop's own)."""
    n = runs.q.shape[0]
    # A few blocks per thread, so a thread that drew long episodes does not hold up the rest.
    size = max(1, -(-n // (4 * threads)))
    blocks = [(first, min(first + size, n)) for first in range(0, n, size)]
    with ThreadPoolExecutor(threads) as pool:
        done = [
            pool.submit(run_episodes_range, world, cfg, runs, first, last, start, stop)
            for first, last in blocks
        ]
        for future in done:
            future.result()  # re-raises a block's error here


def advance(world: World, cfg: Settings, runs: RunArrays, start: int, stop: int) -> None:
    """Advance every run from ``start`` to ``stop``, on every thread Numba may use
    (:func:`numba.set_num_threads` limits it, as sweeps do)."""
    threads = min(numba.get_num_threads(), runs.q.shape[0])
    if threads <= 1:
        run_episodes_range(world, cfg, runs, 0, runs.q.shape[0], start, stop)
    else:
        run_episodes_parallel(world, cfg, runs, start, stop, threads)
