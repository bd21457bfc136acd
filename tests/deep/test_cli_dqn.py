"""`qlearn train --algo dqn` and `qlearn eval` end to end, in real processes, on real files."""

import json
import signal

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli, run_json, start_cli, wait_for_file

CLASSIC = ["train", "classic", "--algo", "dqn", "--steps", "6000", "--seeds", "2"]


@pytest.fixture(scope="module")
def classic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("dqn") / "classic"
    return out, run_json(*CLASSIC, "--out", str(out))


def test_json_has_per_seed_evaluations_steps_seconds_and_q_in_the_solve_layout(classic_run):
    out, data = classic_run
    assert data["kind"] == "dqn" and data["world"] == "classic" and data["gamma"] == 0.9
    assert data["env_steps"] == 2 * 6000 and data["train_seconds"] > 0
    assert [p["seed"] for p in data["per_seed"]] == [0, 1]
    for p in data["per_seed"]:
        assert p["eval_mean"] == pytest.approx(1.0) and p["eval_std"] == 0.0
        assert p["optimal_share"] == 1.0 and p["gap"] < 0.05
    assert set(data["q"]["(3,2)"]) == {"N", "S", "E", "W"}
    assert data["q"]["(3,2)"]["N"] == pytest.approx(0.9, abs=0.05)
    assert "(4,3)" not in data["q"] and "(2,2)" not in data["q"]  # terminal and wall left out
    assert len(data["curve"]) == len(data["eval_steps"]) == 10


def test_run_folder_holds_config_tables_parameters_report_and_tensorboard(classic_run):
    out, data = classic_run
    names = {p.name for p in out.iterdir()}
    assert {"config.yaml", "metrics.csv", "episodes.csv", "evals.csv", "params.npz",
            "tables.npz", "report.html", "summary.json"} <= names  # fmt: skip
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert not any(n.startswith(".") for n in names)  # no temporary files left behind
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["kind"] == "dqn" and config["steps"] == 6000 and config["gamma"] == 0.9
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns[:4]) == ["seed", "step", "eval_mean", "eval_std"]
    assert len(metrics) == 2 * 10 and metrics["step"].max() == 6000
    assert metrics.groupby("step")["eval_mean"].mean().tolist() == pytest.approx(data["curve"])
    episodes = pd.read_csv(out / "episodes.csv")
    assert episodes.groupby("seed")["episode"].max().min() > 100
    with np.load(out / "params.npz", allow_pickle=False) as params:
        assert params["seeds"].tolist() == [0, 1]
    assert json.loads((out / "summary.json").read_text()) == data


def test_tensorboard_events_hold_the_evaluation_curve(classic_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, data = classic_run
    events = EventAccumulator(str(out))
    events.Reload()
    evals = events.Scalars("eval/return")
    assert [e.step for e in evals] == data["eval_steps"]
    assert [e.value for e in evals] == pytest.approx(data["curve"])
    assert {"train/loss", "train/epsilon", "train/learning_rate", "episode/return"} <= set(
        events.Tags()["scalars"]
    )


def test_the_saved_config_reproduces_the_run(classic_run, tmp_path):
    out, data = classic_run
    again = run_json("train", "--config", str(out / "config.yaml"), "--out", str(tmp_path / "b"))
    assert again["q"] == data["q"] and again["curve"] == data["curve"]


def test_eval_evaluates_the_saved_parameters(classic_run):
    out, _ = classic_run
    data = run_json("eval", str(out), "--episodes", "4")
    assert (
        data["kind"] == "dqn" and data["episodes"] == 4 and data["parameters"] == "final parameters"
    )
    assert [p["eval_mean"] for p in data["per_seed"]] == [1.0, 1.0]
    assert np.asarray(data["returns"]).shape == (2, 4)
    proc = run_cli("eval", str(out))
    assert proc.returncode == 0 and "mean over seeds: 1" in proc.stdout


def test_eval_of_a_tabular_run_reports_sampled_and_exact_returns(tmp_path):
    out = tmp_path / "t"
    run_json("train", "classic", "--episodes", "300", "--out", str(out))
    data = run_json("eval", str(out), "--episodes", "5")
    assert data["kind"] == "tabular"
    assert data["per_seed"][0]["eval_mean"] == 1.0
    assert data["per_seed"][0]["exact_greedy_return"] == 1.0


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--lr", "0"], "lr must be in (0, 1]"),
        (["--net", "64,x"], "cannot read --net"),
        (["--num-envs", "0"], "num_envs must be at least 1"),
        (["--tau", "1.5"], "tau must be in (0, 1]"),
        (["--alpha", "0.5"], "--alpha does not apply to dqn"),
        (["--batch-size", "0"], "batch_size must be at least 1"),
        (["--backend", "gpu"], "unknown backend"),
    ],
)
def test_bad_dqn_options_get_one_line_and_status_2(tmp_path, args, expected):
    proc = run_cli(*CLASSIC, *args, "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_dqn_options_on_a_tabular_learner_and_unfit_environments_are_refused(tmp_path):
    proc = run_cli("train", "classic", "--algo", "q-learning", "--steps", "100")
    assert proc.returncode == 2 and "--steps is a DQN option" in proc.stderr
    proc = run_cli("train", "Pendulum-v1", "--steps", "100", "--out", str(tmp_path / "p"))
    assert proc.returncode == 2 and "discrete action space" in proc.stderr
    proc = run_cli("train", "NoSuchEnv-v9", "--algo", "dqn")
    assert proc.returncode == 2 and "unknown environment" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_environment_that_is_not_finite_trains_dqn_by_default(tmp_path):
    data = run_json("train", "CartPole-v1", "--steps", "2048", "--learning-starts", "512",
                    "--eval-episodes", "2", "--out", str(tmp_path / "c"))  # fmt: skip
    assert data["kind"] == "dqn" and data["backend"] == "compiled"
    assert data["env_steps"] == 2048 and data["reward_threshold"] == 475.0


# ---- crashes, resume, numerical trouble, hostile files ----

# Twelve chunks with a checkpoint after each: killed after the first, eleven remain.
SLOW_CHUNKS = ["train", "CartPole-v1", "--steps", "24576", "--eval-every", "2048",
               "--gradient-steps", "64", "--eval-episodes", "3", "--seeds", "2", "--seed", "3",
               "--checkpoint-every", "2048", "--quiet"]  # fmt: skip


def _start(out, *extra):
    return start_cli(*SLOW_CHUNKS, *extra, "--out", str(out))


def _params(out):
    with np.load(out / "params.npz", allow_pickle=False) as p:
        return {k: p[k] for k in p.files}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "run"
    run_json(*SLOW_CHUNKS, "--out", str(out))
    return out


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_dqn_run_bit_for_bit(tmp_path, uninterrupted):
    out = tmp_path / "run"
    proc = _start(out)
    wait_for_file(out / "checkpoint.npz", proc)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    with np.load(out / "checkpoint.npz", allow_pickle=False) as ck:
        assert 0 < int(ck["chunks_done"]) < 12
    resumed = run_json("train", "--resume", str(out))
    full, got = _params(uninterrupted), _params(out)
    assert full.keys() == got.keys()
    for k in full:
        np.testing.assert_array_equal(full[k], got[k])
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert resumed["curve"] == summary["curve"] and resumed["per_seed"] == summary["per_seed"]
    assert (out / "episodes.csv").read_text() == (uninterrupted / "episodes.csv").read_text()
    assert not (out / "checkpoint.npz").exists()


@pytest.mark.slow
def test_ctrl_c_saves_a_dqn_checkpoint_and_resumes_exactly(tmp_path, uninterrupted):
    out = tmp_path / "run"
    proc = _start(out)
    wait_for_file(out / "checkpoint.npz", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "interrupted after" in stderr and "--resume" in stderr and "Traceback" not in stderr
    run_json("train", "--resume", str(out))
    full, got = _params(uninterrupted), _params(out)
    for k in full:
        np.testing.assert_array_equal(full[k], got[k])


def test_a_pickled_dqn_checkpoint_is_refused(tmp_path):
    out = tmp_path / "r"
    run_json("train", "classic", "--algo", "dqn", "--steps", "1000", "--out", str(out))
    (out / "summary.json").unlink()
    payload = np.array([{"run": "os.system('touch pwned')"}], dtype=object)
    with open(out / "checkpoint.npz", "wb") as fh:
        np.savez(fh, chunks_done=np.array(1), **{"state/learner.online": payload})
    proc = run_cli("train", "--resume", str(out))
    assert proc.returncode == 2
    assert "refuses to load" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "pwned").exists()


def test_divergence_stops_with_when_and_what_to_change_and_keeps_the_checkpoint(tmp_path):
    # a reward near float32's largest number: squared errors overflow to inf, then NaN
    world = tmp_path / "huge.yaml"
    world.write_text("legend:\n  X: {kind: terminal, reward: 3.0e+38}\ngrid: |\n  S.X\n")
    out = tmp_path / "nan"
    proc = run_cli("train", "--map", str(world), "--algo", "dqn", "--steps", "6000",
                   "--loss", "mse", "--max-grad-norm", "0", "--eval-every", "500",
                   "--checkpoint-every", "500", "--out", str(out))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "training diverged" in line and "environment step 504" in line and "--lr" in line
    assert "last good checkpoint" in line
    with np.load(out / "checkpoint.npz", allow_pickle=False) as ck:
        for name in ck.files:
            if name.startswith("state/learner.online"):
                assert np.isfinite(ck[name]).all()
    assert not (out / "summary.json").exists()
