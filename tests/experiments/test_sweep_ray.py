"""Sweeps on a real Ray instance started by the test: the same numbers as locally.

One Ray instance serves the module (Ray takes seconds to start); the CLI joins it as a
second driver through its address, exactly as it would join a remote cluster's head.
"""

import json

import pytest
import yaml
from conftest import run_cli, run_json

from qlearn.experiments.sweep import run_sweep

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

SPEC = {
    "name": "cliff-ray",
    "world": "cliff",
    "fixed": {"episodes": 100, "epsilon": 0.1},
    "grid": {"algo": ["q-learning", "sarsa"], "alpha": [0.1, 0.5]},
    "seeds": 4,
    "seed": 7,
    "metric": "mean_return_last_20",
}


@pytest.fixture(scope="module")
def ray_address():
    context = ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=100 * 2**20,
        log_to_driver=False,
    )
    yield context.address_info["gcs_address"]
    ray.shutdown()


def _without_timing(summary):
    return [{k: v for k, v in c.items() if k != "seconds"} for c in summary["configurations"]]


def test_cli_sweep_on_a_ray_cluster_matches_the_local_sweep(ray_address, tmp_path):
    spec = tmp_path / "cliff.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    local = run_json("sweep", str(spec), "--out", str(tmp_path / "local"))
    on_ray = run_json("sweep", str(spec), "--ray", ray_address, "--out", str(tmp_path / "ray"))
    assert (local["backend"], on_ray["backend"]) == ("local", "ray")
    assert _without_timing(on_ray) == _without_timing(local)
    assert on_ray["best"]["id"] == local["best"]["id"]
    for name in ["results.csv", "curves.csv", "sweep.yaml"]:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    saved = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert saved["configurations"] == on_ray["configurations"]
    assert len(saved["configurations"]) == 4 and all(c["n"] == 4 for c in saved["configurations"])


def test_python_api_uses_the_running_ray_instance_for_a_random_search(ray_address):
    spec = {
        **SPEC,
        "grid": {"algo": ["q-learning", "sarsa"]},
        "random": {"alpha": {"uniform": [0.1, 0.9]}},
        "samples": 1,
        "sampler_seed": 5,
    }
    seen = []
    on_ray = run_sweep(spec, ray="local", on_result=lambda r: seen.append(r.config_id))
    assert ray.is_initialized()  # an instance this call did not start is left running
    local = run_sweep(spec)
    assert on_ray.backend == "ray" and sorted(seen) == [0, 1]
    assert on_ray.table.equals(local.table) and on_ray.curves.equals(local.curves)
    assert _without_timing(on_ray.summary()) == _without_timing(local.summary())


def test_an_address_nothing_listens_on_fails_fast_in_one_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("world: classic\nfixed: {episodes: 5}\nseeds: 1\n")
    proc = run_cli("sweep", str(spec), "--ray", "127.0.0.1:1", "--sweeps", str(tmp_path / "sw"))
    # what the sweep would train, then the one-line error
    counted, error = proc.stderr.splitlines()
    assert proc.returncode == 2 and counted == "sweep s: 1 configurations x 1 seeds"
    assert error.startswith("error: cannot reach a Ray cluster at 127.0.0.1:1")
    assert not (tmp_path / "sw").exists()


def test_a_dqn_sweep_on_ray_gives_the_local_numbers(ray_address):
    # Each Ray trial gets one CPU, so one JAX device, where the local run has one per
    # core: a seed's numbers do not depend on it.
    spec = {
        "name": "classic-dqn-ray",
        "world": "classic",
        "algo": "dqn",
        "fixed": {"steps": 1500, "learning_starts": 200, "double": True},
        "seeds": 2,
    }
    on_ray = run_sweep(spec, ray="local")
    local = run_sweep(spec)
    assert on_ray.backend == "ray" and "final_gap" in on_ray.table.columns
    assert on_ray.table.equals(local.table) and on_ray.curves.equals(local.curves)
    assert _without_timing(on_ray.summary()) == _without_timing(local.summary())
