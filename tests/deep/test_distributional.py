"""C51's projection and QR-DQN's quantile Huber loss against arrays computed by hand,
with and without jit (rlax style), and the heads wired into the DQN loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qlearn.deep.distributional import (
    categorical_loss,
    categorical_projection,
    categorical_td_target,
    expected_value,
    quantile_huber_loss,
    quantile_midpoints,
)

Z = jnp.array([-1.0, 0.0, 1.0])  # the 3-atom support of every example below
PROBS = jnp.array([0.2, 0.5, 0.3])

both = pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])


def maybe_jit(fn, compiled):
    return jax.jit(fn) if compiled else fn


@both
def test_the_3_atom_target_shifted_half_way_splits_the_middle_atom_in_two(compiled):
    # r = 0.5, discount 0.5: atoms -1, 0, 1 move to 0, 0.5, 1. The 0.5 atom lies half
    # way between 0 and 1, so its 0.5 splits 0.25 / 0.25:
    #   z = -1: 0;  z = 0: 0.2 + 0.25 = 0.45;  z = 1: 0.25 + 0.3 = 0.55
    target = maybe_jit(categorical_td_target, compiled)(0.5, 0.5, Z, PROBS)
    np.testing.assert_allclose(target, [0.0, 0.45, 0.55], atol=1e-6)


@both
def test_mass_beyond_the_support_is_clipped_onto_its_ends(compiled):
    # r = 2, discount 1: atoms 1, 2, 3, all above v_max = 1
    target = maybe_jit(categorical_td_target, compiled)(2.0, 1.0, Z, PROBS)
    np.testing.assert_allclose(target, [0.0, 0.0, 1.0], atol=1e-6)
    target = maybe_jit(categorical_td_target, compiled)(-3.0, 1.0, Z, PROBS)
    np.testing.assert_allclose(target, [1.0, 0.0, 0.0], atol=1e-6)


@both
def test_a_terminal_transition_puts_all_mass_on_the_reward(compiled):
    # discount 0: every atom sits at r = -0.25, a quarter of the way from 0 to -1
    target = maybe_jit(categorical_td_target, compiled)(-0.25, 0.0, Z, PROBS)
    np.testing.assert_allclose(target, [0.25, 0.75, 0.0], atol=1e-6)


@both
def test_the_projection_keeps_the_mean_inside_the_support(compiled):
    z_p = jnp.array([-0.7, 0.1, 0.35, 0.9])
    p = jnp.array([0.1, 0.4, 0.3, 0.2])
    out = maybe_jit(categorical_projection, compiled)(z_p, p, Z)
    np.testing.assert_allclose(out.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(out @ Z, p @ z_p, atol=1e-6)
    # and onto an uneven support: 0.5 lies a third of the way from 0 to 1.5
    uneven = jnp.array([-1.0, 0.0, 1.5])
    out = maybe_jit(categorical_projection, compiled)(jnp.array([0.5]), jnp.array([1.0]), uneven)
    np.testing.assert_allclose(out, [0.0, 2 / 3, 1 / 3], atol=1e-6)


@both
def test_the_cross_entropy_of_the_3_atom_example(compiled):
    logits = jnp.log(PROBS)  # the learnt distribution is PROBS itself
    target = jnp.array([0.0, 0.45, 0.55])
    loss = maybe_jit(categorical_loss, compiled)(logits, target)
    np.testing.assert_allclose(loss, -(0.45 * np.log(0.5) + 0.55 * np.log(0.3)), rtol=1e-6)


def test_quantile_midpoints():
    np.testing.assert_allclose(quantile_midpoints(3), [1 / 6, 1 / 2, 5 / 6])


@both
def test_the_quantile_huber_loss_of_three_quantiles_against_one_target(compiled):
    # quantiles 0, 1, 2 at tau 1/6, 1/2, 5/6; target 1: u = 1, 0, -1
    # huber: 0.5, 0, 0.5; weights |tau - 1{u<0}|: 1/6, 1/2, 1/6 -> 0.5/6 + 0 + 0.5/6
    loss = maybe_jit(quantile_huber_loss, compiled)(
        jnp.array([0.0, 1.0, 2.0]), quantile_midpoints(3), jnp.array([1.0])
    )
    np.testing.assert_allclose(loss, 1 / 6, rtol=1e-6)


@both
def test_the_huber_part_is_linear_beyond_kappa_and_targets_are_averaged(compiled):
    # one quantile 0 at tau 1/2, targets 3 and -1: huber 2.5 (linear) and 0.5,
    # weights 1/2 each, mean over the two targets: (1.25 + 0.25) / 2
    loss = maybe_jit(quantile_huber_loss, compiled)(
        jnp.array([0.0]), jnp.array([0.5]), jnp.array([3.0, -1.0])
    )
    np.testing.assert_allclose(loss, 0.75, rtol=1e-6)


def test_the_quantile_loss_is_minimised_at_the_target_quantiles():
    samples = jnp.array([0.0, 1.0, 2.0, 3.0, 10.0])
    taus = quantile_midpoints(5)
    grad = jax.grad(lambda q: quantile_huber_loss(q, taus, samples, 0.0))
    # the 10th, 30th, ..., 90th percentiles of five samples are the samples themselves:
    # moving each quantile past its sample raises the loss, from either side
    assert (grad(samples + 0.5) > 0).all() and (grad(samples - 0.5) < 0).all()


def test_expected_values_of_each_head():
    logits = jnp.log(PROBS)[None, None, :]  # (B=1, A=1, N=3)
    np.testing.assert_allclose(expected_value("c51", logits, Z), [[0.1]], atol=1e-6)
    quantiles = jnp.array([[[0.0, 1.0, 5.0]]])
    np.testing.assert_allclose(expected_value("qr", quantiles, None), [[2.0]])
