"""Local sweeps end to end: the textbook answer, the sweep folder, and refusals."""

import json
import sys

import pandas as pd
import pytest
import yaml
from conftest import run_cli, run_json

from qlearn import cli
from qlearn.cli.options import optional_ray_address
from qlearn.core.errors import QlearnError
from qlearn.core.stats import iqm
from qlearn.experiments import sweep as sweep_module
from qlearn.experiments.sweep import load_spec, run_sweep

CLIFF = {
    "name": "cliff",
    "world": "cliff",
    "fixed": {"episodes": 500, "epsilon": 0.1, "alpha": 0.5},
    "grid": {"algo": ["q-learning", "sarsa"]},
    "seeds": 8,
    "metric": "mean_return_last_100",
}


@pytest.fixture(scope="module")
def cliff_sweep(tmp_path_factory):
    """The cliff sweep run once through the CLI with its human-readable output."""
    root = tmp_path_factory.mktemp("cliff")
    spec = root / "cliff.yaml"
    spec.write_text(yaml.safe_dump(CLIFF))
    proc = run_cli("sweep", str(spec), "--out", str(root / "out"))
    assert proc.returncode == 0, proc.stderr
    return root, proc.stdout


def test_sarsa_earns_more_online_on_cliff_while_q_learning_learns_the_optimal_path(cliff_sweep):
    root, stdout = cliff_sweep
    out = root / "out"
    summary = json.loads((out / "summary.json").read_text())
    q, sarsa = summary["configurations"]
    assert q["params"] == {"algo": "q-learning"} and sarsa["params"] == {"algo": "sarsa"}
    # Sutton & Barto, Example 6.6: with epsilon 0.1 SARSA's online return is higher...
    assert summary["best"]["params"] == {"algo": "sarsa"} and sarsa["rank"] == 0
    assert sarsa["iqm_ci"][0] > q["iqm_ci"][1] and sarsa["mean_ci"][0] > q["mean_ci"][1]
    # ...because Q-learning learns the optimal path along the edge (13 steps) and falls
    # while exploring, and SARSA the longer safe path.
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 16 and list(table.columns[:4]) == [
        "config",
        "algo",
        "seed",
        "mean_return_last_100",
    ]
    greedy = table.groupby("algo").greedy_return
    assert (greedy.max()["q-learning"], greedy.min()["q-learning"]) == (-13, -13)
    assert greedy.max()["sarsa"] <= -15
    # The summary's statistics are those of the per-seed rows.
    for config in summary["configurations"]:
        values = table[table.config == config["id"]].mean_return_last_100.to_numpy()
        assert config["n"] == 8 and config["mean"] == pytest.approx(values.mean())
        assert config["iqm"] == pytest.approx(iqm(values))
        assert config["mean_ci"][0] < config["mean"] < config["mean_ci"][1]
    # What a person reads.
    assert "best: #1 algo=sarsa: IQM" in stdout
    assert "ranked by IQM" in stdout and "95% CI" in stdout
    assert stdout.index("\n1 ") < stdout.index("\n0 ")  # best row first


def test_the_sweep_folder_holds_spec_tables_figure_and_summary(cliff_sweep):
    root, _ = cliff_sweep
    out = root / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.csv",
        "results.csv",
        "summary.json",
        "sweep.png",
        "sweep.yaml",
    ]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary left
    png = (out / "sweep.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["config", "episode", "mean_return", "se_return"]
    assert len(curves) == 2 * 500
    table = pd.read_csv(out / "results.csv")
    first = table[table.config == 0]
    assert curves[curves.config == 0].mean_return.mean() == pytest.approx(first.mean_return.mean())
    # The resolved spec reruns the same sweep, with the same numbers.
    rerun = run_sweep(load_spec(out / "sweep.yaml"))
    assert rerun.table.to_csv(index=False) == (out / "results.csv").read_text()


def test_worker_processes_give_the_same_numbers_and_json_is_one_object(cliff_sweep, tmp_path):
    root, _ = cliff_sweep
    data = run_json(
        "sweep", str(root / "cliff.yaml"), "--workers", "2", "--out", str(tmp_path / "w2")
    )
    assert data["backend"] == "local" and data["sweep_dir"] == str(tmp_path / "w2")
    for name in ["results.csv", "curves.csv"]:
        assert (tmp_path / "w2" / name).read_bytes() == (root / "out" / name).read_bytes()
    local = json.loads((root / "out" / "summary.json").read_text())
    assert _without_timing(data["configurations"]) == _without_timing(local["configurations"])


def _without_timing(configs):
    return [{k: v for k, v in c.items() if k != "seconds"} for c in configs]


@pytest.mark.parametrize(
    "spec_text, extra, message",
    [
        ("world: cliff\ngrid: {alpha: [0.1]}\nseeds: 2\nmetirc: x\n", [], "unknown key 'metirc'"),
        ("world: cliff\ngrid: {algo: [sarsa, dqn]}\n", [], "algo mixes"),
        ("world: cliff\ngrid: {}\n", [], "grid is empty"),
        ("world: cliff\nseeds: 1\n", ["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, spec_text, extra, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text)
    proc = run_cli("sweep", str(spec), *extra, "--sweeps", str(tmp_path / "sweeps"))
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and proc.stdout == ""
    assert not (tmp_path / "sweeps").exists()


def test_an_existing_folder_is_not_overwritten(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("world: classic\nfixed: {episodes: 5}\nseeds: 1\n")
    (tmp_path / "taken").mkdir()
    proc = run_cli("sweep", str(spec), "--out", str(tmp_path / "taken"))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert list((tmp_path / "taken").iterdir()) == []


def test_a_trial_failing_midway_leaves_no_folder(tmp_path, monkeypatch):
    spec = tmp_path / "s.yaml"
    spec.write_text("world: classic\nfixed: {episodes: 5}\ngrid: {alpha: [0.1, 0.2]}\nseeds: 1\n")
    real = sweep_module.run_trial

    def flaky(trial):
        if trial.config_id == 1:
            raise RuntimeError("node lost")
        return real(trial)

    monkeypatch.setattr(sweep_module, "run_trial", flaky)
    with pytest.raises(RuntimeError, match="node lost"):
        cli.main(["sweep", str(spec), "--sweeps", str(tmp_path / "sweeps"), "--json"])
    assert not (tmp_path / "sweeps").exists() or list((tmp_path / "sweeps").iterdir()) == []


def test_python_api_takes_a_mapping_and_ranks_by_the_chosen_goal():
    result = run_sweep(
        {
            "world": "classic",
            "fixed": {"episodes": 150, "epsilon": "0.2"},
            "grid": {"alpha": [0.01, 0.5]},
            "seeds": 4,
            "metric": "final_gap",
            "rank_by": "mean",
        }
    )
    assert result.spec.goal == "min"  # the metric's natural direction
    slow, fast = result.configs
    assert fast.mean < slow.mean and result.best.id == fast.id
    assert result.summary()["best"]["params"] == {"alpha": "0.5"}


def test_missing_ray_gives_one_line_with_the_fix(monkeypatch):
    from qlearn.experiments.sweep_ray import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(QlearnError, match=r"--ray needs Ray Tune.*pip install 'qlearn\[ray\]'"):
        import_ray()


def test_a_bare_ray_flag_means_a_local_ray_instance():
    fix = optional_ray_address
    assert fix(["sweep", "s.yaml", "--ray"]) == ["sweep", "s.yaml", "--ray", "local"]
    assert fix(["sweep", "s.yaml", "--ray", "--json"])[3] == "local"
    assert fix(["sweep", "--ray", "s.yaml"]) == ["sweep", "--ray", "local", "s.yaml"]
    assert fix(["sweep", "s.yaml", "--ray", "10.0.0.1:6379"])[3] == "10.0.0.1:6379"
    assert fix(["train", "--ray"]) == ["train", "--ray"]


def test_the_bootstrap_seed_moves_only_the_intervals():
    data = {
        "world": "cliff",
        "fixed": {"episodes": 30, "epsilon": 0.1},
        "grid": {"alpha": [0.1, 0.5]},
        "seeds": 12,
        "metric": "mean_return",  # spread out: resampled quantiles do not sit on ties
    }
    first, again = run_sweep(data), run_sweep(data)
    other = run_sweep({**data, "bootstrap_seed": 1})
    assert first.summary()["configurations"][0]["mean_ci"] == list(again.configs[0].mean_ci)
    for a, b in zip(first.configs, other.configs, strict=True):
        assert (a.mean, a.iqm, a.se) == (b.mean, b.iqm, b.se)
        assert (a.mean_ci, a.iqm_ci) != (b.mean_ci, b.iqm_ci)
