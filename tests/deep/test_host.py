"""The host loop: Gymnasium environments (Atari included) with the same jitted DQN."""

import jax
import numpy as np
import pytest
from conftest import run_json

from qlearn.deep.train import resolve_config, run
from qlearn.runs import job

GYM_CARTPOLE = {"world": "CartPole-v1", "backend": "gymnasium", "steps": 4096,
                "eval_every": 1024, "eval_episodes": 3, "seeds": 2}  # fmt: skip


@pytest.fixture(scope="module")
def cartpole_run():
    return run(resolve_config(GYM_CARTPOLE))


def test_gymnasium_cartpole_trains_and_evaluates_on_separate_environments(cartpole_run):
    r = cartpole_run
    assert r.target.backend == "gymnasium" and r.env_steps == 4096
    assert r.eval_returns.shape == (2, 4, 3)
    assert (r.eval_returns >= 8).all()  # CartPole pays 1 per step; no episode is shorter
    episodes = r.episodes
    assert set(episodes.seed) == {0, 1} and episodes.step.max() <= 4096
    assert np.isfinite(r.history.arrays["loss"][:, r.history.arrays["trained"]]).all()


def test_same_seed_same_numbers_and_a_seed_alone_equals_it_among_others(cartpole_run):
    alone = run(resolve_config({**GYM_CARTPOLE, "seeds": 1, "seed": 1}))
    for a, b in zip(
        jax.tree.leaves(alone.params), jax.tree.leaves(cartpole_run.params), strict=True
    ):
        np.testing.assert_array_equal(a[0], b[1])
    np.testing.assert_array_equal(alone.eval_returns[0], cartpole_run.eval_returns[1])
    first = jax.tree.leaves(cartpole_run.params)[0]
    assert not np.array_equal(first[0], first[1])


class Crash(Exception):
    pass


def test_resuming_replays_the_environments_and_ends_bit_for_bit_equal(tmp_path, cartpole_run):
    cfg = resolve_config(GYM_CARTPOLE)
    out = job.start(cfg, tmp_path / "run")

    def crash_after_two(done, total, history):
        if done >= 2048:
            raise Crash  # the process dies right after a checkpoint was written

    with pytest.raises(Crash):
        job.train(cfg, out, checkpoint_every=1024, progress=crash_after_two)
    assert (out / "checkpoint.npz").exists()
    resumed = job.train(cfg, out, resume=True)
    for a, b in zip(
        jax.tree.leaves(resumed.params), jax.tree.leaves(cartpole_run.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.eval_returns, cartpole_run.eval_returns)
    assert resumed.episodes.equals(cartpole_run.episodes)


def test_an_environment_that_does_not_replay_exactly_is_refused(tmp_path):
    from qlearn.core.errors import QlearnError
    from qlearn.runs.folder import load_npz, save_npz

    cfg = resolve_config({**GYM_CARTPOLE, "seeds": 1})
    out = job.start(cfg, tmp_path / "run")

    def crash(done, total, history):
        raise Crash

    with pytest.raises(Crash):
        job.train(cfg, out, checkpoint_every=1024, progress=crash)
    arrays = load_npz(out / "checkpoint.npz")
    arrays["envs/obs"] = arrays["envs/obs"] + 1.0  # as if the environment had drifted
    save_npz(out / "checkpoint.npz", arrays)
    with pytest.raises(QlearnError, match="did not replay to the saved state"):
        job.train(cfg, out, resume=True)


@pytest.mark.slow
def test_a_short_real_atari_run_goes_through_the_standard_wrappers(tmp_path):
    out = tmp_path / "breakout"
    data = run_json("train", "ALE/Breakout-v5", "--steps", "600", "--buffer-size", "600",
                    "--learning-starts", "400", "--eval-every", "600", "--eval-episodes", "1",
                    "--out", str(out))  # fmt: skip
    assert data["backend"] == "gymnasium" and data["env_steps"] == 600
    assert data["eval_epsilon"] == 0.05  # the Atari protocol's evaluation epsilon
    with np.load(out / "params.npz", allow_pickle=False) as p:
        kernels = [p[k] for k in p.files if k.endswith("kernel")]
    # Nature CNN: 8x8x4 -> 32, 4x4x32 -> 64, 3x3x64 -> 64, then 3136 -> 512 -> actions
    shapes = sorted(k.shape[1:] for k in kernels)
    assert (8, 8, 4, 32) in shapes and (3136, 512) in shapes
    from qlearn.deep.host import EnvSpec

    env = EnvSpec("ALE/Breakout-v5", True, 0, (4, 84, 84), np.uint8, 4).make(training=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8  # stacked grayscale frames
    env.close()


@pytest.mark.slow
def test_minatar_trains_in_the_compiled_trainer(tmp_path):
    data = run_json("train", "Breakout-MinAtar", "--steps", "6000", "--learning-starts", "1000",
                    "--eval-episodes", "2", "--out", str(tmp_path / "m"))  # fmt: skip
    assert data["backend"] == "compiled" and data["env_steps"] == 6000
    assert all(p["eval_mean"] is not None for p in data["per_seed"])
