"""A small causal transformer (flax linen) with the heads every method needs.

The trunk is GPT-style: token and learned position embeddings, ``depth`` pre-norm blocks
of causal self-attention and a GELU MLP, a final LayerNorm. The default
(width 64, depth 2, 4 heads, on 21 tokens and 10 positions) has about 110k parameters
with all heads: small enough that a few hundred steps train in seconds on two CPU cores
(trlx used a 6-layer, 144-wide GPT-2 of 1.5M parameters; at this task's size a tenth of
that reaches the same optimality).

Heads on each position's hidden state ``h_t`` (the prefix up to token t):

- ``lm``: next-token logits (behaviour cloning; ILQL's ``pi_beta``);
- ``q1``, ``q2``: Q(prefix, next token) for every token (ILQL; trlx's two-layer MLP heads);
- ``v``: V(prefix) (ILQL);
- the value model reuses ``q1`` as V([prefix, z]) for every next token z and ``q2`` as the
  logit of P(success | [prefix, z]).

Parameters are plain pytrees, so seeds can be vmapped and checkpoints saved as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

import qlearn.text.jax_setup  # noqa: F401  (XLA flags and the compile cache, before any work)


@dataclass(frozen=True)
class ModelSize:
    """The transformer's shape."""

    vocab: int
    """Tokens (the graph's nodes)."""
    length: int
    """Longest sequence (the walk limit)."""
    width: int = 64
    """Embedding width."""
    depth: int = 2
    """Transformer blocks."""
    heads: int = 4
    """Attention heads per block."""
    prompt: int = 1
    """Tokens of the prompt: context the model reads and never writes (its actions are
    the tokens after it; graph-walk: the start node; star-graph: the graph, start, goal
    and start again)."""


class Block(nn.Module):
    width: int
    heads: int

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.width)(
            h, h, mask=mask
        )
        h = nn.LayerNorm()(x)
        return x + nn.Dense(self.width)(nn.gelu(nn.Dense(4 * self.width)(h)))


class Trunk(nn.Module):
    """tokens (B, T) -> hidden states (B, T, width); position t sees tokens 0..t."""

    size: ModelSize

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        s = self.size
        t = tokens.shape[-1]
        pos = self.param("position", nn.initializers.normal(0.02), (s.length, s.width))
        x = nn.Embed(s.vocab, s.width)(tokens) + pos[:t]
        mask = nn.make_causal_mask(tokens)
        for _ in range(s.depth):
            x = Block(s.width, s.heads)(x, mask)
        return nn.LayerNorm()(x)


class QHead(nn.Module):
    """hidden (..., width) -> one value per token (..., vocab): a two-layer MLP."""

    vocab: int
    width: int

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        return nn.Dense(self.vocab)(nn.relu(nn.Dense(2 * self.width)(h)))


@partial(jax.jit, static_argnums=0)
def init_params(size: ModelSize, key: jax.Array) -> dict:
    """Fresh parameters: ``trunk``, ``lm``, ``q1``, ``q2``, ``v`` (plain nested dicts).
    Compiled once per shape: flax's initialisation run op by op costs about a second."""
    keys = jax.random.split(key, 5)
    tokens = jnp.zeros((1, size.length), dtype=jnp.int32)
    hidden = jnp.zeros((1, size.length, size.width))
    q = QHead(size.vocab, size.width)
    return {
        "trunk": Trunk(size).init(keys[0], tokens)["params"],
        "lm": nn.Dense(size.vocab).init(keys[1], hidden)["params"],
        "q1": q.init(keys[2], hidden)["params"],
        "q2": q.init(keys[3], hidden)["params"],
        "v": nn.Dense(1).init(keys[4], hidden)["params"],
    }


def hidden_states(size: ModelSize, params: dict, tokens: jax.Array) -> jax.Array:
    """(B, T, width) the trunk's output."""
    return Trunk(size).apply({"params": params["trunk"]}, tokens)


def lm_logits(size: ModelSize, params: dict, hidden: jax.Array) -> jax.Array:
    """(B, T, vocab) next-token logits."""
    return nn.Dense(size.vocab).apply({"params": params["lm"]}, hidden)


def q_values(size: ModelSize, head: dict, hidden: jax.Array) -> jax.Array:
    """(B, T, vocab) one Q head (its parameters ``head``) on the hidden states."""
    return QHead(size.vocab, size.width).apply({"params": head}, hidden)


def state_value(params: dict, hidden: jax.Array) -> jax.Array:
    """(B, T) V(prefix)."""
    return nn.Dense(1).apply({"params": params["v"]}, hidden)[..., 0]


def count_params(tree) -> int:
    """Number of scalars in a parameter pytree."""
    return int(sum(x.size for x in jax.tree_util.tree_leaves(tree)))
