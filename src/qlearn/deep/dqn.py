"""The DQN family as pure functions: acting, the n-step target, the loss, one update.

DQN (Mnih et al., 2015) regresses ``Q(s, a; theta)`` onto ``r + gamma^n max_a'
Q(s', a'; theta_target)`` for minibatches drawn from a replay buffer, with a target
network that trails the online one. The variants are flags that combine freely:
``double`` picks the next action with the online network and values it with the
target network (van Hasselt et al., 2016); ``dueling`` is a head of the network
(:mod:`qlearn.deep.networks`); ``n_step`` and ``per`` live in the buffer
(:mod:`qlearn.deep.replay`). Illegal actions (an environment's mask) are never chosen
and never enter the max or the argmax of the target.

Both trainers (the compiled one for functional environments and the host loop for
Gymnasium) drive exactly these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from qlearn.deep import replay as rb
from qlearn.deep.networks import QNetwork


class Learner(NamedTuple):
    """Everything a DQN learns: online and target parameters and the optimizer state."""

    online: Any
    target: Any
    opt_state: Any
    updates: jax.Array  # () int32: gradient steps taken


class UpdateStats(NamedTuple):
    """What one gradient step reports (means over the batch)."""

    loss: jax.Array
    q_mean: jax.Array
    td_abs: jax.Array


def masked_argmax(q: jax.Array, mask: jax.Array) -> jax.Array:
    """The best legal action per row: (..., A) -> (...)."""
    return jnp.argmax(jnp.where(mask, q, -jnp.inf), axis=-1)


def bootstrap_value(
    q_next_target: jax.Array, q_next_online: jax.Array, mask: jax.Array, double: bool
) -> jax.Array:
    """The value of the next state, (B, A) -> (B,): the target network's value of the
    best legal action, chosen by the target network (DQN) or the online one (Double)."""
    chooser = q_next_online if double else q_next_target
    best = masked_argmax(chooser, mask)
    return jnp.take_along_axis(q_next_target, best[:, None], axis=1)[:, 0]


def td_target(n_return: jax.Array, discount: jax.Array, next_value: jax.Array) -> jax.Array:
    """``G + gamma^m * V(s')``; ``discount`` is 0 where the episode terminated."""
    return n_return + jnp.where(discount > 0, discount * next_value, 0.0)


def elementwise_loss(prediction: jax.Array, target: jax.Array, kind: str) -> jax.Array:
    """Huber (delta 1, as PyTorch's smooth L1) or squared error, per sample."""
    if kind == "huber":
        return optax.huber_loss(prediction, target, delta=1.0)
    return 0.5 * jnp.square(prediction - target)


def epsilon_greedy(
    q: jax.Array, mask: jax.Array, key: jax.Array, epsilon: jax.Array | float
) -> jax.Array:
    """Per row of ``q`` (E, A): a uniformly random legal action with probability
    ``epsilon``, else the best legal one."""
    k_explore, k_action = jax.random.split(key)
    greedy = masked_argmax(q, mask)
    random_action = jax.random.categorical(k_action, jnp.where(mask, 0.0, -jnp.inf))
    explore = jax.random.uniform(k_explore, greedy.shape) < epsilon
    return jnp.where(explore, random_action, greedy).astype(jnp.int32)


@dataclass(frozen=True)
class DQN:
    """The pure functions of one DQN configuration for one observation/action shape."""

    network: QNetwork
    optimizer: optax.GradientTransformation
    gamma: float
    batch_size: int
    n_step: int = 1
    double: bool = False
    loss: str = "huber"
    per: bool = False
    per_alpha: float = 0.6
    per_eps: float = 1e-6
    tau: float = 1.0
    target_update: int = 1
    """Environment steps between target updates (a hard copy, or Polyak with tau)."""

    def init(self, key: jax.Array, obs_example: jax.Array) -> Learner:
        """Fresh parameters (the target starts as a copy) and optimizer state."""
        online = self.network.init(key, obs_example[None])
        return Learner(online, online, self.optimizer.init(online), jnp.int32(0))

    def q_values(self, params: Any, obs: jax.Array) -> jax.Array:
        """(B, *obs) -> (B, A)."""
        return self.network.apply(params, obs)

    def act(self, params, obs, mask, key, epsilon) -> jax.Array:
        """Epsilon-greedy legal actions for a batch of observations."""
        return epsilon_greedy(self.q_values(params, obs), mask, key, epsilon)

    def loss_and_td(self, online, target, batch: rb.Batch, q_next_target=None):
        """The weighted loss of a batch, and its TD errors and mean Q (auxiliaries).

        ``q_next_target`` (B, A), the target network's values of the bootstrap
        observations, may be given when computed ahead for a whole round.
        """
        q = self.q_values(online, batch.obs)  # (B, A)
        q_taken = jnp.take_along_axis(q, batch.action[:, None], axis=1)[:, 0]
        if q_next_target is None:
            q_next_target = self.q_values(target, batch.bootstrap_obs)
        q_next_online = self.q_values(online, batch.bootstrap_obs) if self.double else q_next_target
        next_value = bootstrap_value(
            q_next_target, q_next_online, batch.bootstrap_mask, self.double
        )
        y = jax.lax.stop_gradient(td_target(batch.n_return, batch.discount, next_value))
        per_sample = elementwise_loss(q_taken, y, self.loss)
        return jnp.mean(batch.weight * per_sample), (q_taken - y, q_taken.mean())

    def sample(self, replay: rb.Replay, key: jax.Array, beta: jax.Array | float) -> rb.Batch:
        return rb.sample(
            replay, key, self.batch_size, n_step=self.n_step, gamma=self.gamma,
            prioritized=self.per, alpha=self.per_alpha, beta=beta,
        )  # fmt: skip

    def step(self, learner: Learner, batch: rb.Batch, q_next_target=None):
        """One gradient step on ``batch``: (learner, TD errors, stats)."""
        (loss, (td, q_mean)), grads = jax.value_and_grad(self.loss_and_td, has_aux=True)(
            learner.online, learner.target, batch, q_next_target
        )
        updates, opt_state = self.optimizer.update(grads, learner.opt_state, learner.online)
        online = optax.apply_updates(learner.online, updates)
        learner = learner._replace(online=online, opt_state=opt_state, updates=learner.updates + 1)
        return learner, td, UpdateStats(loss, q_mean, jnp.abs(td).mean())

    def update(
        self, learner: Learner, replay: rb.Replay, key: jax.Array, beta: jax.Array | float
    ) -> tuple[Learner, rb.Replay, UpdateStats]:
        """One gradient step on a sampled batch (and, with PER, its new priorities)."""
        batch = self.sample(replay, key, beta)
        learner, td, stats = self.step(learner, batch)
        if self.per:
            replay = rb.update_priorities(replay, batch, td, self.per_eps)
        return learner, replay, stats

    def sync_target(self, learner: Learner, crossings: jax.Array) -> Learner:
        """Apply the target updates due after ``crossings`` target-update points.

        A hard copy when ``tau`` is 1; otherwise Polyak averaging applied ``crossings``
        times with the same online parameters, i.e. once with ``1 - (1 - tau)^c``.
        """
        if self.tau >= 1.0:
            target = jax.tree.map(
                lambda o, t: jnp.where(crossings > 0, o, t), learner.online, learner.target
            )
        else:
            rate = 1.0 - (1.0 - self.tau) ** crossings.astype(jnp.float32)
            target = jax.tree.map(lambda o, t: t + rate * (o - t), learner.online, learner.target)
        return learner._replace(target=target)

    def train_round(
        self,
        learner: Learner,
        replay: rb.Replay,
        key: jax.Array,
        steps_before: jax.Array,
        steps_after: jax.Array,
        gradient_steps: int,
        beta: jax.Array | float,
    ) -> tuple[Learner, rb.Replay, UpdateStats]:
        """What follows a round of collection: the target updates that fell due during
        it (every ``target_update`` environment steps), then ``gradient_steps`` updates
        against that target. Stats are means over the round's updates."""
        crossings = steps_after // self.target_update - steps_before // self.target_update
        learner = self.sync_target(learner, crossings)

        keys = jax.random.split(key, gradient_steps)
        if self.per or not self._fits_ahead(replay, gradient_steps):
            learner, replay, stats = self._updates_in_turn(learner, replay, keys, beta)
        else:
            learner, stats = self._updates_with_targets_ahead(learner, replay, keys, beta)
        return learner, replay, jax.tree.map(jnp.mean, stats)

    #: Largest round of batches sampled ahead (bytes of bootstrap observations).
    AHEAD_BYTES = 64 << 20

    def _fits_ahead(self, replay: rb.Replay, gradient_steps: int) -> bool:
        per_obs = replay.obs[0, 0].size * replay.obs.dtype.itemsize
        return gradient_steps * self.batch_size * per_obs <= self.AHEAD_BYTES

    def _updates_in_turn(self, learner, replay, keys, beta):
        """Sample, learn, re-prioritise, one batch after another (what PER needs)."""

        # Only the priorities change while learning: carrying the whole buffer through
        # the loop made XLA copy it (tens of MB of Atari frames) on every round.
        def one(carry, k):
            learner, priority, max_priority = carry
            view = replay._replace(priority=priority, max_priority=max_priority)
            learner, view, stats = self.update(learner, view, k, beta)
            return (learner, view.priority, view.max_priority), stats

        start = (learner, replay.priority, replay.max_priority)
        (learner, priority, max_priority), stats = jax.lax.scan(one, start, keys)
        return learner, replay._replace(priority=priority, max_priority=max_priority), stats

    def _updates_with_targets_ahead(self, learner, replay, keys, beta):
        """Uniform sampling does not depend on what is learnt, and the target network is
        fixed for the round: sample every batch first and value all their bootstrap
        observations with the target network in one large product (the targets the
        round would compute batch by batch, up to rounding, at a fraction of the cost)."""
        batches = jax.vmap(lambda k: self.sample(replay, k, beta))(keys)  # (G, B, ...)
        g, b = batches.action.shape
        flat = batches.bootstrap_obs.reshape((g * b, *batches.bootstrap_obs.shape[2:]))
        q_next = self.q_values(learner.target, flat).reshape(g, b, -1)  # (G, B, A)

        def one(learner, xs):
            batch, q_next_target = xs
            learner, _, stats = self.step(learner, batch, q_next_target)
            return learner, stats

        return jax.lax.scan(one, learner, (batches, q_next))


def make_optimizer(
    lr: float, max_grad_norm: float, lr_end: float | None = None, total_updates: int = 1
) -> optax.GradientTransformation:
    """Adam, after clipping the global gradient norm (0: no clipping); the learning rate
    decays linearly to ``lr_end`` over ``total_updates`` when that is given."""
    rate = lr if lr_end is None else optax.linear_schedule(lr, lr_end, max(1, total_updates))
    parts = [optax.clip_by_global_norm(max_grad_norm)] if max_grad_norm > 0 else []
    return optax.chain(*parts, optax.adam(rate))
