"""The tabular update rules: one small compiled function per algorithm.

Each ``*_target`` computes the number a table entry is nudged towards after one
transition ``(s, a, r, s')``; :func:`td_update` does the nudge. The learners with
eligibility traces (Q(lambda), SARSA(lambda)) use the Q-learning and SARSA targets and
nudge every traced entry by its trace (:func:`trace_bump`, :func:`traced_update`,
:func:`trace_decay`). Names follow rlax:
``q_t`` is the row of Q at the landing state ``s'``. Terminal transitions
(``done``) bootstrap from nothing.

They are Numba functions, so the compiled loop inlines them, and also plain callables
from Python (``qlearn explain`` narrates these same functions). Random choices take the
generator state ``rng`` explicitly (see :mod:`qlearn.core.rng`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from qlearn.configs.tabular_config import TABULAR_ALGOS
from qlearn.core.rng import below_t, load, store

#: The integer each tabular learner goes by in the compiled loops (the online loop and
#: learning from a log dispatch on the same codes). Written out, not derived from the
#: order of TABULAR_ALGOS: Numba freezes these into its cached machine code, and only an
#: edit of this file (which has @njit functions) clears that cache.
Q_LEARNING, SARSA, EXPECTED_SARSA, DOUBLE_Q, TD0, Q_LAMBDA, SARSA_LAMBDA = range(7)
ALGO_CODES = {
    "q-learning": Q_LEARNING, "sarsa": SARSA, "expected-sarsa": EXPECTED_SARSA,
    "double-q": DOUBLE_Q, "td0": TD0, "q-lambda": Q_LAMBDA, "sarsa-lambda": SARSA_LAMBDA,
}  # fmt: skip
assert set(ALGO_CODES) == set(TABULAR_ALGOS), "every tabular learner needs its code here"
#: A trace that decays below this is dropped (set to 0): its entry would move by less
#: than 1e-12 of a TD error, and the learner keeps touching only the entries that matter.
TRACE_FLOOR = 1e-12


@njit(cache=True, inline="always")
def argmax_random_t(q_row: np.ndarray, legal_row: np.ndarray, st):
    """The best legal action, ties broken uniformly at random; and the generator's
    new state (``st`` is a tuple state, see :mod:`qlearn.core.rng`)."""
    best = -np.inf
    count = 0
    choice = -1
    for a in range(q_row.shape[0]):
        if not legal_row[a]:
            continue
        if q_row[a] > best:
            best = q_row[a]
            count = 1
            choice = a
        elif q_row[a] == best:
            count += 1
            # Reservoir sampling: keep the k-th tie with probability 1/k.
            k, st = below_t(st, count)
            if k == 0:
                choice = a
    return choice, st


@njit(cache=True, inline="always")
def max_legal(q_row: np.ndarray, legal_row: np.ndarray) -> float:
    """max over legal actions of one row of Q."""
    best = -np.inf
    for a in range(q_row.shape[0]):
        if legal_row[a] and q_row[a] > best:
            best = q_row[a]
    return best


@njit(cache=True, inline="always")
def epsilon_greedy_probs(q_row, legal_row, epsilon, out) -> None:
    """Fill ``out`` with the epsilon-greedy action probabilities (greedy ties share)."""
    best = max_legal(q_row, legal_row)
    n_legal = 0
    n_best = 0
    for a in range(q_row.shape[0]):
        if legal_row[a]:
            n_legal += 1
            if q_row[a] == best:
                n_best += 1
    for a in range(q_row.shape[0]):
        out[a] = 0.0
        if legal_row[a]:
            out[a] = epsilon / n_legal
            if q_row[a] == best:
                out[a] += (1.0 - epsilon) / n_best


@njit(cache=True, inline="always")
def boltzmann_probs(q_row, legal_row, temperature, out) -> None:
    """Fill ``out`` with softmax(Q / temperature) over the legal actions."""
    best = max_legal(q_row, legal_row)
    total = 0.0
    for a in range(q_row.shape[0]):
        out[a] = np.exp((q_row[a] - best) / temperature) if legal_row[a] else 0.0
        total += out[a]
    for a in range(q_row.shape[0]):
        out[a] /= total


@njit(cache=True, inline="always")
def q_learning_target(r: float, gamma: float, done: bool, q_t, legal_t) -> float:
    """Q-learning: r + gamma * max_a' Q(s', a')."""
    if done:
        return r
    return r + gamma * max_legal(q_t, legal_t)


@njit(cache=True, inline="always")
def sarsa_target(r: float, gamma: float, done: bool, q_t, a_t: int) -> float:
    """SARSA: r + gamma * Q(s', a'), a' the action actually taken next."""
    if done:
        return r
    return r + gamma * q_t[a_t]


@njit(cache=True, inline="always")
def expected_sarsa_target(r: float, gamma: float, done: bool, q_t, probs_t) -> float:
    """Expected SARSA: r + gamma * sum_a' pi(a'|s') Q(s', a') under the behaviour policy."""
    if done:
        return r
    total = 0.0
    for a in range(q_t.shape[0]):
        if probs_t[a] > 0.0:
            total += probs_t[a] * q_t[a]
    return r + gamma * total


@njit(cache=True, inline="always")
def double_q_target_t(r: float, gamma: float, done: bool, q_select_t, q_eval_t, legal_t, st):
    """Double Q-learning: one table picks the best next action, the other values it
    (and the generator's new state: ties in the pick are broken at random)."""
    if done:
        return r, st
    best, st = argmax_random_t(q_select_t, legal_t, st)
    return r + gamma * q_eval_t[best], st


@njit(cache=True, inline="always")
def double_q_target(
    r: float, gamma: float, done: bool, q_select_t, q_eval_t, legal_t, rng
) -> float:
    """Double Q-learning: one table picks the best next action, the other values it."""
    target, st = double_q_target_t(r, gamma, done, q_select_t, q_eval_t, legal_t, load(rng))
    store(rng, st)
    return target


@njit(cache=True, inline="always")
def td0_target(r: float, gamma: float, done: bool, v_t: float) -> float:
    """TD(0) evaluation: r + gamma * V(s')."""
    if done:
        return r
    return r + gamma * v_t


@njit(cache=True, inline="always")
def td_update(value: float, target: float, alpha: float) -> float:
    """Move ``value`` a fraction ``alpha`` of the way to ``target``."""
    return value + alpha * (target - value)


@njit(cache=True, inline="always")
def trace_bump(trace: float, replacing: bool) -> float:
    """The trace of the entry just visited: one more (accumulating) or one (replacing)."""
    return 1.0 if replacing else trace + 1.0


@njit(cache=True, inline="always")
def traced_update(value: float, td_error: float, trace: float, alpha: float) -> float:
    """Move ``value`` by alpha * TD error * its trace. With trace 1 this is
    :func:`td_update` to the same bit (``td_error`` = target - value), so lambda 0 is
    the one-step learner exactly."""
    return value + alpha * (td_error * trace)


@njit(cache=True, inline="always")
def trace_decay(trace: float, decay: float) -> float:
    """The trace one step later: times gamma * lambda (``decay``), and 0 once below
    :data:`TRACE_FLOOR`."""
    trace = trace * decay
    return trace if trace >= TRACE_FLOOR else 0.0


@njit(cache=True, inline="always")
def exploratory(q_row, legal_row, a: int) -> bool:
    """Whether ``a`` is not greedy in this row: Watkins's Q(lambda) then cuts every trace,
    since what follows no longer tells about the greedy policy it learns."""
    return q_row[a] < max_legal(q_row, legal_row)
