"""Decoding: sampling walks from a trained network, steered or not by learned values.

Every decoder samples one token at a time from a distribution over the next token given
the prefix, ``log_softmax`` of:

- ``lm``: the LM head (behaviour cloning, filtered BC): ``log p(z)``;
- ``ilql``: ``log_softmax(lm) + beta (min(Q1_t, Q2_t) - V)`` with the Polyak target heads,
  then only the ``top_k`` best tokens kept (trlx's decoding);
- ``tokenwise``: value-guided (Controlled Decoding, Mudgal et al. 2024):
  ``log p_bc(z) + lambda V([prefix, z])``;
- ``qsharp``: Q#-style reweighting (Zhou et al. 2025): ``log p_bc(z) + log(P e^{1/eta} + 1
  - P)``, ``P`` the value model's P(success | [prefix, z]).

A walk stops at token 0 (graph-walk's goal; star-graph's padding) or at the length limit;
what comes after the stop is padding (token 0) and costs nothing. Decoding starts after
the prompt (``size.prompt`` tokens: graph-walk's start node, star-graph's graph, start
and goal). Blockwise value-guided decoding
and best-of-n are built from these samplers (see :mod:`qlearn.text.evaluation`).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from qlearn.text.graph_tasks import GOAL
from qlearn.text.transformer import (
    ModelSize,
    hidden_states,
    lm_logits,
    q_values,
    state_value,
)

KINDS = ("lm", "ilql", "tokenwise", "qsharp")


def _at(hidden: jax.Array, t: jax.Array) -> jax.Array:
    """(B, W) the hidden state at position ``t`` (traced) of (B, T, W)."""
    return jax.lax.dynamic_index_in_dim(hidden, t, axis=1, keepdims=False)


class Sampled(NamedTuple):
    tokens: jax.Array  # (B, M) the walks, padded with the goal after their stop
    done: jax.Array  # (B,) stopped at the goal
    logp: jax.Array  # (B,) log-probability of the sampled tokens under the sampler
    count: jax.Array  # (B,) tokens sampled


def next_token_logp(kind: str, size: ModelSize, params: dict, tokens: jax.Array,
                    knob: jax.Array, top_k: int, at: jax.Array) -> jax.Array:  # fmt: skip
    """(B, V) the sampler's log-probabilities of the next token after the prefix
    ``tokens[:, :at + 1]`` (what follows ``at`` in ``tokens`` is masked out causally).

    ``params`` holds the networks the kind reads (``policy`` and ``target`` for lm/ilql,
    ``bc`` and ``value`` for the value-guided kinds); ``knob`` is beta, lambda or eta."""
    if kind in ("lm", "ilql"):
        net = params["policy"]
        h = _at(hidden_states(size, net, tokens), at)
        logits = jax.nn.log_softmax(lm_logits(size, net, h))
        if kind == "ilql":
            tq = jnp.minimum(*(q_values(size, params["target"][k], h) for k in ("q1", "q2")))
            logits = logits + knob * (tq - state_value(net, h)[..., None])
            kth = jax.lax.top_k(logits, min(top_k, logits.shape[-1]))[0][..., -1:]
            logits = jnp.where(logits >= kth, logits, -jnp.inf)
        return jax.nn.log_softmax(logits)
    base = jax.nn.log_softmax(
        lm_logits(size, params["bc"], _at(hidden_states(size, params["bc"], tokens), at))
    )
    h = _at(hidden_states(size, params["value"], tokens), at)
    if kind == "tokenwise":
        return jax.nn.log_softmax(base + knob * q_values(size, params["value"]["q1"], h))
    p = jax.nn.sigmoid(q_values(size, params["value"]["q2"], h))
    return jax.nn.log_softmax(base + jnp.log(p * jnp.exp(1.0 / knob) + 1.0 - p))


@partial(jax.jit, static_argnames=("kind", "size", "count", "top_k"))
def sample_tokens(kind: str, size: ModelSize, params: dict, knob: jax.Array, tokens: jax.Array,
                  done: jax.Array, key: jax.Array, first: jax.Array, *, count: int,
                  top_k: int = 10) -> Sampled:  # fmt: skip
    """Write tokens ``first + 1 .. first + count`` of every unfinished row of ``tokens``
    (B, M), each drawn from ``next_token_logp`` of the prefix before it (the causal mask
    keeps later positions out of the prefix's hidden state)."""
    b = tokens.shape[0]

    def step(carry, t):
        tokens, done, logp, n = carry
        lp = next_token_logp(kind, size, params, tokens, knob, top_k, at=t)
        z = jax.random.categorical(jax.random.fold_in(key, t), lp)
        z = jnp.where(done, GOAL, z)
        logp = logp + jnp.where(done, 0.0, jnp.take_along_axis(lp, z[:, None], 1)[:, 0])
        n = n + (~done).astype(jnp.int32)
        tokens = jax.lax.dynamic_update_slice(tokens, z[:, None].astype(tokens.dtype), (0, t + 1))
        return (tokens, done | (z == GOAL), logp, n), None

    carry = (tokens, done, jnp.zeros(b), jnp.zeros(b, dtype=jnp.int32))
    positions = jnp.asarray(first, jnp.int32) + jnp.arange(count, dtype=jnp.int32)
    (tokens, done, logp, n), _ = jax.lax.scan(step, carry, positions)
    return Sampled(tokens, done, logp, n)


def start_tokens(prompts: jax.Array, length: int) -> jax.Array:
    """(B, M) prompts (B,) of one token, or (B, P), followed by padding."""
    prompts = jnp.asarray(prompts, jnp.int32)
    prompts = prompts[:, None] if prompts.ndim == 1 else prompts
    out = jnp.full((prompts.shape[0], length), GOAL, dtype=jnp.int32)
    return out.at[:, : prompts.shape[1]].set(prompts)


def sample_walks(kind: str, size: ModelSize, params: dict, knob: float, prompts: jax.Array,
                 key: jax.Array, top_k: int = 10) -> Sampled:  # fmt: skip
    """Whole answers after each prompt ((B,) start nodes or (B, P) tokens), sampled by one
    decoder."""
    tokens = start_tokens(jnp.asarray(prompts), size.length)
    done = jnp.zeros(tokens.shape[0], dtype=bool)
    return sample_tokens(kind, size, params, jnp.asarray(knob, jnp.float32), tokens, done, key,
                         size.prompt - 1, count=size.length - size.prompt,
                         top_k=top_k)  # fmt: skip


def walk_lengths_of(tokens: jax.Array, prompt: int = 1) -> jax.Array:
    """(B,) tokens in each sequence: up to and including the first stop token (the goal
    node of graph-walk, the padding of star-graph) after the ``prompt``."""
    m = tokens.shape[1]
    is_goal = tokens[:, prompt:] == GOAL
    first = jnp.where(is_goal.any(1), jnp.argmax(is_goal, axis=1) + prompt + 1, m)
    return first.astype(jnp.int32)


@partial(jax.jit, static_argnames=("size",))
def taken_logp(size: ModelSize, params: dict, tokens: jax.Array) -> jax.Array:
    """(B,) log-probability of each walk's generated tokens under a network's LM head."""
    lengths = walk_lengths_of(tokens, size.prompt)
    lp = jax.nn.log_softmax(lm_logits(size, params, hidden_states(size, params, tokens)))
    picked = jnp.take_along_axis(lp[:, :-1], tokens[:, 1:, None], -1)[..., 0]  # (B, M-1)
    t = jnp.arange(tokens.shape[1] - 1)[None, :]
    exists = (t < lengths[:, None] - 1) & (t >= size.prompt - 1)
    return jnp.sum(picked * exists, axis=1)


@partial(jax.jit, static_argnames=("size", "head"))
def taken_values(size: ModelSize, net: dict, heads: dict, tokens: jax.Array,
                 head: str) -> jax.Array:  # fmt: skip
    """(B, M-1) a value head read at each (prefix, taken token) of the walks: ILQL's
    ``min`` of the target heads (``head="min"``), or the value model's ``q1``."""
    h = hidden_states(size, net, tokens)[:, :-1]
    if head == "min":
        q = jnp.minimum(*(q_values(size, heads[k], h) for k in ("q1", "q2")))
    else:
        q = q_values(size, heads[head], h)
    return jnp.take_along_axis(q, tokens[:, 1:, None], -1)[..., 0]


def outcome_scores(size: ModelSize, value: dict, tokens: jax.Array) -> jax.Array:
    """(B,) the learned outcome reward of whole walks: the value model's V at the walk's
    last token (the prefix is then the whole answer)."""
    values = taken_values(size, value, {"q1": value["q1"]}, tokens, "q1")  # (B, M-1)
    last = walk_lengths_of(tokens, size.prompt) - 2
    return jnp.take_along_axis(values, last[:, None], 1)[:, 0]
