"""Off-policy learning from logged data: collect, then learn from the log alone."""

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, run_json

import qlearn
from qlearn.runs.logs import behaviour_policy
from qlearn.tabular.offline import check_log, collect, learn_from_log


@pytest.fixture(scope="module")
def random_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs") / "random.csv"
    info = run_json("collect", "classic", "--policy", "random", "--episodes", "300",
                    "--seed", "1", "--out", str(path))  # fmt: skip
    assert info["transitions"] > 300
    return path


def test_q_learning_from_uniform_random_logs_is_optimal_in_every_state(random_log, tmp_path):
    data = run_json("train", "classic", "--algo", "q-learning", "--from-log", str(random_log),
                    "--passes", "20", "--out", str(tmp_path / "r"))  # fmt: skip
    exact = run_json("solve", "classic")
    assert data["optimal_share"] == 1.0
    for cell, actions in data["policy"].items():
        assert set(actions) <= set(exact["policy"][cell]), cell
    assert data["final_gap"] < 1e-3
    assert data["greedy_return"] == 1.0
    for name in ("config.yaml", "metrics.csv", "tables.npz", "summary.json", "report.html"):
        assert (tmp_path / "r" / name).exists()


def test_the_log_has_readable_columns_and_matches_the_world(random_log):
    log = pd.read_csv(random_log)
    assert list(log.columns) == ["episode", "step", "state", "action", "reward",
                                 "next_state", "done"]  # fmt: skip
    assert log.state.iloc[0] == "(1,1)"
    assert set(log.action) <= {"N", "S", "E", "W"}
    ends = log[log.done]
    assert set(ends.next_state) <= {"(4,3)", "(4,2)"}
    # Every episode ends on a terminal or at the world's 100-step cap.
    steps = log.groupby("episode").step.max()
    unfinished = set(log.episode) - set(ends.episode)
    assert len(ends) + len(unfinished) == 300
    assert all(steps[e] == 100 for e in unfinished)


def test_parquet_logs_round_trip(tmp_path):
    path = tmp_path / "log.parquet"
    run_json("collect", "cliff", "--policy", "epsilon:0.3", "--episodes", "20", "--out", str(path))
    log = pd.read_parquet(path)
    mdp = qlearn.load_world("cliff")
    checked = check_log(log, mdp)
    assert len(checked) == len(log)


def test_collecting_greedily_from_a_saved_run(tmp_path):
    run_json("train", "classic", "--seeds", "4", "--out", str(tmp_path / "run"))
    info = run_json("collect", "classic", "--policy", f"greedy-from:{tmp_path / 'run'}",
                    "--episodes", "5", "--out", str(tmp_path / "g.csv"))  # fmt: skip
    assert info["transitions"] == 5 * 5  # the optimal route takes 5 steps


def test_sarsa_from_an_on_policy_log_learns_that_policys_values():
    mdp = qlearn.load_world("classic")
    pol = behaviour_policy(mdp, "optimal")
    log = check_log(collect(mdp, pol, episodes=200, seed=3), mdp)
    run = learn_from_log(mdp, log, algo="sarsa", alpha=0.5, passes=5)
    # The optimal policy is deterministic along its route: SARSA's values there are Q*.
    s = mdp.state_index("(1,3)")
    assert run.q[s, mdp.action_index("E")] == pytest.approx(0.81)


def _write(tmp_path, rows, columns=("episode", "step", "state", "action", "reward",
                                    "next_state", "done")):  # fmt: skip
    path = tmp_path / "bad.csv"
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


GOOD = [1, 1, "(1,1)", "E", 0, "(2,1)", False]


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        ([GOOD, [1, 2, "(9,9)", "E", 0, "(2,1)", False]], None, "row 2: unknown state '(9,9)'"),
        ([GOOD, [1, 2, "(2,1)", "X", 0, "(3,1)", False]], None, "row 2: unknown action 'X'"),
        ([[1, 1, "(1,1)", "E", 0, "(4,3)", True]], None, "row 1: (1,1) E cannot land on (4,3)"),
        (
            [[1, 1, "(3,3)", "E", 1, "(4,3)", False]],
            None,
            "row 1: done=False but (4,3) is terminal",
        ),
        ([[1, 1, "(1,1)", "E", "lots", "(2,1)", False]], None, "row 1: reward 'lots'"),
        (
            [["(1,1)", "E", "(2,1)"]],
            ("state", "action", "next_state"),
            "lacks column(s) reward, done",
        ),
    ],
)
def test_a_log_that_does_not_match_the_world_is_refused_with_the_row(tmp_path, rows, columns,
                                                                     message):  # fmt: skip
    path = _write(tmp_path, rows, columns) if columns else _write(tmp_path, rows)
    proc = run_cli("train", "classic", "--from-log", str(path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "classic", "--policy", "greedy"], "unknown --policy 'greedy'"),
        (["collect", "classic", "--policy", "epsilon:2"], "epsilon must be in [0, 1]"),
        (["collect", "classic", "--out", "log.txt"], "use a .csv or .parquet"),
        (["collect", "classic", "--episodes", "0"], "episodes must be a positive integer"),
        (["train", "classic", "--from-log", "/no/such.csv"], "not found"),
        (["train", "classic", "--passes", "3"], "--passes only applies with --from-log"),
    ],
)
def test_bad_collect_and_offline_options(tmp_path, args, message):
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_offline_learning_refuses_algorithms_that_need_the_logging_policy(random_log, tmp_path):
    proc = run_cli("train", "classic", "--algo", "td0", "--from-log", str(random_log),
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 2 and "learns with q-learning, double-q, sarsa" in proc.stderr


def test_double_q_from_logs_also_converges():
    mdp = qlearn.load_world("classic")
    log = check_log(collect(mdp, behaviour_policy(mdp, "random"), episodes=300, seed=2), mdp)
    run = learn_from_log(mdp, log, algo="double-q", alpha=0.5, passes=40)
    assert run.optimal_share == 1.0
    assert np.isfinite(run.gaps).all() and run.gaps[-1] < 0.01
