"""--config files: every option from YAML, flags override, saved configs reproduce runs."""

import json

import pytest
import yaml
from conftest import run_cli, run_json

import qlearn
from qlearn.configs.fields import config_from_mapping
from qlearn.configs.tabular_config import TabularConfig


def test_a_config_file_sets_every_option_and_flags_override_it(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(
        "world: cliff\nalgo: sarsa\nepisodes: 40\nalpha: 0.5\nepsilon: 0.1\nseeds: 2\nseed: 4\n"
    )
    data = run_json(
        "train", "--config", str(path), "--episodes", "30", "--out", str(tmp_path / "r")
    )
    assert data["world"] == "cliff" and data["algo"] == "sarsa"
    assert data["episodes"] == 30 and data["seeds"] == 2 and data["seed"] == 4
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["episodes"] == 30 and saved["epsilon"] == "0.1"


def test_the_saved_config_reproduces_the_run_exactly(tmp_path):
    first = run_json(
        "train",
        "frozenlake4x4",
        "--algo",
        "double-q",
        "--episodes",
        "200",
        "--alpha",
        "1/n^0.8",
        "--seeds",
        "3",
        "--seed",
        "11",
        "--out",
        str(tmp_path / "a"),
    )
    again = run_json(
        "train", "--config", str(tmp_path / "a" / "config.yaml"), "--out", str(tmp_path / "b")
    )
    for key in ("q", "curve", "per_seed", "env_steps"):
        assert again[key] == first[key]
    assert (tmp_path / "a" / "metrics.csv").read_text() == (
        tmp_path / "b" / "metrics.csv"
    ).read_text()


def test_a_world_on_the_command_line_replaces_the_files_map(tmp_path):
    grid = tmp_path / "g.txt"
    grid.write_text("S.G\n")
    path = tmp_path / "run.yaml"
    path.write_text(f"map_file: {grid}\nepisodes: 20\n")
    data = run_json("train", "classic", "--config", str(path), "--out", str(tmp_path / "r"))
    assert data["world"] == "classic"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("episodes: 100\ncolour: red\n", "unknown option 'colour' in config file"),
        ("episodes: many\n", "option 'episodes' in config file"),
        ("gamma: [0.9]\n", "option 'gamma' in config file"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("episodes: [1,\n", "is not valid YAML"),
        ("alpha: 3\n", "alpha must be in (0, 1]"),
    ],
)
def test_bad_config_files_are_refused_naming_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = run_cli("train", "--config", str(path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_config_from_mapping_in_python():
    cfg = config_from_mapping(TabularConfig, {"episodes": 10, "alpha": 0.25}, "test")
    assert cfg.alpha == "0.25" and cfg.episodes == 10
    with pytest.raises(qlearn.QlearnError, match="option 'seeds' in test must be an integer"):
        config_from_mapping(TabularConfig, {"seeds": 2.5}, "test")


def test_summary_json_is_the_json_output(tmp_path):
    data = run_json("train", "classic", "--episodes", "10", "--out", str(tmp_path / "r"))
    assert json.loads((tmp_path / "r" / "summary.json").read_text()) == data
