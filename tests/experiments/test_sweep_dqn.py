"""DQN sweeps: the statistics and sweep folder of tabular sweeps, and one-line refusals.

One small sweep on classic (Double DQN on and off, 2 seeds, 6000 steps) runs once
through the CLI; everything else is checked on the parsed spec, before anything trains.
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_cli, run_json

from qlearn.core.errors import QlearnError
from qlearn.core.stats import iqm
from qlearn.experiments.sweep import load_spec, run_sweep
from qlearn.experiments.sweep_spec import parse_spec

CLASSIC = {
    "name": "classic-dqn",
    "world": "classic",
    "algo": "dqn",
    "fixed": {"steps": 6000, "learning_starts": 200},
    "grid": {"double": [False, True]},
    "seeds": 2,
}
COLUMNS = [
    "config",
    "double",
    "seed",
    "eval_return",
    "best_eval_return",
    "mean_return",
    "train_episodes",
    "greedy_return",
    "greedy_finishes",
    "final_gap",
    "optimal_share",
    "env_steps",
]


@pytest.fixture(scope="module")
def classic_sweep(tmp_path_factory):
    """The classic DQN sweep, run once through the CLI (--json)."""
    root = tmp_path_factory.mktemp("dqn")
    spec = root / "classic-dqn.yaml"
    spec.write_text(yaml.safe_dump(CLASSIC))
    return root, run_json("sweep", str(spec), "--out", str(root / "out"))


def test_a_dqn_sweep_on_classic_ranks_by_eval_return_with_exact_columns(classic_sweep):
    root, summary = classic_sweep
    out = root / "out"
    assert summary["metric"] == "eval_return" and summary["goal"] == "max"  # dqn's default
    assert "greedy evaluation" in summary["metric_meaning"]
    table = pd.read_csv(out / "results.csv")
    assert list(table.columns) == COLUMNS and len(table) == 4
    assert table.seed.tolist() == [0, 1, 0, 1] and table.double.tolist() == [False] * 2 + [True] * 2
    # 6000 steps are enough on classic: within 0.05 of Q* and optimal everywhere.
    assert table.final_gap.max() < 0.05
    assert (table.optimal_share == 1.0).all() and (table.greedy_finishes == 1).all()
    assert np.allclose(table.greedy_return, 1.0) and np.allclose(table.eval_return, 1.0)
    assert (table.best_eval_return >= table.eval_return).all()
    assert (table.env_steps == 6000).all() and (table.train_episodes > 0).all()
    for config in summary["configurations"]:
        values = table[table.config == config["id"]].eval_return.to_numpy()
        assert config["n"] == 2 and config["mean"] == pytest.approx(values.mean())
        assert config["iqm"] == pytest.approx(iqm(values))
        assert config["env_steps"] == 12_000 and config["greedy_unfinished"] == 0
    ranked = sorted(summary["configurations"], key=lambda c: c["rank"])
    assert [c["iqm"] for c in ranked] == sorted((c["iqm"] for c in ranked), reverse=True)
    assert summary["best"]["id"] == ranked[0]["id"]


def test_the_dqn_sweep_folder_has_evaluation_curves_and_reruns_digit_for_digit(classic_sweep):
    root, _ = classic_sweep
    out = root / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.csv",
        "results.csv",
        "summary.json",
        "sweep.png",
        "sweep.yaml",
    ]
    assert (out / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["config", "evaluation", "step", "mean_return", "se_return"]
    first = curves[curves.config == 0]
    assert first.evaluation.tolist() == list(range(1, 11))  # ten evaluations per run
    assert first.step.tolist() == list(range(600, 6001, 600))
    # the resolved spec pins the tuned settings, and rerunning it repeats every number
    resolved = yaml.safe_load((out / "sweep.yaml").read_text())
    assert resolved["fixed"]["net"] == [64] and resolved["fixed"]["gamma"] == 0.9
    assert resolved["metric"] == "eval_return"
    rerun = run_sweep(load_spec(out / "sweep.yaml"))
    assert rerun.table.to_csv(index=False) == (out / "results.csv").read_text()
    assert rerun.curves.to_csv(index=False) == (out / "curves.csv").read_text()


def spec(**changes):
    data = {"world": "classic", "algo": "dqn", "fixed": {"steps": 3000}, "seeds": 2}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"fixed": {"lr": 0}}, r"fixed options: lr must be in \(0, 1\], got 0"),
        ({"fixed": {"net": [0]}}, r"net must have at most 16 layers of 1 to 65536 units"),
        ({"fixed": {"net": 64}}, "fixed.net must be a list of integers, got 64"),
        (
            {"fixed": {"learning_rat": 0.01}},
            "unknown key 'learning_rat' in fixed; did you mean 'lr'",
        ),
        ({"grid": {"duelling": [True]}}, "unknown key 'duelling' in grid; did you mean 'dueling'"),
        ({"fixed": {"double": "yes"}}, "fixed.double must be true or false, got 'yes'"),
        ({"fixed": {"steps": 2.5}}, "fixed.steps must be an integer"),
        ({"grid": {"batch_size": [32, 0]}}, r"configuration 1 \(batch_size=0\): batch_size must"),
        ({"grid": {"net": [[64], [64, 64.5]]}}, r"grid.net\[1\] must be a list of integers"),
        ({"random": {"lr": {"loguniform": [0, 0.01]}}, "samples": 2}, "bounds must be above 0"),
        ({"fixed": {"episodes": 100}}, "episodes is not an option of algo dqn; use steps"),
        ({"fixed": {"decay": "linear"}}, "decay is not an option of algo dqn; remove it"),
        ({"world": "atlantis"}, "fixed options: unknown environment 'atlantis'"),
        ({"metric": "mean_return_last_5000"}, "needs at least 5000 training episodes.*3000 steps"),
        ({"world": "CartPole-v1", "metric": "final_gap"}, "final_gap needs the exact solution"),
        ({"world": "CartPole-v1", "metric": "greedy_return"}, "CartPole-v1 has none"),
    ],
)
def test_bad_dqn_specs_are_refused_in_one_line(changes, message):
    with pytest.raises(QlearnError, match=message) as info:
        parse_spec(spec(**changes))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"world": "classic", "grid": {"algo": ["q-learning", "dqn"]}},
            r"algo mixes tabular algorithms and dqn \(q-learning, dqn\).*split it",
        ),
        (
            {"world": "classic", "random": {"algo": {"choice": ["dqn", "sarsa"]}}, "samples": 2},
            "algo mixes tabular algorithms and dqn",
        ),
        ({"world": "classic", "metric": "eval_return"}, "DQN's greedy evaluations"),
        (
            {"world": "classic", "fixed": {"steps": 100}},
            "steps is not an option of algo q-learning",
        ),
        ({"world": "classic", "fixed": {"double": True}}, "set algo: dqn"),
    ],
)
def test_tabular_and_dqn_do_not_mix(data, message):
    with pytest.raises(QlearnError, match=message) as info:
        parse_spec(data)
    assert "\n" not in str(info.value)


def test_gymnax_ids_take_their_tuned_settings_and_sweep_dqn_options():
    s = parse_spec(
        {
            "world": "CartPole-v1",
            "algo": "dqn",
            "grid": {"net": [[64], [128, 128]], "n_step": [1, 3]},
            "random": {"lr": {"loguniform": ["1e-4", 1e-2]}},  # YAML reads 1e-4 as text
            "samples": 1,
        }
    )
    assert s.metric == "eval_return" and len(s.configurations) == 4
    first = s.configurations[0]
    assert first.params["net"] == [64] and first.params["n_step"] == 1
    assert 1e-4 <= first.params["lr"] <= 1e-2 and first.options["lr"] == first.params["lr"]
    assert first.options["steps"] == 50_000 and first.options["dueling"] is True  # tuned
    assert s.fixed["world"] == "CartPole-v1" and "net" not in s.fixed
    assert parse_spec(s.to_dict()).configurations == s.configurations  # YAML-able, stable


def test_a_bad_dqn_option_exits_2_in_one_line_and_writes_nothing(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("world: classic\nalgo: dqn\ngrid: {lr: [0.001, 0]}\nseeds: 1\n")
    proc = run_cli("sweep", str(path), "--sweeps", str(tmp_path / "sweeps"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "configuration 1 (lr=0): lr must be in" in proc.stderr
    assert not (tmp_path / "sweeps").exists()


def test_summary_json_is_strict_json(classic_sweep):
    root, summary = classic_sweep
    saved = json.loads((root / "out" / "summary.json").read_text())
    assert saved["configurations"] == summary["configurations"]


def test_a_worker_gives_jax_only_its_share_of_the_cores():
    # As a --workers process or Ray trial inherits it from a parent that imported JAX.
    code = (
        "import os; os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=2'; "
        "from qlearn.experiments.trials import limit_jax_devices; limit_jax_devices(1); "
        "import qlearn.deep, jax; print(jax.local_device_count())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
