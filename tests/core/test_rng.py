"""The explicit-state generator: reproducible, and uniform/normal as advertised."""

import numpy as np
from numba import njit

from qlearn.core.rng import below, normal, seed_state, uniform


@njit
def draws(seed, n):
    state = seed_state(seed)
    u = np.empty(n)
    z = np.empty(n)
    k = np.empty(n, dtype=np.int64)
    for i in range(n):
        u[i] = uniform(state)
        z[i] = normal(state)
        k[i] = below(state, 3)
    return u, z, k


def test_same_seed_same_stream_and_different_seeds_differ():
    a, b, c = draws(7, 1000), draws(7, 1000), draws(8, 1000)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_distributions_have_the_right_moments():
    n = 200_000
    u, z, k = draws(1, n)
    assert u.min() >= 0.0 and u.max() < 1.0
    # Tolerances are five standard errors of each estimate.
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / n)
    counts = np.bincount(k, minlength=3) / n
    assert np.all(np.abs(counts - 1 / 3) < 5 * np.sqrt(2 / 9 / n))
