"""The DQN family as pure functions: acting, the n-step target, the loss, one update.

DQN (Mnih et al., 2015) regresses ``Q(s, a; theta)`` onto ``r + gamma^n max_a'
Q(s', a'; theta_target)`` for minibatches drawn from a replay buffer, with a target
network that trails the online one. The variants are flags that combine freely:
``double`` picks the next action with the online network and values it with the
target network (van Hasselt et al., 2016); ``dueling`` is a head of the network
(:mod:`qlearn.deep.networks`); ``n_step`` and ``per`` live in the buffer
(:mod:`qlearn.deep.replay`). Illegal actions (an environment's mask) are never chosen
and never enter the max or the argmax of the target.

Beyond Rainbow: ``head`` c51 or qr learns a return distribution per action
(:mod:`qlearn.deep.distributional`), with PER priorities from its per-sample loss;
``noisy`` draws fresh layer noise for acting and for each network call of a gradient
step (independent for the online and target networks); ``munchausen`` adds the scaled
log-policy bonus to soft targets (Vieillard et al., 2020: ``r + alpha tau clip(log
pi(a|s), l0, 0) + gamma sum_a' pi(a'|s') (q'(s', a') - tau log pi(a'|s'))`` with ``pi =
softmax(q_target / tau)``; with n > 1 the bonus is the first action's); ``correction``
peng or retrace replaces the n-step return by a lambda target computed from the stored
steps (:mod:`qlearn.deep.lambda_returns`).

Both trainers (the compiled one for functional environments and the host loop for
Gymnasium) drive exactly these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from qlearn.configs.dqn_config import DEFAULT_SUPPORT
from qlearn.deep import replay as rb
from qlearn.deep.distributional import (
    categorical_loss,
    categorical_td_target,
    expected_value,
    quantile_huber_loss,
    quantile_midpoints,
)
from qlearn.deep.lambda_returns import peng_target, retrace_target
from qlearn.deep.networks import QNetwork, draw_layer_noise


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


def epsilon_greedy_prob(
    q: jax.Array, mask: jax.Array, action: jax.Array, epsilon: jax.Array | float
) -> jax.Array:
    """The probability epsilon-greedy gave ``action`` (E,): ``(1 - eps) [a greedy] +
    eps / legal actions`` (the behaviour probability Retrace corrects with)."""
    greedy = masked_argmax(q, mask)
    legal = jnp.maximum(mask.sum(axis=-1), 1)
    return (1.0 - epsilon) * (action == greedy) + epsilon / legal


def masked_log_softmax(x: jax.Array, mask: jax.Array) -> jax.Array:
    """log softmax over the legal entries of the last axis (illegal ones: 0, never used)."""
    out = jax.nn.log_softmax(jnp.where(mask, x, -jnp.inf), axis=-1)
    return jnp.where(mask, out, 0.0)


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
    head: str = "q"
    """q (a value per action), c51 or qr (a distribution per action)."""
    atoms: int = 1
    """Outputs per action: C51's atoms or QR-DQN's quantiles (1 for the value head)."""
    v_min: float = DEFAULT_SUPPORT[0]
    v_max: float = DEFAULT_SUPPORT[1]
    noisy: bool = False
    munchausen: bool = False
    m_alpha: float = 0.9
    m_tau: float = 0.03
    m_clip: float = -1.0
    correction: str = "none"
    lam: float = 1.0

    @property
    def support(self) -> jax.Array | None:
        """C51's atoms, evenly spaced from v_min to v_max."""
        if self.head != "c51":
            return None
        return jnp.linspace(self.v_min, self.v_max, self.atoms, dtype=jnp.float32)

    @property
    def plain_target(self) -> bool:
        """A value head with the one-step (or n-step) max target: no distribution,
        Munchausen bonus or lambda correction."""
        return self.head == "q" and not self.munchausen and self.correction == "none"

    @property
    def plain(self) -> bool:
        """DQN and its original variants only: the targets-ahead shortcut applies."""
        return self.plain_target and not self.noisy

    def init(self, key: jax.Array, obs_example: jax.Array) -> Learner:
        """Fresh parameters (the target starts as a copy) and optimizer state."""
        online = self.network.init(key, obs_example[None])
        return Learner(online, online, self.optimizer.init(online), jnp.int32(0))

    def outputs(self, params: Any, obs: jax.Array, noise: Any = None):
        """The network's raw output, (B, A) or (B, A, atoms); noisy layers take their
        noise from ``noise`` when given (a key, or the draws :func:`draw_layer_noise` made
        with it) and use their mean weights otherwise."""
        if not self.noisy or noise is None:
            return self.network.apply(params, obs)
        if not isinstance(noise, dict):
            noise = draw_layer_noise(params, noise)
        return self.network.apply({**params, "noise_draws": noise}, obs)

    def step_noise(self, params: Any, key: jax.Array) -> tuple:
        """The noise of every network call of one gradient step (:meth:`loss_and_td`
        with ``key``), drawn ahead; None for calls the configuration does not make."""
        used = (True, True, self.double, self.munchausen)
        return tuple(
            draw_layer_noise(params, k) if use else None
            for k, use in zip(self._noise_keys(key), used, strict=True)
        )

    def q_values(self, params: Any, obs: jax.Array, noise: jax.Array | None = None):
        """(B, *obs) -> (B, A): the values, or the means of the distributions."""
        return expected_value(self.head, self.outputs(params, obs, noise), self.support)

    def act(self, params, obs, mask, key, epsilon) -> jax.Array:
        """Epsilon-greedy legal actions for a batch of observations (with fresh layer
        noise when the network is noisy)."""
        return self.act_with_prob(params, obs, mask, key, epsilon)[0]

    def act_with_prob(
        self, params, obs, mask, key, epsilon, noise=None
    ) -> tuple[jax.Array, jax.Array]:
        """Actions as :meth:`act`, and the probability the behaviour policy gave each.
        ``noise``: the layer noise, drawn ahead by :func:`draw_layer_noise` from the key this
        call would split off for it: the same numbers, drawn for many calls at once."""
        if self.noisy:
            key, k_noise = split_noise_key(key)
            q = self.q_values(params, obs, k_noise if noise is None else noise)
        else:
            q = self.q_values(params, obs)
        action = epsilon_greedy(q, mask, key, epsilon)
        return action, epsilon_greedy_prob(q, mask, action, epsilon)

    def loss_and_td(self, online, target, batch: rb.Batch, q_next_target=None, key=None):
        """The weighted loss of a batch, and its TD errors (for a distributional head:
        the per-sample loss, which PER uses as priority) and mean Q (auxiliaries).

        ``q_next_target`` (B, A), the target network's values of the bootstrap
        observations, may be given when computed ahead for a whole round; ``key`` draws
        the layer noise of a noisy network.
        """
        if not self.plain:
            return self._loss_beyond(online, target, batch, key)
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

    def _noise_keys(self, key):
        """The noise of a step's four network calls: online at obs, target at the
        bootstrap observation, online there (Double), target at obs (Munchausen)."""
        if isinstance(key, tuple):  # drawn ahead by step_noise
            return key
        return jax.random.split(key, 4) if (self.noisy and key is not None) else (None,) * 4

    def _loss_beyond(self, online, target, batch: rb.Batch, key):
        """The loss of the heads and targets beyond DQN (distributional, Munchausen,
        lambda-corrected); see the module's docstring."""
        k_online, k_target, k_choose, k_now = self._noise_keys(key)
        rows = jnp.arange(batch.action.shape[0])
        out = self.outputs(online, batch.obs, k_online)  # (B, A) or (B, A, N)
        taken = out[rows, batch.action]  # (B,) or (B, N)
        q_taken = expected_value(self.head, taken[:, None], self.support)[:, 0]
        if self.head != "q":
            per_sample = self._distributional_loss(online, target, batch, taken, k_target, k_choose)
            return jnp.mean(batch.weight * per_sample), (per_sample, q_taken.mean())
        if self.munchausen:
            y = self._munchausen_target(target, batch, k_target, k_now)
        elif self.correction != "none":
            y = self._lambda_target(online, target, batch, k_target, k_choose)
        else:
            q_next_target = self.q_values(target, batch.bootstrap_obs, k_target)
            q_next_online = (
                self.q_values(online, batch.bootstrap_obs, k_choose)
                if self.double
                else q_next_target
            )
            v = bootstrap_value(q_next_target, q_next_online, batch.bootstrap_mask, self.double)
            y = td_target(batch.n_return, batch.discount, v)
        y = jax.lax.stop_gradient(y)
        per_sample = elementwise_loss(q_taken, y, self.loss)
        return jnp.mean(batch.weight * per_sample), (q_taken - y, q_taken.mean())

    def _distributional_loss(self, online, target, batch, taken, k_target, k_choose):
        """Per-sample C51 cross-entropy or QR-DQN quantile Huber loss against the target
        network's distribution of the next action (chosen by its mean; Double: by the
        online network's)."""
        rows = jnp.arange(batch.action.shape[0])
        next_out = self.outputs(target, batch.bootstrap_obs, k_target)  # (B, A, N)
        q_next = expected_value(self.head, next_out, self.support)
        chooser = self.q_values(online, batch.bootstrap_obs, k_choose) if self.double else q_next
        best = masked_argmax(chooser, batch.bootstrap_mask)
        next_dist = jax.lax.stop_gradient(next_out[rows, best])  # (B, N)
        discount = jnp.where(batch.discount > 0, batch.discount, 0.0)
        if self.head == "c51":
            probs = jax.nn.softmax(next_dist, axis=-1)
            target_probs = jax.vmap(categorical_td_target, in_axes=(0, 0, None, 0))(
                batch.n_return, discount, self.support, probs
            )
            return jax.vmap(categorical_loss)(taken, target_probs)
        target_quantiles = batch.n_return[:, None] + discount[:, None] * next_dist
        taus = quantile_midpoints(self.atoms)
        return jax.vmap(quantile_huber_loss, in_axes=(0, None, 0))(taken, taus, target_quantiles)

    def _munchausen_target(self, target, batch, k_target, k_now):
        """M-DQN's target: soft value of the next state plus the clipped, scaled
        log-probability the target network's softmax policy gives the action taken."""
        q_next = self.q_values(target, batch.bootstrap_obs, k_target)  # (B, A)
        log_pi_next = masked_log_softmax(q_next / self.m_tau, batch.bootstrap_mask)
        pi_next = jnp.where(batch.bootstrap_mask, jnp.exp(log_pi_next), 0.0)
        soft_v = jnp.sum(pi_next * (q_next - self.m_tau * log_pi_next), axis=-1)
        q_now = self.q_values(target, batch.obs, k_now)
        # the buffer keeps the legal actions of next observations only: the policy at
        # obs is a softmax over every action (the same where all actions are legal)
        log_pi = jax.nn.log_softmax(q_now / self.m_tau, axis=-1)
        log_pi_taken = jnp.take_along_axis(log_pi, batch.action[:, None], axis=1)[:, 0]
        bonus = self.m_alpha * self.m_tau * jnp.clip(log_pi_taken, self.m_clip, 0.0)
        return batch.n_return + bonus + jnp.where(batch.discount > 0, batch.discount * soft_v, 0.0)

    def _lambda_target(self, online, target, batch, k_target, k_choose):
        """Peng's Q(lambda) or Retrace(lambda) over the stored steps (greedy target
        policy; Double: greedy for the online network)."""
        ahead = batch.ahead
        b, n = ahead.reward.shape
        flat = ahead.next_obs.reshape((b * n, *ahead.next_obs.shape[2:]))
        q_t = self.q_values(target, flat, k_target).reshape(b, n, -1)  # (B, n, A)
        chooser = self.q_values(online, flat, k_choose).reshape(b, n, -1) if self.double else q_t
        greedy = masked_argmax(chooser, ahead.next_mask)  # (B, n)
        v = jnp.take_along_axis(q_t, greedy[..., None], axis=-1)[..., 0]
        if self.correction == "peng":
            return jax.vmap(peng_target, in_axes=(0, 0, 0, 0, None))(
                ahead.reward, ahead.discount, v, ahead.more, self.lam
            )
        q_next_taken = jnp.take_along_axis(q_t, ahead.next_action[..., None], axis=-1)[..., 0]
        pi = (ahead.next_action == greedy).astype(jnp.float32)
        c = self.lam * jnp.minimum(1.0, pi / jnp.maximum(ahead.next_prob, 1e-8))
        return jax.vmap(retrace_target)(
            ahead.reward, ahead.discount, v, q_next_taken, c, ahead.more
        )

    def sample(self, replay: rb.Replay, key: jax.Array, beta: jax.Array | float, tree=None):
        return rb.sample(
            replay, key, self.batch_size, n_step=self.n_step, gamma=self.gamma,
            prioritized=self.per, alpha=self.per_alpha, beta=beta,
            steps_ahead=self.correction != "none", tree=tree,
        )  # fmt: skip

    def step(self, learner: Learner, batch: rb.Batch, q_next_target=None, key=None):
        """One gradient step on ``batch``: (learner, TD errors, stats)."""
        (loss, (td, q_mean)), grads = jax.value_and_grad(self.loss_and_td, has_aux=True)(
            learner.online, learner.target, batch, q_next_target, key
        )
        updates, opt_state = self.optimizer.update(grads, learner.opt_state, learner.online)
        online = optax.apply_updates(learner.online, updates)
        learner = learner._replace(online=online, opt_state=opt_state, updates=learner.updates + 1)
        return learner, td, UpdateStats(loss, q_mean, jnp.abs(td).mean())

    def update(
        self, learner: Learner, replay: rb.Replay, key: jax.Array, beta: jax.Array | float
    ) -> tuple[Learner, rb.Replay, UpdateStats]:
        """One gradient step on a sampled batch (and, with PER, its new priorities)."""
        return self.update_with_tree(learner, replay, key, beta)[:3]

    def update_with_tree(self, learner, replay, key, beta, tree=None, noise=None):
        """:meth:`update` given PER's sum tree of ``replay`` (built here if None, see
        :func:`~qlearn.deep.replay.priority_tree`), also returning the tree after the new
        priorities (None without PER). ``noise``: the step's layer noise, drawn ahead
        by :meth:`step_noise` from the key this update would split off for it."""
        if self.noisy:
            key, k_noise = split_noise_key(key)
            noise = k_noise if noise is None else noise
        if self.per and tree is None:
            tree = rb.priority_tree(replay, self.per_alpha)
        batch = self.sample(replay, key, beta, tree)
        learner, td, stats = self.step(learner, batch, None, noise)
        if self.per:
            replay = rb.update_priorities(replay, batch, td, self.per_eps)
            tree = rb.update_tree(tree, replay, batch, self.per_alpha)
        return learner, replay, stats, tree

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
        if self.per or not self.plain or not self._fits_ahead(replay, gradient_steps):
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
        """Sample, learn, re-prioritise, one batch after another (what PER needs). PER's
        sum tree is built once for the round and kept up to date by each update, and
        noisy layers' noise is drawn for every update of the round at once."""

        # Only the priorities change while learning: carrying the whole buffer through
        # the loop made XLA copy it (tens of MB of Atari frames) on every round.
        def one(carry, xs):
            learner, priority, max_priority, tree = carry
            k, noise = xs
            view = replay._replace(priority=priority, max_priority=max_priority)
            learner, view, stats, tree = self.update_with_tree(learner, view, k, beta, tree, noise)
            return (learner, view.priority, view.max_priority, tree), stats

        tree = rb.priority_tree(replay, self.per_alpha) if self.per else None
        noise = None
        if self.noisy and (self.per or self.plain_target):
            # The noise does not depend on learning: drawn for the whole round at once,
            # the same random numbers at a fraction of the cost. With a distributional
            # head, Munchausen's or a lambda target, XLA then fuses the noisy weights
            # differently and rounds them differently in the last bit, so those runs draw
            # ahead only with PER (whose samples the sum tree already changed): every run
            # keeps its numbers (tests/deep/test_dqn.py holds the plain target to it).
            def update_noise(k):
                return self.step_noise(learner.online, split_noise_key(k)[1])

            noise = jax.vmap(update_noise)(keys)
        start = (learner, replay.priority, replay.max_priority, tree)
        (learner, priority, max_priority, _), stats = jax.lax.scan(one, start, (keys, noise))
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


def split_noise_key(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The key of a call that may draw layer noise: (what the call keeps, the noise's
    key). One home, so that noise drawn ahead from a round's keys is the noise the calls
    would draw."""
    rest, k_noise = jax.random.split(key)
    return rest, k_noise


def make_optimizer(
    lr: float, max_grad_norm: float, lr_end: float | None = None, total_updates: int = 1
) -> optax.GradientTransformation:
    """Adam, after clipping the global gradient norm (0: no clipping); the learning rate
    decays linearly to ``lr_end`` over ``total_updates`` when that is given."""
    rate = lr if lr_end is None else optax.linear_schedule(lr, lr_end, max(1, total_updates))
    parts = [optax.clip_by_global_norm(max_grad_norm)] if max_grad_norm > 0 else []
    return optax.chain(*parts, optax.adam(rate))
