"""Functional environments for the compiled DQN trainer: pure ``reset`` and ``step``.

Two families are adapted to one small interface (:class:`FunctionalEnv`):

- gymnax's classic-control and MinAtar environments (imported lazily: gymnax costs
  about 2 s of import time, and it needs ``six`` without declaring it);
- qlearn's own finite worlds, with one-hot observations, drawn from their MDP arrays
  so the network learns the very world the exact solver solves.

``step`` never resets: it returns the real next observation, and whether the episode
ended by termination (no future value) or by truncation at the time limit (the future
still counts). The trainer does the auto-reset itself, so the replay buffer stores the
true last observation of every episode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.envs.gymnax_loader import import_gymnax
from qlearn.envs.registry import GYMNAX_ENVS
from qlearn.mdp import FiniteMDP


@dataclass(frozen=True, eq=False)
class FunctionalEnv:
    """A pure environment: every function takes its randomness as an explicit key.

    ``reset(key) -> (obs, state)``; ``step(key, state, action) -> (obs, state, reward,
    terminated, truncated)`` with the real next observation; ``mask(state) -> (A,)``
    bool, the legal actions in ``state``.
    """

    name: str
    obs_shape: tuple[int, ...]
    obs_dtype: Any
    n_actions: int
    max_episode_steps: int
    reset: Callable[[jax.Array], tuple[jax.Array, Any]]
    step: Callable[[jax.Array, Any, jax.Array], tuple]
    mask: Callable[[Any], jax.Array]
    torso: str = "mlp"
    gamma: float | None = None
    """The world's own discount, where it defines one (finite worlds)."""
    mdp: FiniteMDP | None = None
    """The MDP behind a finite world (for exact Q* and one-hot probing)."""


def gymnax_env(env_id: str) -> FunctionalEnv:
    """One of gymnax's environments (see :data:`GYMNAX_ENVS`) as a FunctionalEnv."""
    if env_id not in GYMNAX_ENVS:
        raise QlearnError(
            f"{env_id!r} is not a compiled environment; choose one of {', '.join(GYMNAX_ENVS)}"
        )
    env, params = import_gymnax().make(env_id)
    n_actions = int(env.num_actions)
    obs_space = env.observation_space(params)
    obs_shape = tuple(int(d) for d in obs_space.shape)

    def reset(key):
        return env.reset_env(key, params)

    def step(key, state, action):
        obs, state, reward, terminated, _ = env.step_env(key, state, action, params)
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.logical_and(env.is_truncated(state, params), ~terminated)
        return obs, state, jnp.asarray(reward, jnp.float32), terminated, truncated

    def mask(state):
        return jnp.ones(n_actions, dtype=bool)

    obs0, _ = jax.eval_shape(reset, jax.random.PRNGKey(0))
    return FunctionalEnv(
        name=env_id,
        obs_shape=obs_shape,
        obs_dtype=obs0.dtype,
        n_actions=n_actions,
        max_episode_steps=int(params.max_steps_in_episode),
        reset=reset,
        step=step,
        mask=mask,
        torso=GYMNAX_ENVS[env_id],
    )


class FiniteState(NamedTuple):
    """Where the agent is in a finite world, and how many steps it has taken."""

    s: jax.Array  # () int32
    t: jax.Array  # () int32


def finite_env(mdp: FiniteMDP, max_steps: int | None = None) -> FunctionalEnv:
    """A finite world as a FunctionalEnv with one-hot observations of size S.

    Steps are sampled from the MDP's successor lists (where each move lands, with what
    probability and reward), so noisy rewards (maxbias) and slippery ice are part of the
    world, not of the learner; illegal actions are masked through ``mask``.
    """
    S, A = mdp.n_states, mdp.n_actions
    cum_p = jnp.asarray(np.cumsum(mdp.next_probs, axis=2), jnp.float32)  # (S, A, K)
    lands = jnp.asarray(mdp.next_states, jnp.int32)
    reward = jnp.asarray(mdp.next_rewards, jnp.float32)
    reward_std = jnp.asarray(mdp.next_reward_std, jnp.float32)
    terminal = jnp.asarray(mdp.terminal)
    legal = jnp.asarray(mdp.legal)
    start_cum = jnp.asarray(np.cumsum(mdp.start), jnp.float32)
    horizon = int(max_steps or mdp.max_steps)

    def draw(key, cum):
        # the last entry is clipped so that rounding never yields an index past the end
        u = jax.random.uniform(key) * cum[-1]
        return jnp.minimum(jnp.searchsorted(cum, u), cum.shape[0] - 1)

    def observe(s):
        return jax.nn.one_hot(s, S, dtype=jnp.float32)

    def reset(key):
        s = draw(key, start_cum).astype(jnp.int32)
        return observe(s), FiniteState(s, jnp.int32(0))

    def step(key, state, action):
        k_next, k_noise = jax.random.split(key)
        k = draw(k_next, cum_p[state.s, action])  # which outcome of the move
        s2 = lands[state.s, action, k]
        noise = reward_std[state.s, action, k] * jax.random.normal(k_noise)
        r = reward[state.s, action, k] + noise
        t = state.t + 1
        terminated = terminal[s2]
        truncated = jnp.logical_and(t >= horizon, ~terminated)
        return observe(s2), FiniteState(s2, t), r, terminated, truncated

    def mask(state):
        return legal[state.s]

    return FunctionalEnv(
        name=mdp.name,
        obs_shape=(S,),
        obs_dtype=jnp.float32,
        n_actions=A,
        max_episode_steps=horizon,
        reset=reset,
        step=step,
        mask=mask,
        gamma=mdp.gamma,
        mdp=mdp,
    )
