"""Distributional targets and losses as pure functions of one transition (rlax style).

C51 (Bellemare et al., 2017) keeps, per action, probabilities on fixed atoms ``z``; its
target is the next state's distribution shifted by the reward and shrunk by the
discount, projected back onto ``z`` (:func:`categorical_projection`), and learnt by
cross-entropy. QR-DQN (Dabney et al., 2018) keeps ``N`` quantiles at the midpoints
``(2i + 1) / 2N`` and learns them with the quantile Huber loss
(:func:`quantile_huber_loss`). Each function takes one sample; callers batch with
``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def categorical_projection(z_p: jax.Array, probs: jax.Array, z_q: jax.Array) -> jax.Array:
    """The distribution with mass ``probs`` on atoms ``z_p`` (N,), moved onto the sorted
    support ``z_q`` (M,): each atom, first clipped into [z_q[0], z_q[-1]], splits its mass
    between the two neighbouring atoms of ``z_q`` in proportion to its closeness (the
    Cramer-distance projection of Rowland et al., 2018). Returns (M,) probabilities."""
    z = jnp.clip(z_p, z_q[0], z_q[-1])  # (N,)
    gap_up = jnp.concatenate([z_q[1:] - z_q[:-1], jnp.ones(1)])  # (M,) to the next atom
    gap_down = jnp.concatenate([jnp.ones(1), z_q[1:] - z_q[:-1]])  # (M,) to the previous
    offset = z[None, :] - z_q[:, None]  # (M, N): where each source atom sits from z_q[i]
    gap = jnp.where(offset >= 0, gap_up[:, None], gap_down[:, None])
    share = jnp.clip(1.0 - jnp.abs(offset) / gap, 0.0, 1.0)  # (M, N)
    return share @ probs


def categorical_td_target(
    r_t: jax.Array, discount_t: jax.Array, z: jax.Array, probs_t: jax.Array
) -> jax.Array:
    """C51's target for one transition: ``r + discount * z`` with the next state's
    probabilities ``probs_t`` (N,), projected onto ``z`` (discount 0: all mass on r)."""
    return categorical_projection(r_t + discount_t * z, probs_t, z)


def categorical_loss(logits_tm1: jax.Array, target_probs: jax.Array) -> jax.Array:
    """Cross-entropy of the learnt logits (N,) against the target distribution (N,)."""
    return -jnp.sum(jax.lax.stop_gradient(target_probs) * jax.nn.log_softmax(logits_tm1))


def quantile_midpoints(n: int) -> jax.Array:
    """The quantile fractions QR-DQN learns: ``(2i + 1) / 2n`` for i < n."""
    return (2 * jnp.arange(n) + 1) / (2.0 * n)


def quantile_huber_loss(
    dist_tm1: jax.Array, tau_tm1: jax.Array, dist_t: jax.Array, kappa: float = 1.0
) -> jax.Array:
    """The quantile regression loss of the learnt quantiles ``dist_tm1`` (N,) at fractions
    ``tau_tm1`` (N,) against target samples ``dist_t`` (M,): summed over i, averaged over
    j, of ``|tau_i - 1{u_ij < 0}| * huber_kappa(u_ij) / kappa`` with ``u_ij = t_j - q_i``
    (kappa 0: the plain quantile loss)."""
    u = jax.lax.stop_gradient(dist_t)[None, :] - dist_tm1[:, None]  # (N, M)
    if kappa > 0:
        penalty = optax.huber_loss(u, delta=kappa) / kappa
    else:
        penalty = jnp.abs(u)
    weight = jnp.abs(tau_tm1[:, None] - (u < 0).astype(u.dtype))
    return jnp.sum(jnp.mean(weight * penalty, axis=1))


def expected_value(head: str, out: jax.Array, support: jax.Array | None) -> jax.Array:
    """Q values (..., A) from a head's output: itself (value head), the mean of the
    categorical distribution (c51: logits (..., A, N) on ``support``), or the mean of
    the quantiles (qr)."""
    if head == "c51":
        return jnp.sum(jax.nn.softmax(out, axis=-1) * support, axis=-1)
    if head == "qr":
        return out.mean(axis=-1)
    return out
