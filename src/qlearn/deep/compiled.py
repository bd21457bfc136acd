"""The end-to-end compiled DQN trainer for functional environments.

PureJaxRL-style: acting, stepping the environments, storing transitions and learning
all happen inside one jitted ``lax.scan``, and ``vmap`` runs many seeds in the same
program. A run is cut into *chunks* of whole training iterations (an iteration is
``train_freq`` vector steps of collection, then one training round); after each chunk
the online network is evaluated greedily on separately seeded episodes. The chunk is
compiled once and reused for every chunk of the run, which is also what makes
checkpoints exact: the state between chunks is the whole state of the run.

Schedules (epsilon, PER's beta, when learning starts) are functions of the iteration
index, which is the same for every seed and is passed unbatched, so the branches on
it stay real branches under ``vmap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from qlearn.configs.dqn_config import DQNConfig
from qlearn.deep import replay as rb
from qlearn.deep.chunks import (
    Plan,
    beta_at,
    epsilon_at,
)
from qlearn.deep.dqn import (
    DQN,
    Learner,
    UpdateStats,
    epsilon_greedy,
    masked_argmax,
    split_noise_key,
)
from qlearn.deep.functional_envs import FunctionalEnv
from qlearn.deep.networks import draw_layer_noise


class RunState(NamedTuple):
    """The whole state of one seed's run between two chunks."""

    learner: Learner
    replay: rb.Replay
    env_state: Any  # one state per parallel environment
    obs: jax.Array  # (E, *obs_shape) what the agent sees now
    mask: jax.Array  # (E, A) legal actions now
    episode_return: jax.Array  # (E,) return of the episodes in progress
    episode_length: jax.Array  # (E,)
    key: jax.Array  # training randomness
    eval_key: jax.Array  # evaluation randomness (never mixed into training)


class ChunkOutputs(NamedTuple):
    """What one chunk reports, per seed (iterations that were not run hold NaN / 0)."""

    finished_return: jax.Array  # (I, train_freq, E) return of each episode ending there, NaN
    finished_length: jax.Array  # (I, train_freq, E) its length, 0 where none ended
    loss: jax.Array  # (I,) mean loss of the iteration's gradient steps (NaN: none)
    q_mean: jax.Array  # (I,) mean Q of the sampled actions
    epsilon: jax.Array  # (I,) exploration rate at the iteration's last step
    eval_return: jax.Array  # (eval_episodes,)
    eval_length: jax.Array  # (eval_episodes,)
    eval_start_value: jax.Array  # (eval_episodes,) max legal Q at each first observation


def vector_step_keys(key: jax.Array) -> jax.Array:
    """A vector step's four keys: the training key after it, acting, stepping the
    environments, resetting them (one home: acting noise is drawn ahead from this chain)."""
    return jax.random.split(key, 4)


def seed_keys(seed: jax.Array | int) -> jax.Array:
    """A seed's four streams: training, evaluation, initial parameters, first resets."""
    return jax.random.split(jax.random.PRNGKey(seed), 4)


@dataclass(frozen=True, eq=False)
class CompiledTrainer:
    """A configuration compiled against a functional environment.

    ``init(seed)`` and ``chunk(state, first_iteration)`` are pure and unbatched;
    :meth:`batched` gives their jitted, seed-vmapped forms used by the job runner.
    """

    cfg: DQNConfig
    env: FunctionalEnv
    dqn: DQN
    plan: Plan

    # ---- schedules (functions of the environment step, the same for every seed) ----
    def epsilon_at(self, step: jax.Array) -> jax.Array:
        return epsilon_at(self.cfg, self.plan, step, jnp)

    def beta_at(self, step: jax.Array) -> jax.Array:
        return beta_at(self.cfg, self.plan, step, jnp)

    # ---- pieces ----
    def init(self, seed: jax.Array) -> RunState:
        """A fresh run: initial parameters, an empty buffer, environments just reset."""
        cfg, env = self.cfg, self.env
        k_train, k_eval, k_params, k_reset = seed_keys(seed)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(k_reset, cfg.num_envs))
        learner = self.dqn.init(k_params, obs[0])
        rows = rb.rows_for(cfg.buffer_size, cfg.num_envs)
        replay = rb.init(rows, cfg.num_envs, env.obs_shape, obs.dtype, env.n_actions)
        return RunState(
            learner=learner,
            replay=replay,
            env_state=env_state,
            obs=obs,
            mask=jax.vmap(env.mask)(env_state),
            episode_return=jnp.zeros(cfg.num_envs, jnp.float32),
            episode_length=jnp.zeros(cfg.num_envs, jnp.int32),
            key=k_train,
            eval_key=k_eval,
        )

    def vector_step(self, run: RunState, epsilon: jax.Array, noise: Any = None):
        """Act in every environment, store the transitions, reset finished episodes.
        ``noise``: the acting noise of a noisy network, drawn ahead
        (:meth:`collection_noise`)."""
        env, E = self.env, self.cfg.num_envs
        key, k_act, k_step, k_reset = vector_step_keys(run.key)
        params = run.learner.online
        action, prob = self.dqn.act_with_prob(params, run.obs, run.mask, k_act, epsilon, noise)
        next_obs, next_state, reward, terminated, truncated = jax.vmap(env.step)(
            jax.random.split(k_step, E), run.env_state, action
        )
        done = terminated | truncated
        next_mask = jax.vmap(env.mask)(next_state)
        replay = rb.add(
            run.replay,
            rb.Transition(run.obs, action, reward, next_obs, terminated, done, next_mask, prob),
        )
        reset_obs, reset_state = jax.vmap(env.reset)(jax.random.split(k_reset, E))

        def pick(fresh, old):
            where = done.reshape(done.shape + (1,) * (old.ndim - 1))
            return jnp.where(where, fresh, old)

        env_state = jax.tree.map(pick, reset_state, next_state)
        ep_return = run.episode_return + reward
        ep_length = run.episode_length + 1
        finished = (jnp.where(done, ep_return, jnp.nan), jnp.where(done, ep_length, 0))
        run = run._replace(
            replay=replay,
            env_state=env_state,
            obs=pick(reset_obs, next_obs),
            mask=jax.vmap(env.mask)(env_state),
            episode_return=jnp.where(done, 0.0, ep_return),
            episode_length=jnp.where(done, 0, ep_length),
            key=key,
        )
        return run, finished

    def iteration(self, run: RunState, it: jax.Array):
        """``train_freq`` vector steps, then a training round once learning has started."""
        cfg, plan = self.cfg, self.plan
        before = it * plan.steps_per_iteration
        after = before + plan.steps_per_iteration

        def collect(run, xs):
            j, noise = xs
            eps = self.epsilon_at(before + j * cfg.num_envs)
            return self.vector_step(run, eps, noise)

        noise = self.collection_noise(run) if self.dqn.noisy else None
        run, (ret, length) = jax.lax.scan(collect, run, (jnp.arange(cfg.train_freq), noise))
        key, k_train = jax.random.split(run.key)

        def learn(operands):
            learner, replay = operands
            return self.dqn.train_round(
                learner, replay, k_train, before, after, cfg.gradient_steps, self.beta_at(after)
            )

        def wait(operands):
            learner, replay = operands
            nan = jnp.float32(jnp.nan)
            return learner, replay, UpdateStats(nan, nan, nan)

        learner, replay, stats = jax.lax.cond(
            after > cfg.learning_starts, learn, wait, (run.learner, run.replay)
        )
        run = run._replace(learner=learner, replay=replay, key=key)
        eps = self.epsilon_at(after - cfg.num_envs)
        return run, (ret, length, stats.loss, stats.q_mean, eps)

    def collection_noise(self, run: RunState) -> Any:
        """The layer noise of an iteration's ``train_freq`` acting steps, drawn at once:
        the same random numbers :meth:`vector_step` would draw step by step (the key
        chain does not depend on what happens), at a fraction of the cost, since one
        acting step is a tiny network call whose noise took most of its time."""

        def acting_key(key, _):
            key, k_act, _, _ = vector_step_keys(key)
            return key, split_noise_key(k_act)[1]

        _, keys = jax.lax.scan(acting_key, run.key, None, length=self.cfg.train_freq)
        return jax.vmap(lambda k: draw_layer_noise(run.learner.online, k))(keys)

    def evaluate(self, params: Any, key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Returns, lengths and start values (the network's max legal Q at the first
        observation) of ``eval_episodes`` episodes on fresh environments, greedy (or
        ``eval_epsilon``-greedy), each capped at the time limit."""
        env, cfg, dqn = self.env, self.cfg, self.dqn

        def episode(k):
            k_reset, k_run = jax.random.split(k)
            obs, state = env.reset(k_reset)

            def alive(c):
                return ~c[4] & (c[5] < env.max_episode_steps)

            def body(c):
                state, obs, key, ret, _, t = c
                key, k_act, k_step = jax.random.split(key, 3)
                q = dqn.q_values(params, obs[None])
                mask = env.mask(state)[None]
                if cfg.eval_epsilon > 0:
                    a = epsilon_greedy(q, mask, k_act, cfg.eval_epsilon)[0]
                else:
                    a = masked_argmax(q, mask)[0].astype(jnp.int32)
                obs, state, r, term, trunc = env.step(k_step, state, a)
                return state, obs, key, ret + r, term | trunc, t + 1

            start = (state, obs, k_run, jnp.float32(0.0), jnp.bool_(False), jnp.int32(0))
            q0 = dqn.q_values(params, obs[None])[0]
            value = jnp.max(jnp.where(env.mask(state), q0, -jnp.inf))
            _, _, _, ret, _, t = jax.lax.while_loop(alive, body, start)
            return ret, t, value

        return jax.vmap(episode)(jax.random.split(key, cfg.eval_episodes))

    def chunk(self, run: RunState, first_iteration: jax.Array, chunk_index: jax.Array):
        """Run the chunk's iterations (those past the end of the run are skipped), then
        evaluate the online network on episodes seeded by ``chunk_index``."""
        plan, cfg = self.plan, self.cfg

        def step(run, i):
            it = first_iteration + i

            def skip(run, it):
                nan = jnp.full((), jnp.nan, jnp.float32)
                shape = (cfg.train_freq, cfg.num_envs)
                return run, (
                    jnp.full(shape, jnp.nan, jnp.float32),
                    jnp.zeros(shape, jnp.int32),
                    nan,
                    nan,
                    nan,
                )

            return jax.lax.cond(it < plan.iterations, self.iteration, skip, run, it)

        run, (ret, length, loss, q_mean, eps) = jax.lax.scan(
            step, run, jnp.arange(plan.iterations_per_chunk)
        )
        evaluation = self.evaluate(
            run.learner.online, jax.random.fold_in(run.eval_key, chunk_index)
        )
        return run, ChunkOutputs(ret, length, loss, q_mean, eps, *evaluation)

    # ---- compiled, device-parallel forms ----
    def parallel(self):
        """(init, chunk) compiled with ``pmap``: one seed per CPU device (core), so a
        group of seeds trains on all cores at once. ``chunk`` takes the group's state
        (donated: its buffers are reused) and the chunk's 0-based index."""
        per_chunk = self.plan.iterations_per_chunk

        def run_chunk(run, index):
            return self.chunk(run, index * per_chunk, index)

        init = jax.pmap(self.init)
        return init, jax.pmap(run_chunk, in_axes=(0, None), donate_argnums=0)
