"""Run folders survive crashes: checkpoints, SIGKILL, Ctrl-C, exact resume, safe loading."""

import json
import signal
import time

import numpy as np
import pytest
from conftest import run_cli, run_json, start_cli, wait_for_file

# A wide open field where a random walk takes thousands of steps to find the goal: long
# enough to be killed partway (a few seconds), with few episodes to write out.
FIELD = "\n".join(["G" + "." * 24] + ["." * 25] * 23 + ["." * 24 + "S"]) + "\n"
EPISODES = 3000


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    path = tmp_path_factory.mktemp("map") / "field.txt"
    path.write_text(FIELD)
    return path


def _args(field):
    return ["train", "--map", str(field), "--algo", "q-learning", "--episodes", str(EPISODES),
            "--epsilon", "1", "--max-steps", "100000", "--seeds", "4", "--seed", "5",
            "--checkpoint-every", "150"]  # fmt: skip


def _start(field, out):
    return start_cli(*_args(field), "--out", str(out))


def _tables(out):
    with np.load(out / "tables.npz", allow_pickle=False) as t:
        return t["q"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, field):
    out = tmp_path_factory.mktemp("full") / "run"
    run_json(*_args(field), "--out", str(out))
    return out


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_run_bit_for_bit(
    tmp_path, field, uninterrupted
):
    out = tmp_path / "run"
    proc = _start(field, out)
    wait_for_file(out / "checkpoint.npz", proc)
    time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    with np.load(out / "checkpoint.npz", allow_pickle=False) as ck:
        assert 0 < int(ck["episodes_done"]) < EPISODES
    resumed = run_json("train", "--resume", str(out))
    np.testing.assert_array_equal(_tables(out), _tables(uninterrupted))
    full = json.loads((uninterrupted / "summary.json").read_text())
    assert resumed["curve"] == full["curve"] and resumed["env_steps"] == full["env_steps"]
    assert (out / "metrics.csv").read_text() == (uninterrupted / "metrics.csv").read_text()
    assert not (out / "checkpoint.npz").exists()


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, field, uninterrupted):
    out = tmp_path / "run"
    proc = _start(field, out)
    wait_for_file(out / "checkpoint.npz", proc)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert (out / "checkpoint.npz").exists() and not (out / "summary.json").exists()
    run_json("train", "--resume", str(out))
    np.testing.assert_array_equal(_tables(out), _tables(uninterrupted))


def test_resume_refuses_a_finished_run_and_extra_options(tmp_path):
    out = tmp_path / "r"
    run_json("train", "classic", "--episodes", "5", "--out", str(out))
    proc = run_cli("train", "--resume", str(out))
    assert proc.returncode == 2 and "already finished" in proc.stderr
    proc = run_cli("train", "--resume", str(out), "--episodes", "9")
    assert proc.returncode == 2 and "drop --episodes" in proc.stderr


def test_a_pickled_checkpoint_is_refused(tmp_path):
    out = tmp_path / "r"
    run_json("train", "classic", "--episodes", "5", "--out", str(out))
    (out / "summary.json").unlink()
    payload = np.array([{"run": "os.system('touch pwned')"}], dtype=object)
    with open(out / "checkpoint.npz", "wb") as fh:
        np.savez(fh, q=payload, episodes_done=np.array(1))
    proc = run_cli("train", "--resume", str(out))
    assert proc.returncode == 2
    assert "refuses to load" in proc.stderr and "Traceback" not in proc.stderr
