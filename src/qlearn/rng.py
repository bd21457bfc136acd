"""An explicit-state random generator for the compiled learners (xoshiro256**).

The state is a (4,) uint64 array that the loop threads through every random choice,
so a run's randomness is a visible key: same seed, same numbers, on any thread and in
any batch. Numba's own ``np.random`` keeps hidden per-thread state behind a lookup on
every draw; the hot loop draws two or three numbers per step, and the explicit state
made it markedly faster (see bench/tabular_throughput.py).

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


@njit(cache=True, inline="always")
def next_u64(state) -> int:
    """The next 64 random bits; advances ``state`` in place."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * uint64(5), 7) * uint64(9)
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def uniform(state) -> float:
    """A float in [0, 1) with 53 random bits."""
    return float(next_u64(state) >> uint64(11)) * _INV_2_53


@njit(cache=True, inline="always")
def below(state, n: int) -> int:
    """A uniform integer in [0, n)."""
    return min(int(uniform(state) * n), n - 1)


@njit(cache=True, inline="always")
def normal(state) -> float:
    """A standard normal draw (Box-Muller)."""
    u1 = 1.0 - uniform(state)  # in (0, 1], safe for log
    u2 = uniform(state)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
