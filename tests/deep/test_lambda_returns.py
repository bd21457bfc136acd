"""Peng's Q(lambda) and Retrace(lambda) targets against sums written out by hand."""

import jax
import jax.numpy as jnp
import numpy as np

from qlearn.deep.lambda_returns import peng_returns, peng_target, retrace_target

R = jnp.array([1.0, 2.0, 3.0])
D = jnp.array([0.9, 0.9, 0.9])
V = jnp.array([10.0, 20.0, 30.0])  # target values of s_1, s_2, s_3
MORE = jnp.array([True, True, False])


def test_peng_with_lambda_0_is_the_one_step_target_and_with_1_the_n_step_return():
    assert np.isclose(peng_target(R, D, V, MORE, 0.0), 1 + 0.9 * 10)
    n_step = 1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 30
    assert np.isclose(peng_target(R, D, V, MORE, 1.0), n_step)


def test_peng_with_lambda_half_mixes_the_returns_as_written_out():
    g2 = 3 + 0.9 * 30
    g1 = 2 + 0.9 * (0.5 * 20 + 0.5 * g2)
    g0 = 1 + 0.9 * (0.5 * 10 + 0.5 * g1)
    assert np.isclose(jax.jit(peng_target)(R, D, V, MORE, 0.5), g0)


def test_retrace_cuts_at_an_exploratory_action_and_is_n_step_on_greedy_ones():
    # greedy next actions: their values are the greedy values, and the traces are 1
    greedy = jnp.array([1.0, 1.0, 1.0])
    n_step = 1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 30
    assert np.isclose(retrace_target(R, D, V, V, greedy, MORE), n_step)
    q = jnp.array([11.0, 19.0, 0.0])  # Q(s_1, a_1), Q(s_2, a_2) of other actions
    # a_1 exploratory (trace 0): the target stops at s_1's greedy value
    cut = jnp.array([0.0, 1.0, 1.0])
    assert np.isclose(jax.jit(retrace_target)(R, D, V, q, cut, MORE), 1 + 0.9 * 10)
    # trace 0.5 on a_1: G_0 = r_0 + d (v_0 + 0.5 (G_1 - q_0)), G_1 = 2 + 0.9 (20 + G_2 - 19)
    g2 = 3 + 0.9 * 30
    g1 = 2 + 0.9 * (20 + 1.0 * (g2 - 19))
    g0 = 1 + 0.9 * (10 + 0.5 * (g1 - 11))
    half = jnp.array([0.5, 1.0, 1.0])
    assert np.isclose(retrace_target(R, D, V, q, half, MORE), g0)


def test_a_terminated_step_bootstraps_nothing():
    d = jnp.array([0.9, 0.0, 0.9])
    assert np.isclose(peng_target(R, d, V, MORE, 1.0), 1 + 0.9 * 2)


def test_pqn_returns_along_a_rollout_restart_at_episode_ends():
    reward = jnp.array([1.0, 1.0, 1.0, 1.0])
    discount = jnp.array([0.5, 0.0, 0.5, 0.5])  # the episode terminates at step 1
    value = jnp.array([4.0, 4.0, 4.0, 8.0])
    more = jnp.array([True, False, True, False])  # the rollout ends after step 3
    g = peng_returns(reward, discount, value, more, 1.0)
    np.testing.assert_allclose(g, [1 + 0.5 * 1, 1, 1 + 0.5 * (1 + 0.5 * 8), 1 + 0.5 * 8])
