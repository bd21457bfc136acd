"""Training and decoding on graph-walk: same seed same numbers, resume, best-of-n's KL and
success, and (slow) ILQL far above BC from the random-walk logs."""

import json
import math

import jax
import numpy as np
import pytest

import qlearn
from qlearn.configs.text_config import TextConfig
from qlearn.core.errors import Interrupted, QlearnError
from qlearn.runs.text_results import train_in_folder
from qlearn.text.pipeline import evaluate_run, logged_walks, task_of, train_run
from qlearn.text.text_metrics import best_of_n_bound, best_of_n_kl, best_of_n_success
from qlearn.text.transformer import ModelSize, count_params, init_params

# The default network with the CLI tests' tiny settings: the compiled programs are shared.
TINY = dict(seeds=1, steps=10, samples=4, pool=8, episodes=100, betas=(0.0, 4.0),
            best_of=(1, 2))  # fmt: skip


def test_best_of_n_kl_by_hand_and_below_its_bound():
    # two levels of equal mass, n = 2: the best is the top level with 3/4
    kl = best_of_n_kl(np.array([0.0, 0.0, 1.0, 1.0]), 2)
    assert kl == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    assert best_of_n_bound(2) == pytest.approx(math.log(2) - 0.5)
    distinct = np.arange(1000.0)  # nearly continuous: close to the bound, never above
    for n in (1, 4, 16, 64):
        assert best_of_n_kl(distinct, n) <= best_of_n_bound(n) + 1e-12
        assert best_of_n_kl(distinct, n) == pytest.approx(best_of_n_bound(n), abs=0.01)
    binary = np.array([0.0] * 7 + [1.0] * 3)  # success p = 0.3: the KL tends to -log p
    assert best_of_n_kl(binary, 64) == pytest.approx(-math.log(0.3), abs=1e-6)
    assert best_of_n_success(0.3, 4) == pytest.approx(1 - 0.7**4)


def test_the_default_model_is_small_and_documented():
    size = ModelSize(vocab=21, length=10)
    n = count_params(init_params(size, jax.random.key(0)))
    assert 100_000 < n < 150_000


def test_same_seed_same_numbers_and_another_seed_other_numbers():
    a = qlearn.text.compare(methods=("bc", "ilql"), seed=3, **TINY).records
    b = qlearn.text.compare(methods=("bc", "ilql"), seed=3, **TINY).records
    c = qlearn.text.compare(methods=("bc", "ilql"), seed=4, **TINY).records
    assert a == b
    assert [r["optimality_mean"] for r in a] != [r["optimality_mean"] for r in c] or [
        r["kl"] for r in a
    ] != [r["kl"] for r in c]
    assert [(r["method"], r["setting"]) for r in a] == [
        ("bc", "temperature=1"), ("ilql", "beta=0"), ("ilql", "beta=4")
    ]  # fmt: skip


def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    cfg = TextConfig(method="ilql", **TINY)
    task = task_of(cfg)
    walks = logged_walks(cfg, task)
    whole = train_run(cfg, task, walks, ("ilql",))
    calls = []

    def stop_after_three():
        calls.append(1)
        return len(calls) >= 3

    folder = tmp_path / "run"
    folder.mkdir()
    with pytest.raises(Interrupted):
        train_in_folder(cfg, folder, task, walks, stop_requested=stop_after_three)
    assert (folder / "checkpoint.npz").exists()
    resumed = train_in_folder(cfg, folder, task, walks, resume=True)
    for key, state in whole.states.items():
        flat_a = jax.tree_util.tree_leaves(state.params)
        flat_b = jax.tree_util.tree_leaves(resumed.states[key].params)
        assert all(np.array_equal(x, y) for x, y in zip(flat_a, flat_b, strict=True))
        assert np.array_equal(whole.losses[key], resumed.losses[key])


def test_bad_options_are_one_line_errors():
    with pytest.raises(QlearnError, match="unknown method 'ppo'"):
        qlearn.text.compare(methods=("ppo",), **TINY)
    with pytest.raises(QlearnError, match="--beta must be 0 or more"):
        TextConfig(betas=(-1.0,))
    with pytest.raises(QlearnError, match="unknown task"):
        TextConfig(task="chess")


@pytest.mark.slow
def test_ilql_learns_near_optimal_walks_from_random_logs_where_bc_copies_them():
    """One seed at the default settings: ILQL (beta 100) >= 0.9, BC near the data's 0.35,
    best-of-n with the checker follows 1 - (1 - p)^n, its KL below log n - (n-1)/n."""
    cfg = TextConfig(method="ilql", seeds=1, samples=32, pool=64, best_of=(4, 16), betas=(100.0,))
    task = task_of(cfg)
    run = train_run(cfg, task, logged_walks(cfg, task), ("ilql",))
    records = {
        (r["method"], r["setting"]): r
        for r in evaluate_run(run, ("bc", "ilql", "best-of-n")).records
    }
    assert records[("ilql", "beta=100")]["optimality_mean"] >= 0.9
    assert 0.25 <= records[("bc", "temperature=1")]["optimality_mean"] <= 0.45
    for n in (4, 16):
        r = records[("best-of-n", f"n={n}, checker=true")]
        assert r["kl"] <= best_of_n_bound(n)
        assert abs(r["success_rate"] - r["predicted_success"]) < 0.06


def test_a_run_trained_in_python_is_written_as_a_run_folder(tmp_path):
    run = qlearn.text.train(method="ilql", **TINY)
    info = qlearn.write_text_run(run, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert saved["results"] == info["results"]
    assert [r["setting"] for r in saved["results"]] == ["beta=0", "beta=4"]
    assert (tmp_path / "run" / "networks.npz").exists()
