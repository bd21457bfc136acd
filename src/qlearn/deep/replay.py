"""Experience replay as a pytree of arrays: uniform or prioritized, with n-step returns.

The buffer holds ``rows`` time steps of ``num_envs`` parallel environments, shape
``(rows, envs, ...)``, written one row per vector step as a ring. Because each
environment's transitions stay in time order down its column, an n-step return is read
at sampling time by walking down the column from the sampled row, stopping at the end
of an episode or at the newest row written; nothing is precomputed, so ``n`` can be
any size and transitions are stored once.

All functions are pure (new buffers come back, nothing is mutated) and jit-friendly.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class Replay(NamedTuple):
    """The stored transitions, their priorities, and the ring's write position."""

    obs: jax.Array  # (rows, envs, *obs_shape)
    action: jax.Array  # (rows, envs) int32
    reward: jax.Array  # (rows, envs) float32
    next_obs: jax.Array  # (rows, envs, *obs_shape) the real next observation
    terminated: jax.Array  # (rows, envs) bool: no value after this step
    done: jax.Array  # (rows, envs) bool: the episode ended (terminated or truncated)
    next_mask: jax.Array  # (rows, envs, A) bool: legal actions at next_obs
    priority: jax.Array  # (rows, envs) float32, |TD error| + eps (prioritized replay)
    behaviour_prob: jax.Array  # (rows, envs) float32: probability the actor gave the action
    written: jax.Array  # () int32: rows written so far (the next row is written % rows)
    max_priority: jax.Array  # () float32: given to every new transition


class Transition(NamedTuple):
    """One vector step of ``envs`` environments, as stored (leading axis: envs)."""

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    next_obs: jax.Array
    terminated: jax.Array
    done: jax.Array
    next_mask: jax.Array
    behaviour_prob: jax.Array | None = None  # (envs,) None: not recorded (stored as 1)


class StepsAhead(NamedTuple):
    """The n stored steps of a sampled sequence, for lambda targets (leading axes: B, n).
    Step k is the transition from s_k; k = 0 is the sampled one."""

    reward: jax.Array  # (B, n)
    discount: jax.Array  # (B, n) gamma, 0 where the episode terminated at step k
    next_obs: jax.Array  # (B, n, *obs_shape) s_{k+1}
    next_mask: jax.Array  # (B, n, A)
    next_action: jax.Array  # (B, n) a_{k+1}, what the actor did at s_{k+1}
    next_prob: jax.Array  # (B, n) its behaviour probability
    more: jax.Array  # (B, n) bool: step k+1 is part of the sequence


class Batch(NamedTuple):
    """Sampled n-step transitions, ready for the loss (leading axis: batch)."""

    obs: jax.Array  # (B, *obs_shape)
    action: jax.Array  # (B,)
    n_return: jax.Array  # (B,) sum of discounted rewards over the m <= n steps used
    bootstrap_obs: jax.Array  # (B, *obs_shape) observation after those m steps
    bootstrap_mask: jax.Array  # (B, A) its legal actions
    discount: jax.Array  # (B,) gamma^m, or 0 when the episode terminated within them
    weight: jax.Array  # (B,) importance-sampling weight (1 for uniform replay)
    row: jax.Array  # (B,) where each sample sits, to update its priority
    env: jax.Array  # (B,)
    ahead: StepsAhead | None = None  # the steps one by one (lambda targets only)


def rows_for(buffer_size: int, num_envs: int) -> int:
    """Rows of the ring that hold at least ``buffer_size`` transitions."""
    return -(-buffer_size // num_envs)


def init(rows: int, num_envs: int, obs_shape: tuple[int, ...], obs_dtype, n_actions: int) -> Replay:
    """An empty buffer."""
    shape = (rows, num_envs)
    return Replay(
        obs=jnp.zeros(shape + tuple(obs_shape), obs_dtype),
        action=jnp.zeros(shape, jnp.int32),
        reward=jnp.zeros(shape, jnp.float32),
        next_obs=jnp.zeros(shape + tuple(obs_shape), obs_dtype),
        terminated=jnp.zeros(shape, bool),
        done=jnp.zeros(shape, bool),
        next_mask=jnp.zeros(shape + (n_actions,), bool),
        priority=jnp.zeros(shape, jnp.float32),
        behaviour_prob=jnp.ones(shape, jnp.float32),
        written=jnp.int32(0),
        max_priority=jnp.float32(1.0),
    )


def add(replay: Replay, t: Transition) -> Replay:
    """Write one vector step into the next row (overwriting the oldest when full)."""
    row = replay.written % replay.action.shape[0]

    def put(store, value):
        return store.at[row].set(value.astype(store.dtype))

    return replay._replace(
        obs=put(replay.obs, t.obs),
        action=put(replay.action, t.action),
        reward=put(replay.reward, t.reward),
        next_obs=put(replay.next_obs, t.next_obs),
        terminated=put(replay.terminated, t.terminated),
        done=put(replay.done, t.done),
        next_mask=put(replay.next_mask, t.next_mask),
        priority=replay.priority.at[row].set(replay.max_priority),
        behaviour_prob=replay.behaviour_prob.at[row].set(
            1.0 if t.behaviour_prob is None else jnp.asarray(t.behaviour_prob, jnp.float32)
        ),
        written=replay.written + 1,
    )


def size(replay: Replay) -> jax.Array:
    """Transitions stored (rows filled x envs)."""
    rows, envs = replay.action.shape
    return jnp.minimum(replay.written, rows) * envs


def _draw_uniform(replay: Replay, key: jax.Array, batch_size: int):
    rows, envs = replay.action.shape
    filled = jnp.minimum(replay.written, rows)
    flat = jax.random.randint(key, (batch_size,), 0, filled * envs)
    return flat, jnp.ones(batch_size, jnp.float32)


#: Children per node of PER's sum tree: few levels (log16 N), each a short gather.
BRANCH = 16


def _pairwise_sum(x: jax.Array) -> jax.Array:
    """Sum over the last axis (of ``BRANCH``) in a fixed pairwise order, so that a node
    summed while building the tree and while updating it gets the same float."""
    while x.shape[-1] > 1:
        x = x[..., 0::2] + x[..., 1::2]
    return x[..., 0]


def _level_sizes(n: int) -> list[int]:
    """Node counts of the tree's levels for ``n`` leaves, leaves first: each a multiple of
    ``BRANCH`` (zero padded); the last holds the root's ``BRANCH`` children."""
    sizes = []
    while True:
        n = -(-n // BRANCH) * BRANCH
        sizes.append(n)
        if n == BRANCH:
            return sizes
        n //= BRANCH


def priority_tree(replay: Replay, alpha) -> tuple[jax.Array, ...]:
    """The sum tree of ``p^alpha`` over the stored transitions, as its levels, leaves
    first: leaf i is transition ``row * envs + env`` (rows not yet written and the
    padding weigh 0), and each node of level k + 1 holds the sum of ``BRANCH`` nodes of
    level k. A tree updated in place (:func:`update_tree`) equals one built afresh, bit
    for bit."""
    rows, envs = replay.action.shape
    sizes = _level_sizes(rows * envs)
    filled_rows = jnp.minimum(replay.written, rows)
    live = (jnp.arange(rows) < filled_rows)[:, None]
    p = jnp.where(live, replay.priority, 0.0).reshape(-1) ** alpha  # (rows * envs,)
    levels = [jnp.zeros(sizes[0], jnp.float32).at[: p.shape[0]].set(p)]
    for size in sizes[1:]:
        sums = _pairwise_sum(levels[-1].reshape(-1, BRANCH))
        levels.append(jnp.zeros(size, jnp.float32).at[: sums.shape[0]].set(sums))
    return tuple(levels)


def tree_total(tree: tuple[jax.Array, ...]) -> jax.Array:
    """The sum of every leaf (the root)."""
    return _pairwise_sum(tree[-1])


def tree_find(tree: tuple[jax.Array, ...], target: jax.Array) -> jax.Array:
    """The leaves whose prefix sums hold ``target`` (B,) in [0, total): leaf i with
    ``sum_{j<i} w_j <= target < sum_{j<=i} w_j``, found by walking down from the root
    (the inverse of the cumulative distribution, one gather of ``BRANCH`` children per
    level and sample). The walk never enters a subtree of weight 0: where rounding
    carries ``target`` past a node's last child of weight > 0, it takes that child."""
    node = jnp.zeros(target.shape, jnp.int32)
    for level in reversed(tree):
        children = level.reshape(-1, BRANCH)[node]  # (B, BRANCH)
        prefix = [children[:, 0]]
        for k in range(1, BRANCH):  # in order, so the prefix sums never decrease
            prefix.append(prefix[-1] + children[:, k])
        prefix = jnp.stack(prefix, axis=1)  # (B, BRANCH) inclusive prefix sums
        j = jnp.sum(prefix <= target[:, None], axis=1)
        last = BRANCH - 1 - jnp.argmax(children[:, ::-1] > 0, axis=1)
        j = jnp.minimum(j, last)
        before = jnp.where(j > 0, jnp.take_along_axis(prefix, (j - 1)[:, None], 1)[:, 0], 0.0)
        target = target - before
        node = node * BRANCH + j
    return node


def update_tree(tree: tuple[jax.Array, ...], replay: Replay, batch: Batch, alpha):
    """``tree`` after the sampled transitions' priorities changed in ``replay`` (by
    :func:`update_priorities`): their leaves, then their ancestors level by level."""
    envs = replay.action.shape[1]
    node = batch.row * envs + batch.env  # (B,)
    # read back what the buffer kept: a transition sampled twice has one priority
    levels = [tree[0].at[node].set(replay.priority[batch.row, batch.env] ** alpha)]
    for level in tree[1:]:
        node = node // BRANCH
        sums = _pairwise_sum(levels[-1].reshape(-1, BRANCH)[node])
        levels.append(level.at[node].set(sums))
    return tuple(levels)


def _draw_prioritized(replay: Replay, key: jax.Array, batch_size: int, alpha, beta, tree=None):
    """Proportional prioritized sampling (Schaul et al., 2016), stratified over the batch:
    P(i) = p_i^alpha / sum p^alpha, weights (N P(i))^-beta normalised by the batch max.
    One draw per stratum ``[k, k + 1) / B`` of the total, found in the sum tree
    (:func:`priority_tree`; built here when not given)."""
    rows, envs = replay.action.shape
    filled_rows = jnp.minimum(replay.written, rows)
    if tree is None:
        tree = priority_tree(replay, alpha)
    total = tree_total(tree)
    u = (jnp.arange(batch_size) + jax.random.uniform(key, (batch_size,))) / batch_size
    flat = tree_find(tree, u * total)
    flat = jnp.clip(flat, 0, filled_rows * envs - 1)
    prob = tree[0][flat] / total
    n = (filled_rows * envs).astype(jnp.float32)
    weight = (n * prob) ** (-beta)
    return flat, weight / weight.max()


def sample(
    replay: Replay,
    key: jax.Array,
    batch_size: int,
    *,
    n_step: int = 1,
    gamma: float = 0.99,
    prioritized: bool = False,
    alpha: float = 0.6,
    beta: float | jax.Array = 0.4,
    steps_ahead: bool = False,
    tree: tuple[jax.Array, ...] | None = None,
) -> Batch:
    """A batch of n-step transitions (call only once the buffer holds something).

    The return from row t sums ``gamma^k r_{t+k}`` for k < m, where m <= n stops early at
    the end of an episode or at the newest row written (a shorter return is still a
    correct target), and bootstraps from the observation after step t+m-1 with
    ``gamma^m``, or not at all if the episode terminated there. ``steps_ahead`` also
    returns the m steps one by one (:class:`StepsAhead`) for lambda targets. ``tree``:
    the priorities' sum tree (:func:`priority_tree`), kept by a caller that samples
    many batches in turn (built afresh here otherwise).
    """
    rows, envs = replay.action.shape
    if prioritized:
        flat, weight = _draw_prioritized(replay, key, batch_size, alpha, beta, tree)
    else:
        flat, weight = _draw_uniform(replay, key, batch_size)
    row, env = flat // envs, flat % envs
    newest = (replay.written - 1) % rows
    newer = (newest - row) % rows  # rows written after the sampled one, in the same column

    n_return = jnp.zeros(batch_size, jnp.float32)
    discount = jnp.ones(batch_size, jnp.float32)  # gamma^k before step k
    last = row  # the row whose next_obs is bootstrapped from
    bootstrap = jnp.zeros(batch_size, jnp.float32)
    active = jnp.ones(batch_size, bool)
    used = []
    for k in range(n_step):  # n is static and small: unrolled
        r_k = (row + k) % rows
        used.append(active)
        n_return = n_return + jnp.where(active, discount * replay.reward[r_k, env], 0.0)
        last = jnp.where(active, r_k, last)
        ends = replay.terminated[r_k, env]
        bootstrap = jnp.where(active, jnp.where(ends, 0.0, discount * gamma), bootstrap)
        discount = discount * gamma
        active = active & ~replay.done[r_k, env] & (k + 1 <= newer)
    ahead = _steps_ahead(replay, row, env, n_step, gamma, used) if steps_ahead else None
    return Batch(
        obs=replay.obs[row, env],
        action=replay.action[row, env],
        n_return=n_return,
        bootstrap_obs=replay.next_obs[last, env],
        bootstrap_mask=replay.next_mask[last, env],
        discount=bootstrap,
        weight=weight,
        row=row,
        env=env,
        ahead=ahead,
    )


def _steps_ahead(replay: Replay, row, env, n_step: int, gamma: float, used: list) -> StepsAhead:
    """The sequence's steps one by one (B, n); steps past its end are marked unused."""
    rows = replay.action.shape[0]
    at = (row[:, None] + jnp.arange(n_step)[None, :]) % rows  # (B, n) row of step k
    nxt = (at + 1) % rows
    col = env[:, None]
    more = jnp.stack([*used[1:], jnp.zeros_like(used[0])], axis=1)  # (B, n)
    return StepsAhead(
        reward=replay.reward[at, col],
        discount=jnp.where(replay.terminated[at, col], 0.0, gamma),
        next_obs=replay.next_obs[at, col],
        next_mask=replay.next_mask[at, col],
        next_action=replay.action[nxt, col],
        next_prob=replay.behaviour_prob[nxt, col],
        more=more,
    )


def update_priorities(replay: Replay, batch: Batch, td_error: jax.Array, eps: float) -> Replay:
    """Set the sampled transitions' priorities to ``|td_error| + eps``."""
    new = jnp.abs(td_error).astype(jnp.float32) + eps
    return replay._replace(
        priority=replay.priority.at[batch.row, batch.env].set(new),
        max_priority=jnp.maximum(replay.max_priority, new.max()),
    )
