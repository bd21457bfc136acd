"""An explicit-state random generator for the compiled learners (xoshiro256**).

A run's randomness is a visible key: same seed, same numbers, on any thread and in any
batch. The state comes in two forms with the same stream of numbers:

- a (4,) uint64 array, updated in place (``uniform(state)``), for callers that keep
  the state between calls (a Gymnasium environment, a run between chunks);
- a tuple of four uint64 *values*, threaded through the hot loop
  (``u, st = uniform_t(st)``). Held in registers, it ran the tabular loop about three
  times faster than the array, whose every draw was a store the compiler could not
  keep apart from the table's (see bench/tabular_throughput.py).

xoshiro256** is Blackman and Vigna's generator (https://prng.di.unimi.it/), seeded
through splitmix64 as its authors recommend.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True)
def seed_state(seed: int) -> np.ndarray:
    """A fresh generator state from an integer seed (splitmix64 expansion)."""
    state = np.empty(4, dtype=np.uint64)
    z = uint64(seed)
    for i in range(4):
        z = z + uint64(0x9E3779B97F4A7C15)
        x = z
        x = (x ^ (x >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> uint64(27))) * uint64(0x94D049BB133111EB)
        state[i] = x ^ (x >> uint64(31))
    return state


# ---- the state as a tuple of values: (draw, new state) ----


@njit(cache=True, inline="always")
def next_u64_t(st):
    """The next 64 random bits and the advanced state."""
    s0, s1, s2, s3 = st
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, (s0, s1, s2, s3)


@njit(cache=True, inline="always")
def uniform_t(st):
    """A float in [0, 1) with 53 random bits, and the advanced state."""
    bits, st = next_u64_t(st)
    return float(bits >> uint64(11)) * _INV_2_53, st


@njit(cache=True, inline="always")
def below_t(st, n: int):
    """A uniform integer in [0, n), and the advanced state."""
    u, st = uniform_t(st)
    return min(int(u * n), n - 1), st


@njit(cache=True, inline="always")
def normal_t(st):
    """A standard normal draw (Box-Muller), and the advanced state."""
    u1, st = uniform_t(st)
    u2, st = uniform_t(st)
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2), st  # 1 - u1 > 0


@njit(cache=True, inline="always")
def load(state):
    """The array state as a tuple of values."""
    return (state[0], state[1], state[2], state[3])


@njit(cache=True, inline="always")
def store(state, st) -> None:
    """Write a tuple state back into the array."""
    state[0], state[1], state[2], state[3] = st


# ---- the state as an array, advanced in place (same numbers) ----


@njit(cache=True, inline="always")
def uniform(state) -> float:
    """A float in [0, 1) with 53 random bits."""
    u, st = uniform_t(load(state))
    store(state, st)
    return u


@njit(cache=True, inline="always")
def below(state, n: int) -> int:
    """A uniform integer in [0, n)."""
    k, st = below_t(load(state), n)
    store(state, st)
    return k


@njit(cache=True, inline="always")
def normal(state) -> float:
    """A standard normal draw (Box-Muller)."""
    z, st = normal_t(load(state))
    store(state, st)
    return z
