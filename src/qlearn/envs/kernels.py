"""A finite world's dynamics as compiled arrays: how every step is drawn.

The tabular training loop and the Gymnasium environment both draw starts and steps
through these functions with an explicit generator state (:mod:`qlearn.core.rng`), so the
same seed gives the same transitions in either.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from qlearn.core.rng import load, normal_t, store, uniform_t
from qlearn.mdp import FiniteMDP


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
    """The outcome lists of ``mdp`` ready for sampling: its successor lists with
    cumulative probabilities (the last used slot set to exactly 1 against rounding)."""
    count = (mdp.next_probs > 0).sum(axis=2)
    cum_prob = np.cumsum(mdp.next_probs, axis=2)
    slot = np.arange(mdp.n_successors)
    cum_prob[slot[None, None, :] >= np.maximum(count - 1, 0)[:, :, None]] = 1.0
    start_state = np.flatnonzero(mdp.start > 0).astype(np.int64)
    start_cum = np.cumsum(mdp.start[start_state])
    start_cum[-1] = 1.0
    return World(
        mdp.next_states.astype(np.int64),
        cum_prob,
        mdp.next_rewards,
        mdp.next_reward_std,
        count.astype(np.int64),
        start_state,
        start_cum,
        mdp.terminal.copy(),
        mdp.legal.copy(),
    )


@njit(cache=True, inline="always")
def pick_t(cum: np.ndarray, n: int, st):
    """Index of a sampled outcome given cumulative probabilities (no draw when certain),
    and the generator's new state (a tuple state, see :mod:`qlearn.core.rng`)."""
    if n == 1:
        return 0, st
    u, st = uniform_t(st)
    for k in range(n - 1):
        if u < cum[k]:
            return k, st
    return n - 1, st


@njit(cache=True, inline="always")
def transition_t(next_state, cum_prob, reward, reward_std, count, noisy, s, a, st):
    """Sample the landing state and reward of taking ``a`` in ``s``: (s', r, state)."""
    k, st = pick_t(cum_prob[s, a], count[s, a], st)
    r = reward[s, a, k]
    if noisy and reward_std[s, a, k] > 0.0:
        z, st = normal_t(st)
        r += reward_std[s, a, k] * z
    return next_state[s, a, k], r, st


@njit(cache=True)
def sample_start(world, rng) -> int:
    """A first state, drawn as the training loop draws it (advances ``rng`` in place)."""
    k, st = pick_t(world.start_cum, world.start_cum.shape[0], load(rng))
    store(rng, st)
    return world.start_state[k]


@njit(cache=True)
def sample_step(world, s, a, rng):
    """``(next state, reward)`` of one step, drawn exactly as the training loop draws it."""
    noisy = world.reward_std.max() > 0.0
    s2, r, st = transition_t(
        world.next_state, world.cum_prob, world.reward, world.reward_std, world.count, noisy,
        s, a, load(rng),
    )  # fmt: skip
    store(rng, st)
    return s2, r
