"""The command line end to end, in real subprocesses, on real files."""

import json

import numpy as np
import pytest
import yaml
from conftest import run_cli, run_json


def test_solve_classic_json_has_the_tutorial_numbers():
    data = run_json("solve", "classic")
    assert data["world"] == "classic" and data["gamma"] == 0.9 and data["sweeps"] >= 1
    assert data["v"]["(1,1)"] == pytest.approx(0.6561)
    assert data["q"]["(3,2)"] == pytest.approx({"N": 0.9, "S": 0.729, "E": -1.0, "W": 0.81})
    assert data["policy"]["(1,1)"] == ["N", "E"]
    # Terminal and wall cells are left out.
    for cell in ["(4,3)", "(4,2)", "(2,2)"]:
        assert cell not in data["q"] and cell not in data["v"] and cell not in data["policy"]


def test_solve_prints_grids_a_person_can_read():
    proc = run_cli("solve", "classic")
    assert proc.returncode == 0
    assert "0.656" in proc.stdout and "#####" in proc.stdout and "→" in proc.stdout


def test_solve_gymnasium_frozenlake_and_taxi():
    lake = run_json("solve", "FrozenLake-v1", "--env-arg", "map_name=8x8")
    assert len(lake["v"]) == 64 - 11  # holes and goal are terminal
    taxi = run_json("solve", "Taxi-v4", "--gamma", "0.95")
    assert "0" in taxi["q"] and set(taxi["q"]["0"]) == {
        "south",
        "north",
        "east",
        "west",
        "pickup",
        "dropoff",
    }


def test_solve_a_user_map_file(tmp_path):
    path = tmp_path / "corridor.txt"
    path.write_text("S..G\n")
    data = run_json("solve", "--map", str(path), "--gamma", "0.5")
    assert data["v"]["(1,1)"] == pytest.approx(0.25)


def test_train_writes_a_run_folder_and_json(tmp_path):
    out = tmp_path / "run"
    data = run_json(
        "train",
        "classic",
        "--algo",
        "q-learning",
        "--episodes",
        "300",
        "--alpha",
        "0.5",
        "--seeds",
        "4",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert len(data["curve"]) == 300
    assert len(data["per_seed"]) == 4 and data["env_steps"] > 300 * 4
    assert data["train_seconds"] >= 0
    assert set(data["q"]) == set(run_json("solve", "classic")["q"])
    assert all(p["greedy_return"] == 1.0 for p in data["per_seed"])
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["seed"] == 3 and config["seeds"] == 4 and config["world"] == "classic"
    metrics = (out / "metrics.csv").read_text().splitlines()
    assert metrics[0].startswith("seed,episode,return,length,gap,optimal_share")
    assert len(metrics) == 1 + 4 * 300
    with np.load(out / "tables.npz", allow_pickle=False) as tables:
        assert tables["q"].shape == (4, 11, 4)
        np.testing.assert_allclose(
            tables["q"].mean(axis=0)[0], list(data["q"]["(1,3)"].values()), atol=1e-9
        )
    assert json.loads((out / "summary.json").read_text())["curve"] == data["curve"]


def test_train_same_seed_same_numbers(tmp_path):
    a = run_json("train", "cliff", "--episodes", "50", "--seed", "7", "--out", str(tmp_path / "a"))
    b = run_json("train", "cliff", "--episodes", "50", "--seed", "7", "--out", str(tmp_path / "b"))
    c = run_json("train", "cliff", "--episodes", "50", "--seed", "8", "--out", str(tmp_path / "c"))
    assert a["q"] == b["q"] and a["curve"] == b["curve"]
    assert a["curve"] != c["curve"]


def test_train_reports_greedy_policies_that_never_reach_a_terminal(tmp_path):
    # SARSA on the cliff with alpha 0.5: seed 9's greedy policy loops between two cells.
    args = ["train", "cliff", "--algo", "sarsa", "--epsilon", "0.1", "--alpha", "0.5"]
    data = run_json(*args, "--seed", "8", "--seeds", "2", "--out", str(tmp_path / "r"))
    assert [p["greedy_return"] for p in data["per_seed"]] == [-17.0, None]
    proc = run_cli(*args, "--seed", "9", "--out", str(tmp_path / "text"))
    assert "never reaches a terminal in 1/1 seed(s)" in proc.stdout


def test_train_prints_the_table_and_greedy_arrows(tmp_path):
    proc = run_cli("train", "classic", "--seeds", "2", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "Learned Q" in proc.stdout and "→" in proc.stdout
    assert "max |Q - Q*|" in proc.stdout and str(tmp_path / "r") in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "narnia"], "unknown world 'narnia'"),
        (["train", "classic", "--algo", "magic"], "unknown algorithm 'magic'"),
        (["train", "classic", "--algo", "nosuch"], "td0, or dqn (deep Q-networks)"),
        (["train", "classic", "--alpha", "1.5"], "alpha must be in (0, 1]"),
        (["train", "classic", "--alpha", "0"], "alpha must be in (0, 1]"),
        (["train", "classic", "--gamma", "-0.1"], "gamma must be in [0, 1]"),
        (["solve", "classic", "--gamma", "1.1"], "gamma must be in [0, 1]"),
        (["train", "classic", "--episodes", "-5"], "episodes must be at least 1"),
        (["train", "classic", "--episodes", "many"], "Invalid value for '--episodes'"),
        (["train", "classic", "--colour", "red"], "No such option: --colour"),
        (["solve", "--map", "/no/such/map.txt"], "not found"),
        (["solve", "CartPole-v1"], "not a finite world"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ("S.X\n", "unknown map character 'X'"),
        ("..G\n", "no start cell"),
        ("S..G\n..\n", "ragged map"),
    ],
)
def test_malformed_map_files_exit_2(tmp_path, grid, message):
    path = tmp_path / "bad.txt"
    path.write_text(grid)
    proc = run_cli("train", "--map", str(path))
    assert proc.returncode == 2 and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failed_run_leaves_no_folder_behind(tmp_path):
    proc = run_cli("train", "classic", "--alpha", "2", "--out", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert list(tmp_path.iterdir()) == []


def test_envs_lists_worlds_and_gymnasium_ids():
    data = run_json("envs")
    assert {"classic", "cliff", "frozenlake4x4", "frozenlake8x8"} <= set(data["worlds"])
    assert "FrozenLake-v1" in data["gymnasium_finite"]


def test_a_wrong_value_in_the_config_file_is_reported_even_when_a_flag_overrides_it(tmp_path):
    (tmp_path / "c.yaml").write_text("episodes: many\n")
    proc = run_cli("train", "classic", "--config", str(tmp_path / "c.yaml"), "--episodes", "20",
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 2 and "option 'episodes' in config file" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_slip_on_a_world_without_ice_warns_in_one_line_and_the_run_goes_on(tmp_path):
    proc = run_cli("train", "classic", "--slip", "2/3", "--episodes", "20", "--quiet",
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stderr.strip() == "warning: slip 2/3 does nothing on classic: it has no slippery cells"
    )
