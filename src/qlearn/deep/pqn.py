"""Parallel Q-learning (PQN, Gallici et al. 2024): DQN without replay or target network.

Many environments are stepped at once (``num_envs``) for a short rollout of
``train_freq`` steps with epsilon-greedy actions; the network, whose hidden layers are
layer-normalised (what keeps bootstrapping from its own values stable without a target
network), then values every real next observation once, Q(lambda) returns are computed
backwards along the rollout (:func:`~qlearn.deep.lambda_returns.peng_returns`), and the
rollout is learnt in ``gradient_steps`` passes of ``minibatches`` shuffled minibatches.
Nothing is stored beyond the rollout.

The trainer is the compiled one (:class:`~qlearn.deep.compiled.CompiledTrainer`) with
its own state and iteration: chunks, evaluation, seeds on devices and checkpoints are
shared, so ``--algo pqn`` runs from the command line and from Python like DQN does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from qlearn.configs.dqn_config import DQNConfig
from qlearn.deep.chunks import make_dqn, make_plan
from qlearn.deep.compiled import CompiledTrainer, seed_keys
from qlearn.deep.dqn import Learner, UpdateStats, elementwise_loss, masked_argmax
from qlearn.deep.functional_envs import FunctionalEnv
from qlearn.deep.lambda_returns import peng_returns


class PQNState(NamedTuple):
    """The whole state of one seed's PQN run between two chunks (no buffer)."""

    learner: Learner  # its target is unused (PQN has none) and stays the initial copy
    env_state: Any
    obs: jax.Array  # (E, *obs_shape)
    mask: jax.Array  # (E, A)
    episode_return: jax.Array  # (E,)
    episode_length: jax.Array  # (E,)
    key: jax.Array
    eval_key: jax.Array


class Rollout(NamedTuple):
    """One rollout, leading axes (T, E)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array  # the real next observation (before any reset)
    next_mask: jax.Array
    terminated: jax.Array
    done: jax.Array


@dataclass(frozen=True, eq=False)
class PQNTrainer(CompiledTrainer):
    """PQN on a functional environment: the compiled trainer's chunks and evaluation,
    with a rollout-and-learn iteration."""

    def init(self, seed: jax.Array) -> PQNState:
        cfg, env = self.cfg, self.env
        k_train, k_eval, k_params, k_reset = seed_keys(seed)
        obs, env_state = jax.vmap(env.reset)(jax.random.split(k_reset, cfg.num_envs))
        return PQNState(
            learner=self.dqn.init(k_params, obs[0]),
            env_state=env_state,
            obs=obs,
            mask=jax.vmap(env.mask)(env_state),
            episode_return=jnp.zeros(cfg.num_envs, jnp.float32),
            episode_length=jnp.zeros(cfg.num_envs, jnp.int32),
            key=k_train,
            eval_key=k_eval,
        )

    def env_step(self, run: PQNState, epsilon: jax.Array):
        """Act in every environment, reset those that ended; the transition comes back."""
        env, E = self.env, self.cfg.num_envs
        key, k_act, k_step, k_reset = jax.random.split(run.key, 4)
        action = self.dqn.act(run.learner.online, run.obs, run.mask, k_act, epsilon)
        next_obs, next_state, reward, terminated, truncated = jax.vmap(env.step)(
            jax.random.split(k_step, E), run.env_state, action
        )
        done = terminated | truncated
        reset_obs, reset_state = jax.vmap(env.reset)(jax.random.split(k_reset, E))

        def pick(fresh, old):
            where = done.reshape(done.shape + (1,) * (old.ndim - 1))
            return jnp.where(where, fresh, old)

        env_state = jax.tree.map(pick, reset_state, next_state)
        ep_return = run.episode_return + reward
        ep_length = run.episode_length + 1
        step = Rollout(
            run.obs, action, reward, next_obs, jax.vmap(env.mask)(next_state), terminated, done
        )
        finished = (jnp.where(done, ep_return, jnp.nan), jnp.where(done, ep_length, 0))
        run = run._replace(
            env_state=env_state,
            obs=pick(reset_obs, next_obs),
            mask=jax.vmap(env.mask)(env_state),
            episode_return=jnp.where(done, 0.0, ep_return),
            episode_length=jnp.where(done, 0, ep_length),
            key=key,
        )
        return run, (step, finished)

    def lambda_targets(self, params: Any, rollout: Rollout) -> jax.Array:
        """(T, E) Q(lambda) returns, bootstrapping from the network's own greedy values
        of the real next observations; an episode's end stops the mixing."""
        T, E = rollout.action.shape
        flat = rollout.next_obs.reshape((T * E, *rollout.next_obs.shape[2:]))
        q_next = self.dqn.q_values(params, flat).reshape(T, E, -1)
        best = masked_argmax(q_next, rollout.next_mask)
        v = jnp.take_along_axis(q_next, best[..., None], axis=-1)[..., 0]
        discount = jnp.where(rollout.terminated, 0.0, self.dqn.gamma)
        more = jnp.concatenate([~rollout.done[:-1], jnp.zeros((1, E), bool)], axis=0)
        return jax.lax.stop_gradient(peng_returns(rollout.reward, discount, v, more, self.cfg.lam))

    def learn(self, learner: Learner, rollout: Rollout, targets: jax.Array, key: jax.Array):
        """``gradient_steps`` passes over the rollout in shuffled minibatches."""
        cfg, dqn = self.cfg, self.dqn
        n = targets.size
        size = n // cfg.minibatches
        obs = rollout.obs.reshape((n, *rollout.obs.shape[2:]))
        action, target = rollout.action.reshape(n), targets.reshape(n)

        def loss_fn(params, idx):
            q = dqn.q_values(params, obs[idx])
            q_taken = jnp.take_along_axis(q, action[idx][:, None], axis=1)[:, 0]
            return jnp.mean(elementwise_loss(q_taken, target[idx], dqn.loss)), q_taken.mean()

        def minibatch(learner, idx):
            (loss, q_mean), grads = jax.value_and_grad(loss_fn, has_aux=True)(learner.online, idx)
            updates, opt_state = dqn.optimizer.update(grads, learner.opt_state, learner.online)
            online = optax.apply_updates(learner.online, updates)
            learner = learner._replace(
                online=online, opt_state=opt_state, updates=learner.updates + 1
            )
            return learner, (loss, q_mean)

        def one_pass(learner, k):
            order = jax.random.permutation(k, n)[: size * cfg.minibatches]
            return jax.lax.scan(minibatch, learner, order.reshape(cfg.minibatches, size))

        keys = jax.random.split(key, cfg.gradient_steps)
        learner, (loss, q_mean) = jax.lax.scan(one_pass, learner, keys)
        nan = jnp.float32(jnp.nan)
        return learner, UpdateStats(loss.mean(), q_mean.mean(), nan)

    def iteration(self, run: PQNState, it: jax.Array):
        """A rollout of ``train_freq`` steps in every environment, then learning on it
        once learning has started."""
        cfg, plan = self.cfg, self.plan
        before = it * plan.steps_per_iteration
        after = before + plan.steps_per_iteration

        def collect(run, j):
            return self.env_step(run, self.epsilon_at(before + j * cfg.num_envs))

        run, (rollout, (ret, length)) = jax.lax.scan(collect, run, jnp.arange(cfg.train_freq))
        key, k_learn = jax.random.split(run.key)

        def learn(learner):
            targets = self.lambda_targets(learner.online, rollout)
            return self.learn(learner, rollout, targets, k_learn)

        def wait(learner):
            nan = jnp.float32(jnp.nan)
            return learner, UpdateStats(nan, nan, nan)

        learner, stats = jax.lax.cond(after > cfg.learning_starts, learn, wait, run.learner)
        run = run._replace(learner=learner, key=key)
        eps = self.epsilon_at(after - cfg.num_envs)
        return run, (ret, length, stats.loss, stats.q_mean, eps)


def make_pqn_trainer(cfg: DQNConfig, env: FunctionalEnv) -> PQNTrainer:
    """A compile-ready PQN trainer (the learning rate decays over every minibatch step)."""
    plan = make_plan(cfg)
    training = sum(
        1
        for it in range(plan.iterations)
        if (it + 1) * plan.steps_per_iteration > cfg.learning_starts
    )
    updates = training * cfg.gradient_steps * cfg.minibatches
    dqn = make_dqn(cfg, env.n_actions, env.torso, False, updates)
    return PQNTrainer(cfg, env, dqn, plan)
