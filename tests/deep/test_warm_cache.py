"""The set-up commands put the default DQN job's compiled program in JAX's on-disk cache,
so that job, run afterwards from the command line, compiles nothing the cache keeps."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_default_cartpole_run_finds_its_program_in_the_cache_the_set_up_warmed(tmp_path):
    cache = tmp_path / "cache"
    env = {**os.environ, "QLEARN_JAX_CACHE": str(cache)}
    warm = subprocess.run([sys.executable, "-m", "qlearn.precompile", "--dqn"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert warm.returncode == 0, warm.stderr
    assert "CartPole-v1's DQN program cached" in warm.stdout
    warmed = sorted(os.listdir(cache))
    assert warmed  # the initial state's and the training chunk's programs

    train = subprocess.run(
        [sys.executable, "-m", "qlearn.cli", "train", "CartPole-v1", "--json",
         "--out", str(tmp_path / "run")],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    out = train.stdout
    summary = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert summary["env_steps"] >= 50_000
    assert sorted(os.listdir(cache)) == warmed  # nothing new compiled for long enough to keep
