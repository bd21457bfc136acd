"""DQN's targets, loss and action choice against numbers computed by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import qlearn.deep  # noqa: F401
from qlearn.deep.dqn import (
    bootstrap_value,
    elementwise_loss,
    epsilon_greedy,
    masked_argmax,
    td_target,
)

Q_TARGET = jnp.array([[1.0, 5.0, 3.0], [2.0, 0.0, 9.0]])
Q_ONLINE = jnp.array([[0.0, 1.0, 4.0], [7.0, 0.0, 1.0]])
ALL = jnp.ones((2, 3), bool)


@pytest.mark.parametrize("jit", [False, True])
def test_dqn_bootstraps_from_the_target_networks_max(jit):
    f = jax.jit(bootstrap_value, static_argnums=3) if jit else bootstrap_value
    np.testing.assert_allclose(f(Q_TARGET, Q_ONLINE, ALL, False), [5.0, 9.0])


@pytest.mark.parametrize("jit", [False, True])
def test_double_dqn_values_the_online_choice_with_the_target_network(jit):
    f = jax.jit(bootstrap_value, static_argnums=3) if jit else bootstrap_value
    # online picks action 2 and action 0; the target network values them 3 and 2
    np.testing.assert_allclose(f(Q_TARGET, Q_ONLINE, ALL, True), [3.0, 2.0])


def test_masked_actions_never_enter_the_max_or_the_argmax():
    mask = jnp.array([[True, False, True], [False, True, True]])
    np.testing.assert_allclose(bootstrap_value(Q_TARGET, Q_ONLINE, mask, False), [3.0, 9.0])
    # double: online's best legal actions are 2 and 2
    np.testing.assert_allclose(bootstrap_value(Q_TARGET, Q_ONLINE, mask, True), [3.0, 9.0])
    np.testing.assert_array_equal(masked_argmax(Q_ONLINE, mask), [2, 2])


def test_td_target_with_and_without_termination():
    y = td_target(jnp.array([1.0, 1.0]), jnp.array([0.9, 0.0]), jnp.array([2.0, jnp.inf]))
    np.testing.assert_allclose(y, [1.0 + 0.9 * 2.0, 1.0])  # a terminal never reads V(s')


def test_huber_is_quadratic_near_zero_and_linear_beyond_one():
    pred = jnp.array([0.5, 3.0])
    np.testing.assert_allclose(elementwise_loss(pred, jnp.zeros(2), "huber"), [0.125, 2.5])
    np.testing.assert_allclose(elementwise_loss(pred, jnp.zeros(2), "mse"), [0.125, 4.5])


def test_epsilon_greedy_never_picks_a_masked_action():
    q = jnp.tile(jnp.array([[9.0, 1.0, 2.0, 3.0]]), (4000, 1))
    mask = jnp.tile(jnp.array([[False, True, True, False]]), (4000, 1))
    actions = np.asarray(epsilon_greedy(q, mask, jax.random.PRNGKey(0), 1.0))
    assert set(actions.tolist()) == {1, 2}
    assert np.mean(actions == 1) == pytest.approx(0.5, abs=0.03)
    greedy = np.asarray(epsilon_greedy(q, mask, jax.random.PRNGKey(1), 0.0))
    assert set(greedy.tolist()) == {2}
    some = np.asarray(epsilon_greedy(q, mask, jax.random.PRNGKey(2), 0.2))
    assert np.mean(some == 1) == pytest.approx(0.1, abs=0.02)  # half of the 20% explored
