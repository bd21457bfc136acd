"""The command line and the Python API refuse the same input, with the same words."""

import pandas as pd
import pytest
from conftest import run_cli

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.runs.logs import behaviour_policy, check_log_path, write_log
from qlearn.tabular.offline import collect


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "--seed must be at least 0, got -1"),
        ({"max_steps": 0}, "--max-steps must be at least 1, got 0"),
    ],
)
def test_collect_refuses_a_negative_seed_and_an_empty_episode_cap(kwargs, message, tmp_path):
    mdp = qlearn.load_world("classic")
    with pytest.raises(QlearnError, match=message):
        collect(mdp, behaviour_policy(mdp, "random"), 5, **kwargs)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]
    proc = run_cli("collect", "classic", *flags, "--out", str(tmp_path / "log.csv"))
    assert proc.returncode == 2 and proc.stderr == f"error: {message}\n"
    assert not (tmp_path / "log.csv").exists()


def test_a_log_file_must_be_csv_or_parquet_before_anything_is_rolled_out(tmp_path):
    message = f"--out {str(tmp_path / 'log.txt')!r}: use a .csv or .parquet file name"
    for name in ("log.csv", "log.PARQUET", "log.pq"):
        assert check_log_path(tmp_path / name) == tmp_path / name
    with pytest.raises(QlearnError) as info:
        write_log(pd.DataFrame({"state": ["(1,1)"]}), tmp_path / "log.txt")
    assert str(info.value) == message
    proc = run_cli("collect", "classic", "--out", str(tmp_path / "log.txt"))
    assert proc.returncode == 2 and proc.stderr == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []
