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
