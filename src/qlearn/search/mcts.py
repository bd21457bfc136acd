"""Monte Carlo tree search with a learned Q, in the world's own model, through mctx.

The model is the finite world itself: :func:`world_model` turns its MDP arrays into
successor lists (for each state and action, up to K next states with their
probabilities and rewards), and mctx's recurrent function samples the next state from
them with the key mctx hands it. Entering a terminal state returns discount 0; a
terminal state is absorbing. Illegal actions are masked at the root
(``invalid_actions``); below the root they have prior 0 and, if a simulation still picks
one, it ends there with the state's worst legal leaf value (no reward).

What the table contributes is a :class:`Guide`: the prior, softmax(Q / temperature) over
the legal actions (or uniform), and the leaf value, max over legal actions of Q (or 0).
``--q exact`` guides with Q*, ``--q zero`` with nothing (uniform prior, zero leaves).

Two planners (DeepMind's mctx 0.0.71): ``mcts`` is MuZero's PUCT search without root
noise; it acts on the most visited root action (ties: the larger searched value, then
the lower index). ``gumbel`` is Gumbel MuZero (sequential halving at the root, policy
improvement guaranteed); it acts on mctx's selected action, with ``gumbel_scale`` 0 by
default so that evaluation is deterministic given the values.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import mctx
import numpy as np

from qlearn.mdp import FiniteMDP

PLANNERS = ("mcts", "gumbel")
#: A logit that softmax turns into probability 0 without producing nan.
MASKED = -1e9


class WorldModel(NamedTuple):
    """A finite world as successor lists, for sampling inside a jitted search."""

    next_state: jax.Array  # (S, A, K) int32
    log_prob: jax.Array  # (S, A, K) log probability of each successor (-inf: padding)
    reward: jax.Array  # (S, A, K) reward of each transition
    terminal: jax.Array  # (S,) bool
    legal: jax.Array  # (S, A) bool
    gamma: float


class Guide(NamedTuple):
    """What a value table tells the search: prior logits and leaf values per state."""

    prior_logits: jax.Array  # (S, A); MASKED where illegal
    leaf_value: jax.Array  # (S,); 0 at terminal states


def world_model(mdp: FiniteMDP) -> WorldModel:
    """The successor lists of ``mdp``: K is the largest number of next states any (s, a)
    can reach. Terminal states keep no successors of their own (the search treats them
    as absorbing)."""
    prob, reward = mdp.next_probs, mdp.next_rewards
    with np.errstate(divide="ignore"):
        log_prob = np.where(prob > 0, np.log(np.where(prob > 0, prob, 1.0)), -np.inf)
    return WorldModel(
        next_state=jnp.asarray(mdp.next_states, jnp.int32),
        log_prob=jnp.asarray(log_prob, jnp.float32),
        reward=jnp.asarray(reward, jnp.float32),
        terminal=jnp.asarray(mdp.terminal),
        legal=jnp.asarray(mdp.legal),
        gamma=float(mdp.gamma),
    )


def guide(
    mdp: FiniteMDP,
    q: np.ndarray | None,
    *,
    prior: str = "learned",
    leaf: str = "learned",
    temperature: float = 1.0,
) -> Guide:
    """The prior and leaf values a table ``q`` (S, A) gives; ``q`` None is no knowledge
    (uniform prior, zero leaves). ``prior="uniform"`` and ``leaf="zero"`` ablate each."""
    legal = mdp.legal
    if q is None:
        prior, leaf = "uniform", "zero"
        q = np.zeros(legal.shape)
    q = np.where(legal, np.nan_to_num(q, nan=0.0, neginf=0.0, posinf=0.0), 0.0)
    logits = q / temperature if prior == "learned" else np.zeros_like(q)
    value = np.where(legal, q, -np.inf).max(axis=1) if leaf == "learned" else np.zeros(len(q))
    value = np.where(mdp.terminal | ~np.isfinite(value), 0.0, value)
    return Guide(
        prior_logits=jnp.asarray(np.where(legal, logits, MASKED), jnp.float32),
        leaf_value=jnp.asarray(value, jnp.float32),
    )


def _recurrent_fn(model: WorldModel, g: Guide):
    """mctx's model step: sample the next state of (state, action) from the world."""
    worst_leaf = jnp.min(jnp.where(model.legal, g.leaf_value[:, None], jnp.inf), axis=1)

    def step(params, key, action, state):
        del params
        keys = jax.random.split(key, state.shape[0])
        pick = jax.vmap(jax.random.categorical)(keys, model.log_prob[state, action])  # (B,)
        nxt = model.next_state[state, action, pick]
        reward = model.reward[state, action, pick]
        stay = model.terminal[state]  # terminal states are absorbing and pay nothing
        ok = model.legal[state, action] & ~stay
        nxt = jnp.where(ok, nxt, state)
        ends = ~ok | model.terminal[nxt]
        value = jnp.where(
            ok, jnp.where(model.terminal[nxt], 0.0, g.leaf_value[nxt]), worst_leaf[state]
        )
        value = jnp.where(stay, 0.0, value)
        out = mctx.RecurrentFnOutput(
            reward=jnp.where(ok, reward, 0.0),
            discount=jnp.where(ends, 0.0, model.gamma).astype(jnp.float32),
            prior_logits=g.prior_logits[nxt],
            value=value,
        )
        return out, nxt

    return step


def search(
    model: WorldModel,
    g: Guide,
    states: jax.Array,
    key: jax.Array,
    *,
    planner: str,
    simulations: int,
    gumbel_scale: float = 0.0,
) -> mctx.PolicyOutput:
    """One search from each of ``states`` (B,): mctx's policy output."""
    root = mctx.RootFnOutput(
        prior_logits=g.prior_logits[states],
        value=g.leaf_value[states],
        embedding=states,
    )
    options = {
        "params": (),
        "rng_key": key,
        "root": root,
        "recurrent_fn": _recurrent_fn(model, g),
        "num_simulations": simulations,
        "invalid_actions": ~model.legal[states],
    }
    if planner == "gumbel":
        return mctx.gumbel_muzero_policy(**options, gumbel_scale=gumbel_scale)
    return mctx.muzero_policy(**options, dirichlet_fraction=0.0)


def chosen_action(output: mctx.PolicyOutput, planner: str) -> jax.Array:
    """The action a planner takes after its search (see the module docstring)."""
    if planner == "gumbel":
        return output.action
    summary = output.search_tree.summary()
    visits = summary.visit_counts.astype(jnp.float32)  # (B, A)
    q = jnp.where(visits > 0, summary.qvalues, -jnp.inf)
    best = visits == visits.max(axis=1, keepdims=True)
    q = jnp.where(best, q, -jnp.inf)
    return jnp.argmax(jnp.where(best & (q == q.max(axis=1, keepdims=True)), 1, 0), axis=1)


def decide(
    model: WorldModel,
    g: Guide,
    states: jax.Array,
    key: jax.Array,
    *,
    planner: str,
    simulations: int,
    gumbel_scale: float = 0.0,
) -> jax.Array:
    """(B,) the action each of ``states`` takes after ``simulations`` simulations."""
    output = search(
        model, g, states, key, planner=planner, simulations=simulations, gumbel_scale=gumbel_scale
    )
    return chosen_action(output, planner)
