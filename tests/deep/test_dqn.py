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
from qlearn.deep.networks import draw_layer_noise

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


def _rainbow_round_inputs(gradient_steps=4, **options):
    """A Rainbow DQN (or the configuration ``options`` give) for CartPole's shapes, its
    learner and a filled, prioritized buffer."""
    from qlearn.deep import replay as rb
    from qlearn.deep.chunks import make_dqn
    from qlearn.deep.train import resolve_config

    cfg = resolve_config({"world": "CartPole-v1", **(options or {"rainbow": True})})
    dqn = make_dqn(cfg, 2, "mlp", False, 100)
    ks = jax.random.split(jax.random.PRNGKey(0), 6)
    rows = 500
    buf = rb.init(rows, 1, (4,), jnp.float32, 2)._replace(
        obs=jax.random.normal(ks[0], (rows, 1, 4)),
        next_obs=jax.random.normal(ks[1], (rows, 1, 4)),
        action=jax.random.randint(ks[2], (rows, 1), 0, 2),
        reward=jnp.ones((rows, 1)),
        next_mask=jnp.ones((rows, 1, 2), bool),
        priority=jax.random.uniform(ks[3], (rows, 1)) + 0.1,
        written=jnp.int32(rows),
    )
    learner = dqn.init(ks[4], buf.obs[0, 0])
    return dqn, learner, buf, jax.random.split(ks[5], gradient_steps)


def test_layer_noise_is_one_draw_per_network_call_whatever_order_the_parameters_come_in():
    dqn, learner, buf, keys = _rainbow_round_inputs()
    obs = buf.obs[:8, 0]
    drawn = draw_layer_noise(learner.online, keys[0])
    layers = learner.online["params"]
    assert set(drawn) == set(layers)  # every dense layer of the Rainbow network is noisy
    for name, layer_noise in drawn.items():
        eps_in, eps_out = layer_noise["eps"]
        assert (eps_in.shape + eps_out.shape) == layers[name]["mu_kernel"].shape
    reordered = {"params": dict(reversed(list(layers.items())))}
    again = draw_layer_noise(reordered, keys[0])
    other = draw_layer_noise(learner.online, keys[1])
    for a, b, c in zip(*(jax.tree.leaves(d) for d in (drawn, again, other)), strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    np.testing.assert_array_equal(
        dqn.outputs(learner.online, obs, drawn), dqn.outputs(learner.online, obs, keys[0])
    )
    silent = jax.tree.map(jnp.zeros_like, drawn)  # no noise: the mean weights
    np.testing.assert_allclose(
        dqn.outputs(learner.online, obs, silent), dqn.outputs(learner.online, obs), atol=1e-6
    )


@pytest.mark.parametrize("double", [True, False])
def test_a_noisy_round_without_per_learns_bit_for_bit_what_drawing_in_place_learns(double):
    # drawing a round's noise ahead is only a speed-up where XLA rounds the noisy weights
    # as it does drawing them inside each update; else runs would change their numbers
    options = {"noisy": True, "n_step": 3, "double": double}
    dqn, learner, buf, keys = _rainbow_round_inputs(8, **options)
    assert not dqn.per

    def in_place(learner, replay, keys):
        def one(learner, k):
            learner, _, stats, _ = dqn.update_with_tree(learner, replay, k, 1.0)
            return learner, stats

        return jax.lax.scan(one, learner, keys)[0]

    ahead, _, _ = jax.jit(dqn._updates_in_turn)(learner, buf, keys, 1.0)
    drawn_in_place = jax.jit(in_place)(learner, buf, keys)
    for a, b in zip(jax.tree.leaves(ahead), jax.tree.leaves(drawn_in_place), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_round_of_acting_with_noise_drawn_ahead_acts_as_drawing_step_by_step():
    from qlearn.deep.functional_envs import gymnax_env
    from qlearn.deep.train import resolve_config
    from qlearn.deep.trainers import make_trainer

    cfg = resolve_config({"world": "CartPole-v1", "noisy": True, "train_freq": 16})
    trainer = make_trainer(cfg, gymnax_env("CartPole-v1"))
    start = jax.jit(trainer.init)(jnp.int32(3))
    noise = jax.jit(trainer.collection_noise)(start)
    step = jax.jit(trainer.vector_step)
    ahead = in_place = start
    for j in range(cfg.train_freq):
        ahead, _ = step(ahead, jnp.float32(0.0), jax.tree.map(lambda x, j=j: x[j], noise))
        in_place, _ = step(in_place, jnp.float32(0.0))
    assert int(ahead.replay.written) == cfg.train_freq
    for a, b in zip(jax.tree.leaves(ahead), jax.tree.leaves(in_place), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_prioritized_round_learns_what_its_updates_one_by_one_learn():
    # the round keeps one sum tree and draws the noise ahead; update() builds the tree
    # afresh and draws in place: the same batches and steps, up to rounding
    dqn, learner, buf, keys = _rainbow_round_inputs()
    round_learner, round_buf, _ = jax.jit(dqn._updates_in_turn)(learner, buf, keys, 0.5)
    step = jax.jit(dqn.update)
    for k in keys:
        learner, buf, _ = step(learner, buf, k, 0.5)
    for a, b in zip(jax.tree.leaves(round_learner), jax.tree.leaves(learner), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(round_buf.priority, buf.priority, rtol=1e-4)
