"""Sizes are checked before work: a sweep too large for this machine is refused in one
line naming the key to change, at once (no expansion, no training); a long training run
prints its estimated work up front; a training run too large is refused."""

from __future__ import annotations

import time

import pytest
from conftest import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.core.limits import check_fits, human_bytes, machine_memory, usable_memory
from qlearn.experiments.sweep_size import MAX_CONFIGURATIONS, configuration_count
from qlearn.experiments.sweep_spec import parse_spec
from qlearn.runs import job

DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=15)
HUGE = st.integers(10**9, 10**18)


def _refused(spec: dict) -> str:
    started = time.perf_counter()
    with pytest.raises(QlearnError) as info:
        parse_spec(spec)
    assert time.perf_counter() - started < 5, "a refusal must come before any expansion"
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_machine_memory_is_read_and_half_of_it_is_usable():
    assert machine_memory() > 2**30
    assert usable_memory() == int(machine_memory() * 0.5)
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(3 * 2**40) == "3.0 TiB"
    with pytest.raises(QlearnError, match="lower --episodes"):
        check_fits(machine_memory(), "training", "lower --episodes")


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"world": "classic", "seeds": 10**9}, "lower seeds"),
        ({"world": "classic", "bootstrap": 10**9}, "lower bootstrap"),
        ({"world": "classic", "fixed": {"episodes": 10**9}}, "episodes"),
        (
            {"world": "classic", "random": {"alpha": {"uniform": [0.1, 0.9]}}, "samples": 10**9},
            "lower samples",
        ),
        ({"world": "classic", "grid": {k: list(range(1, 1001)) for k in ("episodes", "seed_step")}},
         None),
    ],
)  # fmt: skip
def test_a_sweep_too_large_is_refused_at_once_naming_the_key(spec, key):
    if key is None:  # an unknown key is refused before sizes are counted
        _refused(spec)
        return
    assert key in _refused(spec)


def test_a_grid_of_a_billion_configurations_is_refused_at_once():
    values = [round(0.001 * i, 6) for i in range(1, 1001)]
    spec = {"world": "classic", "grid": {"alpha": values, "gamma": values, "epsilon": values}}
    assert configuration_count(spec["grid"], None) == 10**9
    message = _refused(spec)
    assert "1,000,000,000 configurations" in message and "grid" in message
    assert f"{MAX_CONFIGURATIONS:,}" in message


@given(key=st.sampled_from(["seeds", "bootstrap", "samples", "episodes", "steps"]), value=HUGE)
@settings(DETERMINISTIC, suppress_health_check=list(HealthCheck))
def test_fuzz_huge_values_in_a_sweep_spec_are_refused_not_run(key, value):
    spec: dict = {"world": "classic"}
    if key == "samples":
        spec.update(random={"alpha": {"uniform": [0.1, 0.9]}}, samples=value)
    elif key == "episodes":
        spec["fixed"] = {"episodes": value}
    elif key == "steps":
        spec.update(algo="dqn", fixed={"steps": value})
    else:
        spec[key] = value
    _refused(spec)


@given(lengths=st.lists(st.integers(1, 5000), min_size=2, max_size=4))
@settings(DETERMINISTIC, suppress_health_check=list(HealthCheck))
def test_fuzz_large_grids_are_refused_or_small_enough_to_check(lengths):
    keys = ["alpha", "gamma", "epsilon", "q_init"][: len(lengths)]
    grid = {
        k: [round(0.5 + (i + 1) * 1e-5, 6) for i in range(n)]
        for k, n in zip(keys, lengths, strict=True)
    }
    if configuration_count(grid, None) > MAX_CONFIGURATIONS:
        _refused({"world": "classic", "grid": grid})


def test_a_long_run_has_an_estimate_and_a_huge_one_is_refused():
    assert job.work_estimate(TabularConfig(episodes=500)) is None
    line = job.work_estimate(TabularConfig(episodes=10**9))
    assert "1,000,000,000 episodes x 1 seeds" in line and "\n" not in line
    assert "steps" in job.work_estimate(DQNConfig(world="CartPole-v1", steps=10**7))
    with pytest.raises(QlearnError, match="lower --episodes or --seeds"):
        job.check_size(TabularConfig(episodes=10**9, seeds=1000))


def test_the_cli_prints_the_estimate_even_quiet_and_refuses_before_the_folder(tmp_path):
    out = tmp_path / "r"
    proc = run_cli("train", "classic", "--episodes", "1000000000", "--seeds", "1000", "--quiet",
                   "--out", str(out))  # fmt: skip
    assert proc.returncode == 2 and "lower --episodes or --seeds" in proc.stderr
    assert not out.exists()


def _main(capsys, *args) -> tuple[int, str]:
    from qlearn.cli.commands import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    return stop.value.code, capsys.readouterr().err


def test_a_long_run_prints_its_estimate_on_stderr_even_with_quiet(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(job, "LONG_EPISODES", 10)
    code, err = _main(capsys, "train", "classic", "--episodes", "20", "--quiet", "--out",
                      tmp_path / "r")  # fmt: skip
    assert code == 0 and err.startswith("long run: 20 episodes x 1 seeds = 20 episodes")
    assert len(err.strip().splitlines()) == 1


def test_a_sweep_says_how_many_configurations_and_seeds_it_trains(capsys, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("world: classic\nseeds: 2\nfixed: {episodes: 20}\ngrid: {alpha: [0.1, 0.5]}\n")
    code, err = _main(capsys, "sweep", spec, "--out", tmp_path / "sw", "--json")
    assert code == 0 and "sweep s: 2 configurations x 2 seeds" in err
