"""The losses, one pure function per method, over a batch of logged walks.

Shapes: ``tokens`` (B, M), the prompt (``P = size.prompt`` tokens) first; position ``t``
of the model's output reads the prefix ``tokens[:, :t+1]`` and scores the action
``tokens[:, t+1]``, so actions are ``tokens[:, 1:]`` (B, M-1) and the action at ``t``
exists when ``P - 1 <= t < length - 1``.
The walk's reward arrives with its last action (``t = length - 2``); the state after it
is terminal.

ILQL follows trlx's ``ILQLConfig.loss`` (Snell et al. 2022): for each Q head
``(Q_i(s_t, a_t) - r_t - gamma V(s_{t+1}))^2``; V by expectile regression (``tau``) to
the min of the two Polyak target heads; CQL as the cross-entropy of each Q head's row
against the taken token; and AWAC as the LM head's cross-entropy weighted by
``exp(awac_beta (Q_target - V))`` (trlx's default ``beta = 0``: plain behaviour cloning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from qlearn.text.transformer import ModelSize, hidden_states, lm_logits, q_values, state_value


@dataclass(frozen=True)
class IlqlSettings:
    """ILQL's coefficients (defaults: trlx's randomwalks example)."""

    tau: float = 0.8
    """Expectile of V against the target Q (0.5: the mean; towards 1: the max)."""
    gamma: float = 0.99
    """Discount per token."""
    cql_scale: float = 0.1
    """Weight of the CQL term (cross-entropy of the Q rows)."""
    awac_scale: float = 1.0
    """Weight of the AWAC (weighted behaviour-cloning) term of the LM head."""
    awac_beta: float = 0.0
    """Inverse temperature of the AWAC weights (0: plain behaviour cloning, as trlx)."""
    polyak: float = 0.1
    """Target heads move this far towards the Q heads ..."""
    target_every: int = 5
    """... every this many gradient steps."""


class Batch(NamedTuple):
    tokens: jax.Array  # (B, M) int32
    lengths: jax.Array  # (B,) int32
    rewards: jax.Array  # (B,) float32: ILQL's normalised rewards, else the raw scores
    weights: jax.Array  # (B,) float32: 1, or 0 for walks filtered out


def action_masks(batch: Batch, prompt: int = 1) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(B, M-1) each: the action exists (it comes after the ``prompt`` tokens and before
    the walk's end), it is the last one, the next state goes on."""
    t = jnp.arange(batch.tokens.shape[1] - 1)[None, :]
    last = batch.lengths[:, None] - 2
    return (t <= last) & (t >= prompt - 1), t == last, t < last


def masked_mean(x: jax.Array, mask: jax.Array) -> jax.Array:
    return jnp.sum(x * mask) / jnp.maximum(jnp.sum(mask), 1.0)


def token_cross_entropy(logits: jax.Array, actions: jax.Array) -> jax.Array:
    """(B, T) cross-entropy of each row of ``logits`` (B, T, V) against ``actions``."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, actions)


def bc_loss(size: ModelSize, params: dict, batch: Batch) -> jax.Array:
    """Behaviour cloning: the LM head's cross-entropy on the logged actions (weighted per
    walk: filtered BC keeps the best walks only)."""
    exists, _, _ = action_masks(batch, size.prompt)
    logits = lm_logits(size, params, hidden_states(size, params, batch.tokens))[:, :-1]
    ce = token_cross_entropy(logits, batch.tokens[:, 1:])
    return masked_mean(ce, exists * batch.weights[:, None])


def expectile(diff: jax.Array, tau: float) -> jax.Array:
    """tau-weighted squared error: ``tau d^2`` above, ``(1 - tau) d^2`` below."""
    return jnp.where(diff >= 0, tau, 1.0 - tau) * diff**2


def ilql_loss(size: ModelSize, hp: IlqlSettings, params: dict, target: dict,
              batch: Batch) -> tuple[jax.Array, dict]:  # fmt: skip
    """ILQL's loss and its parts (``target``: the two Polyak heads ``q1``, ``q2``)."""
    exists, last, goes_on = action_masks(batch, size.prompt)
    exists = exists.astype(jnp.float32)
    actions = batch.tokens[:, 1:]
    hidden = hidden_states(size, params, batch.tokens)  # (B, M, W)
    pick = lambda q: jnp.take_along_axis(q[:, :-1], actions[..., None], -1)[..., 0]  # noqa: E731
    qs = [q_values(size, params[h], hidden) for h in ("q1", "q2")]  # (B, M, V) each
    held = jax.lax.stop_gradient(hidden)
    target_q = jnp.minimum(*(pick(q_values(size, target[h], held)) for h in ("q1", "q2")))
    v = state_value(params, hidden)  # (B, M)
    v_now, v_next = v[:, :-1], v[:, 1:] * goes_on
    rewards = batch.rewards[:, None] * last
    backup = rewards + hp.gamma * jax.lax.stop_gradient(v_next)
    loss_q = sum(masked_mean((pick(q) - backup) ** 2, exists) for q in qs)
    loss_v = masked_mean(expectile(target_q - v_now, hp.tau), exists)
    loss_cql = sum(masked_mean(token_cross_entropy(q[:, :-1], actions), exists) for q in qs)
    logits = lm_logits(size, params, hidden)[:, :-1]
    weight = jnp.exp(hp.awac_beta * jax.lax.stop_gradient(target_q - v_now))
    loss_awac = masked_mean(token_cross_entropy(logits, actions) * weight, exists)
    total = loss_q + loss_v + hp.cql_scale * loss_cql + hp.awac_scale * loss_awac
    return total, {"q": loss_q, "v": loss_v, "cql": loss_cql, "awac": loss_awac}


def value_loss(size: ModelSize, params: dict, batch: Batch) -> jax.Array:
    """The prefix value model: head ``q1`` at position t, read at token z, regresses
    V([prefix, z]) on the walk's outcome (squared error, every prefix of every walk);
    head ``q2`` there is the logit of P(success | [prefix, z]) (cross-entropy)."""
    exists, _, _ = action_masks(batch, size.prompt)
    actions = batch.tokens[:, 1:]
    hidden = hidden_states(size, params, batch.tokens)
    pick = lambda q: jnp.take_along_axis(q[:, :-1], actions[..., None], -1)[..., 0]  # noqa: E731
    value = pick(q_values(size, params["q1"], hidden))
    logit = pick(q_values(size, params["q2"], hidden))
    outcome = batch.rewards[:, None]
    success = (outcome > 0).astype(jnp.float32)
    mse = masked_mean((value - outcome) ** 2, exists)
    bce = masked_mean(optax.sigmoid_binary_cross_entropy(logit, success), exists)
    return mse + bce
