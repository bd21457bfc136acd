"""Multi-step targets with lambda: Peng's Q(lambda) and Retrace(lambda), per sequence.

A stored sequence from ``(s_0, a_0)`` has, for each step k < n that the return uses,
the reward ``r_k``, the discount ``d_k`` (gamma, or 0 where the episode terminated) and
what the target network says of the next state ``s_{k+1}``: the value of the target
policy there ``v_k`` (greedy: the max), and for Retrace the value ``q_k`` of the action
the behaviour policy took next, ``a_{k+1}``, with its trace ``c_k = lambda min(1,
pi(a_{k+1}|s_{k+1}) / mu(a_{k+1}|s_{k+1}))``. ``more_k`` says step k+1 is part of the
sequence (same episode, already stored, within n). Both targets are computed backwards:

- Peng: ``G_k = r_k + d_k [(1 - lambda) v_k + lambda G_{k+1}]`` (``v_k`` alone at the end);
- Retrace: ``G_k = r_k + d_k [v_k + c_k (G_{k+1} - q_k)]`` (Munos et al., 2016).

With n = 1 both are the one-step target; Retrace with a greedy target policy cuts the
return at the first exploratory action (Watkins), so its target is Q*'s own fixed point.
PQN's Q(lambda) returns are Peng's over a rollout (:func:`peng_returns`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def peng_target(r, d, v, more, lam) -> jax.Array:
    """Peng's Q(lambda) target of one sequence, arrays (n,) -> ()."""
    g = jnp.zeros((), r.dtype)
    for k in reversed(range(r.shape[0])):  # n is static and small: unrolled
        mix = jnp.where(more[k], lam, 0.0)
        g = r[k] + d[k] * ((1.0 - mix) * v[k] + mix * g)
    return g


def retrace_target(r, d, v, q, c, more) -> jax.Array:
    """Retrace(lambda) target of one sequence, arrays (n,) -> ()."""
    g = jnp.zeros((), r.dtype)
    for k in reversed(range(r.shape[0])):
        correction = jnp.where(more[k], c[k] * (g - q[k]), 0.0)
        g = r[k] + d[k] * (v[k] + correction)
    return g


def peng_returns(reward, discount, next_value, more, lam) -> jax.Array:
    """Q(lambda) returns along a rollout, arrays (T, ...), computed with ``lax.scan``
    backwards: ``G_t = r_t + d_t [(1 - lambda) v_t + lambda G_{t+1}]`` where ``more_t``
    (the next step of the rollout continues the same episode), else ``r_t + d_t v_t``;
    ``d_t`` is 0 where the episode terminated, ``v_t`` the value of the real next
    observation (so an episode cut by a time limit still bootstraps)."""

    def back(g_next, xs):
        r, d, v, m = xs
        mix = jnp.where(m, lam, 0.0)
        g = r + d * ((1.0 - mix) * v + mix * g_next)
        return g, g

    _, g = jax.lax.scan(back, jnp.zeros_like(reward[0]), (reward, discount, next_value, more),
                        reverse=True)  # fmt: skip
    return g
