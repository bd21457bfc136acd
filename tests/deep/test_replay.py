"""The replay buffer: ring writes, n-step returns by hand, prioritized sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import qlearn.deep  # noqa: F401 - configures XLA before JAX starts
from qlearn.deep import replay as rb


def _buffer(rewards, dones, terminated=None, rows=8, envs=1):
    """A buffer of one environment whose observation at step t is the number t."""
    buf = rb.init(rows, envs, (1,), jnp.float32, 2)
    terminated = dones if terminated is None else terminated
    for t, (r, d, term) in enumerate(zip(rewards, dones, terminated, strict=True)):
        buf = rb.add(
            buf,
            rb.Transition(
                obs=jnp.full((envs, 1), t, jnp.float32),
                action=jnp.zeros(envs, jnp.int32),
                reward=jnp.full(envs, r, jnp.float32),
                next_obs=jnp.full((envs, 1), t + 1, jnp.float32),
                terminated=jnp.full(envs, term),
                done=jnp.full(envs, d),
                next_mask=jnp.ones((envs, 2), bool),
            ),
        )
    return buf


def _sample_row(buf, row, n, gamma):
    """The n-step batch entry of ``row``, found by sampling until it comes up."""
    for k in range(400):
        batch = rb.sample(buf, jax.random.PRNGKey(k), 16, n_step=n, gamma=gamma)
        hits = np.flatnonzero(np.asarray(batch.row) == row)
        if hits.size:
            i = hits[0]
            return (float(batch.n_return[i]), float(batch.discount[i]),
                    float(batch.bootstrap_obs[i, 0]))  # fmt: skip
    raise AssertionError(f"row {row} never sampled")


def test_three_step_return_by_hand():
    buf = _buffer([1.0, 2.0, 3.0, 4.0, 5.0], [False] * 5)
    g, disc, boot = _sample_row(buf, 0, 3, 0.5)
    assert g == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)  # 2.75
    assert disc == pytest.approx(0.125) and boot == 3.0  # bootstraps from s_3


def test_n_step_stops_at_termination_without_bootstrapping():
    buf = _buffer([1.0, 2.0, 3.0, 4.0], [False, True, False, False])
    g, disc, boot = _sample_row(buf, 0, 3, 0.5)
    assert g == pytest.approx(1 + 0.5 * 2) and disc == 0.0 and boot == 2.0


def test_n_step_stops_at_truncation_but_bootstraps():
    # the episode ended at step 1 by the time limit: the future still counts
    buf = _buffer([1.0, 2.0, 3.0, 4.0], [False, True, False, False], [False] * 4)
    g, disc, boot = _sample_row(buf, 0, 3, 0.5)
    assert g == pytest.approx(2.0) and disc == pytest.approx(0.25) and boot == 2.0


def test_n_step_uses_what_is_written_at_the_newest_row():
    buf = _buffer([1.0, 2.0, 3.0], [False] * 3)
    g, disc, boot = _sample_row(buf, 2, 3, 0.9)  # the newest row has no successors yet
    assert g == pytest.approx(3.0) and disc == pytest.approx(0.9) and boot == 3.0


def test_ring_overwrites_the_oldest_rows():
    buf = _buffer([float(t) for t in range(11)], [False] * 11, rows=8)
    assert int(rb.size(buf)) == 8
    stored = sorted(np.asarray(buf.obs[:, 0, 0]).tolist())
    assert stored == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    # the oldest row (t=3) still sums its true successors, across the ring's seam
    g, _, boot = _sample_row(buf, 3, 2, 1.0)
    assert g == pytest.approx(3 + 4) and boot == 5.0


def test_uniform_sampling_only_draws_written_rows():
    buf = _buffer([0.0] * 3, [False] * 3, rows=100)
    batch = rb.sample(buf, jax.random.PRNGKey(0), 256)
    assert set(np.asarray(batch.row).tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(batch.weight, 1.0)


def test_prioritized_sampling_follows_priorities_and_corrects_with_weights():
    buf = _buffer([0.0] * 4, [False] * 4, rows=4)
    buf = buf._replace(priority=jnp.array([[1.0], [1.0], [1.0], [7.0]]))
    rows = np.concatenate(
        [
            np.asarray(rb.sample(buf, jax.random.PRNGKey(k), 100, prioritized=True, alpha=1.0).row)
            for k in range(40)
        ]
    )
    share = np.mean(rows == 3)
    assert share == pytest.approx(0.7, abs=0.03)  # 7 / (1 + 1 + 1 + 7)
    batch = rb.sample(buf, jax.random.PRNGKey(1), 100, prioritized=True, alpha=1.0, beta=1.0)
    w = np.asarray(batch.weight)
    # (N P(i))^-1: P = 0.1 -> 2.5, P = 0.7 -> 0.357; normalised by the largest
    assert w[np.asarray(batch.row) == 3] == pytest.approx(0.357 / 2.5, rel=1e-3)
    assert w[np.asarray(batch.row) != 3] == pytest.approx(1.0)


def test_new_transitions_get_the_largest_priority_seen():
    buf = _buffer([0.0] * 2, [False] * 2, rows=4)
    batch = rb.sample(buf, jax.random.PRNGKey(0), 2)
    buf = rb.update_priorities(buf, batch, jnp.array([5.0, -3.0]), 1e-6)
    assert float(buf.max_priority) == pytest.approx(5.0 + 1e-6)
    t = rb.Transition(
        jnp.zeros((1, 1)), jnp.zeros(1, jnp.int32), jnp.zeros(1), jnp.zeros((1, 1)),
        jnp.zeros(1, bool), jnp.zeros(1, bool), jnp.ones((1, 2), bool),
    )  # fmt: skip
    buf = rb.add(buf, t)
    assert float(buf.priority[2, 0]) == pytest.approx(5.0 + 1e-6)


def _prioritized_buffer(rows=5, envs=3, written=4, seed=0, zero=()):
    """A buffer of ``written`` of ``rows`` rows with random priorities (some set to 0)."""
    buf = rb.init(rows, envs, (1,), jnp.float32, 2)
    p = np.random.default_rng(seed).uniform(0.05, 3.0, (rows, envs)).astype(np.float32)
    for row, env in zero:
        p[row, env] = 0.0
    return buf._replace(priority=jnp.asarray(p), written=jnp.int32(written))


def _exact_probabilities(buf, alpha):
    """P(i) = p_i^alpha / sum p^alpha over written transitions, in float64 (flat order)."""
    rows, envs = buf.priority.shape
    filled = min(int(buf.written), rows)
    p = np.asarray(buf.priority, np.float64) ** alpha
    p[filled:] = 0.0
    return (p / p.sum()).reshape(-1)


def test_sum_tree_is_the_inverse_of_the_exact_cumulative_distribution():
    # leaf i takes exactly the targets in [F(i-1), F(i)) of the total: P(i) = p_i^a / sum
    buf = _prioritized_buffer(rows=40, envs=3, written=31, zero=[(3, 1), (7, 0), (7, 1)])
    alpha = 0.7
    tree = rb.priority_tree(buf, alpha)
    exact = _exact_probabilities(buf, alpha)
    edges = np.cumsum(exact)
    grid = np.linspace(0, 1, 20_001)[:-1]
    u = np.concatenate([grid, np.random.default_rng(1).uniform(size=5000)])
    found = np.asarray(rb.tree_find(tree, jnp.asarray(u, jnp.float32) * rb.tree_total(tree)))
    expected = np.searchsorted(edges, u, side="right")
    near_an_edge = np.min(np.abs(u[:, None] - np.concatenate([[0], edges])[None, :]), axis=1) < 1e-5
    assert np.all((found == expected) | near_an_edge)
    assert np.all(exact[found] > 0)  # never a transition of priority 0, nor an unwritten one
    assert found.max() < 31 * 3
    # targets at (or rounded past) the total land on the last transition of weight > 0
    last = np.flatnonzero(exact > 0)[-1]
    total = rb.tree_total(tree)
    np.testing.assert_array_equal(rb.tree_find(tree, jnp.stack([total, total * 1.01])), last)


def test_prioritized_draws_follow_exact_proportional_probabilities_with_exact_weights():
    buf = _prioritized_buffer(rows=5, envs=3, written=4, zero=[(1, 2)])
    alpha, beta, batch = 0.7, 0.5, 64
    exact = _exact_probabilities(buf, alpha)  # 12 written transitions, one of priority 0

    @jax.jit
    def draw(keys):
        def one(k):
            b = rb.sample(buf, k, batch, prioritized=True, alpha=alpha, beta=beta)
            return b.row * 3 + b.env, b.weight

        return jax.vmap(one)(keys)

    flat, weight = (np.asarray(x) for x in draw(jax.random.split(jax.random.PRNGKey(0), 4000)))
    share = np.bincount(flat.reshape(-1), minlength=15) / flat.size
    np.testing.assert_allclose(share, exact, atol=0.003)  # 256,000 draws
    # importance weights: (N P(i))^-beta, normalised by the batch's largest
    w = (12 * exact[flat]) ** -beta
    np.testing.assert_allclose(weight, w / w.max(axis=1, keepdims=True), rtol=1e-5)


def test_sum_tree_updated_in_place_equals_the_tree_built_afresh_bit_for_bit():
    buf = _prioritized_buffer(rows=300, envs=2, written=260)
    alpha = 0.6
    # rows sampled twice, and siblings under one node, in one batch
    rows = jnp.array([5, 5, 6, 7, 100, 259, 0, 1, 2, 3, 4, 5])
    envs = jnp.array([0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1])
    batch = rb.sample(buf, jax.random.PRNGKey(0), 12)._replace(row=rows, env=envs)
    td = jnp.linspace(-4.0, 9.0, 12)

    @jax.jit
    def updated(buf, tree):
        new = rb.update_priorities(buf, batch, td, 1e-6)
        return new, rb.update_tree(tree, new, batch, alpha)

    new, tree = updated(buf, jax.jit(rb.priority_tree, static_argnums=1)(buf, alpha))
    fresh = jax.jit(rb.priority_tree, static_argnums=1)(new, alpha)
    for level, level_fresh in zip(tree, fresh, strict=True):
        np.testing.assert_array_equal(level, level_fresh)
    np.testing.assert_allclose(
        rb.tree_total(tree), (np.asarray(new.priority[:260], np.float64) ** alpha).sum(), rtol=1e-5
    )
