"""A finite world's dynamics as compiled arrays: how every step is drawn.

The tabular training loop and the Gymnasium environment both draw starts and steps
through these functions with an explicit generator state (:mod:`qlearn.rng`), so the
same seed gives the same transitions in either.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from qlearn.mdp import FiniteMDP
from qlearn.rng import normal, uniform


class World(NamedTuple):
    """A finite MDP's dynamics as short per-(s, a) outcome lists, for fast sampling."""

    next_state: np.ndarray  # (S, A, K) int64
    cum_prob: np.ndarray  # (S, A, K) cumulative probabilities
    reward: np.ndarray  # (S, A, K) mean reward
    reward_std: np.ndarray  # (S, A, K)
    count: np.ndarray  # (S, A) how many of the K slots are used
    start_state: np.ndarray  # (M,) possible first states
    start_cum: np.ndarray  # (M,) their cumulative probabilities
    terminal: np.ndarray  # (S,) bool
    legal: np.ndarray  # (S, A) bool


def world_arrays(mdp: FiniteMDP) -> World:
    """The outcome lists of ``mdp`` (K = most successors of any (s, a))."""
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
    return World(
        next_state,
        cum_prob,
        reward,
        reward_std,
        count.astype(np.int64),
        start_state,
        start_cum,
        mdp.terminal.copy(),
        mdp.legal.copy(),
    )


@njit(cache=True, inline="always")
def pick(cum: np.ndarray, n: int, rng: np.ndarray) -> int:
    """Index of a sampled outcome given cumulative probabilities (no draw when certain)."""
    if n == 1:
        return 0
    u = uniform(rng)
    for k in range(n - 1):
        if u < cum[k]:
            return k
    return n - 1


@njit(cache=True, inline="always")
def transition(next_state, cum_prob, reward, reward_std, count, noisy, s, a, rng):
    """Sample the landing state and reward of taking ``a`` in ``s``."""
    k = pick(cum_prob[s, a], count[s, a], rng)
    r = reward[s, a, k]
    if noisy and reward_std[s, a, k] > 0.0:
        r += reward_std[s, a, k] * normal(rng)
    return next_state[s, a, k], r


@njit(cache=True)
def sample_start(world, rng) -> int:
    """A first state, drawn as the training loop draws it (advances ``rng``)."""
    return world.start_state[pick(world.start_cum, world.start_cum.shape[0], rng)]


@njit(cache=True)
def sample_step(world, s, a, rng):
    """``(next state, reward)`` of one step, drawn exactly as the training loop draws it."""
    noisy = world.reward_std.max() > 0.0
    return transition(
        world.next_state, world.cum_prob, world.reward, world.reward_std, world.count, noisy,
        s, a, rng,
    )  # fmt: skip
