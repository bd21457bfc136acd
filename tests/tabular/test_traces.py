"""Eligibility traces: Watkins's Q(lambda) and SARSA(lambda) in the compiled loop.

lambda 0 is the one-step learner to the bit; lambda > 0 matches a textbook full-table
implementation replayed on the same transitions; on classic Q(lambda) reaches Q* sooner
than Q-learning; bad input is refused in one line.
"""

import json

import numpy as np
import pytest
from conftest import run_cli

import qlearn
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.runs import job
from qlearn.tabular.explain import explain, narration_lines
from qlearn.tabular.loop import TRACE_FIELDS
from qlearn.tabular.train import fresh_runs, prepare, run_config

ONE_STEP = {"q-lambda": "q-learning", "sarsa-lambda": "sarsa"}


def same_arrays(a, b) -> bool:
    return all(
        np.array_equal(x, y, equal_nan=True) for x, y in zip(a.arrays, b.arrays, strict=True)
    )


@pytest.mark.parametrize("algo", ["q-lambda", "sarsa-lambda"])
@pytest.mark.parametrize(
    "world, options",
    [
        ("classic", {}),
        ("classic", {"alpha": "1/n^0.8", "epsilon": "0.3"}),
        ("cliff", {"explore": "boltzmann", "temperature": "2:0.1"}),
        ("frozenlake4x4", {"alpha": 0.1, "q_init": 0.5}),
    ],
)
def test_lambda_zero_is_the_one_step_learner_bit_for_bit(algo, world, options):
    one_step = qlearn.train(world, algo=ONE_STEP[algo], episodes=150, seeds=4, seed=3, **options)
    for traces in ("accumulating", "replacing"):
        traced = qlearn.train(
            world, algo=algo, lam=0.0, traces=traces, episodes=150, seeds=4, seed=3, **options
        )
        assert same_arrays(traced, one_step)  # tables, metrics, generator states, all


def test_a_seed_gives_the_same_numbers_alone_or_in_a_batch():
    batch = qlearn.train("cliff", algo="q-lambda", lam=0.9, episodes=100, seeds=3, seed=7)
    alone = qlearn.train("cliff", algo="q-lambda", lam=0.9, episodes=100, seeds=1, seed=8)
    np.testing.assert_array_equal(batch.q_per_seed[1], alone.q_per_seed[0])
    np.testing.assert_array_equal(batch.arrays.gaps[1], alone.arrays.gaps[0])


def traced_run(algo: str, lam: float, traces: str, episodes: int = 6):
    """A one-seed run that keeps every transition (as ``explain`` does)."""
    cfg = TabularConfig(world="classic", algo=algo, lam=lam, traces=traces, episodes=episodes,
                        epsilon="0.4", alpha="0.5", seed=11)  # fmt: skip
    mdp = qlearn.load_world("classic")
    runs = fresh_runs(prepare(cfg, mdp))
    runs = runs._replace(trace=np.full((1, 10_000, len(TRACE_FIELDS)), np.nan))
    run = run_config(cfg, mdp, runs=runs)
    return run, run.arrays.trace[0, : int(run.arrays.steps[0])]


def textbook(mdp, rows, algo, lam, gamma, alpha, replacing):
    """Sutton & Barto's tabular Q(lambda) / SARSA(lambda) on whole (S, A) arrays, replaying
    the loop's transitions: every entry moves by alpha * delta * e, all traces decay by
    gamma * lambda; Watkins zeroes them all before an action that is not greedy."""
    col = {name: i for i, name in enumerate(TRACE_FIELDS)}
    q = np.zeros(mdp.legal.shape)
    e = np.zeros_like(q)
    episode = -1
    for row in rows:
        s, a, s2 = int(row[col["state"]]), int(row[col["action"]]), int(row[col["next_state"]])
        r, a2 = row[col["reward"]], int(row[col["next_action"]])
        if row[col["episode"]] != episode:
            episode, e[:] = row[col["episode"]], 0.0
        best = q[s][mdp.legal[s]].max()
        if algo == "q-lambda" and q[s, a] < best:
            e[:] = 0.0
        if mdp.terminal[s2]:
            target = r
        elif algo == "q-lambda":
            target = r + gamma * q[s2][mdp.legal[s2]].max()
        else:
            target = r + gamma * q[s2, a2]
        delta = target - q[s, a]
        e[s, a] = 1.0 if replacing else e[s, a] + 1.0
        q += alpha * delta * e
        e *= gamma * lam
    return q


@pytest.mark.parametrize("algo", ["q-lambda", "sarsa-lambda"])
@pytest.mark.parametrize("traces", ["accumulating", "replacing"])
def test_the_loop_matches_a_textbook_full_table_implementation(algo, traces):
    run, rows = traced_run(algo, 0.8, traces)
    assert len(rows) > 30
    q = textbook(run.mdp, rows, algo, 0.8, run.gamma, 0.5, traces == "replacing")
    # The loop drops traces below 1e-12; the textbook keeps them: equal to 1e-9.
    np.testing.assert_allclose(run.q_per_seed[0], q, rtol=0, atol=1e-9)
    assert np.abs(q).max() > 0.1  # something was learned


def test_watkins_cuts_its_traces_at_exploratory_actions():
    run, rows = traced_run("q-lambda", 0.8, "accumulating", episodes=20)
    narration = explain(run.mdp, episodes=20, algo="q-lambda", alpha=0.5, epsilon="0.4",
                        seed=11, lam=0.8)  # fmt: skip
    cuts = [u for u in narration.updates if u.trace.exploratory]
    assert cuts and any(u.trace.cut > 0 for u in cuts)
    np.testing.assert_array_equal(narration.q, run.q_per_seed[0])
    # Right after a cut, only the visited entry carries a trace.
    assert all(len(u.trace.entries) == 1 for u in cuts)


def steps_to(run, tol: float = 0.01) -> np.ndarray:
    """Per seed: the first episode (1-based) after which max |Q - Q*| < tol."""
    below = run.arrays.gaps < tol
    assert below.any(axis=1).all(), "a seed never got within tol of Q*"
    return below.argmax(axis=1) + 1


@pytest.mark.parametrize(
    "alpha, epsilon, traces",
    [("0.2", "1", "accumulating"), ("0.5", "1:0.05", "accumulating"), ("0.2", "1", "replacing")],
)
def test_q_lambda_reaches_q_star_in_fewer_episodes_than_q_learning(alpha, epsilon, traces):
    # Measured on seeds 0-15, mean episodes to max |Q - Q*| < 0.01 at lambda 0 and 0.9:
    # alpha 0.2, epsilon 1: 162.8 and 148.4 (replacing: 148.2); alpha 0.5, epsilon 1 -> 0.05
    # over the 1000 episodes: 75.9 and 70.7.
    common = dict(episodes=1000, seeds=16, seed=0, alpha=alpha, epsilon=epsilon, traces=traces)
    q_learning = steps_to(qlearn.train("classic", algo="q-lambda", lam=0.0, **common))
    q_lambda = steps_to(qlearn.train("classic", algo="q-lambda", lam=0.9, **common))
    assert q_lambda.mean() < q_learning.mean()
    final = qlearn.train("classic", algo="q-lambda", lam=0.9, **common)
    assert final.arrays.gaps[:, -1].max() < 1e-6  # and it ends at Q*


@pytest.mark.parametrize(
    "options, message",
    [
        ({"algo": "q-lambda", "lam": 1.5}, "lambda must be in [0, 1], got 1.5"),
        ({"algo": "sarsa-lambda", "lam": -0.1}, "lambda must be in [0, 1]"),
        ({"algo": "q-lambda", "lam": float("nan")}, "lambda must be a finite number"),
        ({"algo": "q-learning", "lam": 0.5}, "--lambda applies to learners with eligibility"),
        ({"algo": "double-q", "traces": "replacing"}, "--traces applies to learners with"),
        ({"algo": "q-lambda", "traces": "dutch"}, "unknown trace kind 'dutch'"),
    ],
)
def test_bad_trace_options_are_refused(options, message):
    with pytest.raises(QlearnError, match=message.replace("[", r"\[").replace("]", r"\]")):
        TabularConfig(**options)


@pytest.mark.parametrize(
    "args",
    [
        ["train", "classic", "--algo", "q-lambda", "--lambda", "1.5"],
        ["train", "classic", "--algo", "sarsa", "--lambda", "0.5"],
        ["train", "classic", "--algo", "sarsa-lambda", "--traces", "dutch"],
        ["explain", "classic", "--algo", "q-learning", "--lambda", "0.9"],
        ["compare", "classic", "--algos", "q-learning,sarsa", "--lambda", "0.9"],
    ],
)
def test_the_cli_refuses_bad_trace_options_in_one_line(args, tmp_path):
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "lambda" in proc.stderr or "trace" in proc.stderr


def test_cli_trains_compares_and_explains_with_traces(tmp_path):
    args = ["--algo", "sarsa-lambda", "--lambda", "0.5", "--traces", "replacing", "--seeds", "4"]
    proc = run_cli("train", "classic", *args, "--episodes", "100", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    config = (tmp_path / info["run_dir"] / "config.yaml").read_text()
    assert "lam: 0.5" in config and "traces: replacing" in config
    lib = qlearn.train("classic", algo="sarsa-lambda", lam=0.5, traces="replacing", seeds=4,
                       episodes=100)  # fmt: skip
    assert info["final_gap_mean"] == pytest.approx(lib.arrays.gaps[:, -1].mean())

    proc = run_cli("compare", "classic", "--algos", "q-learning,q-lambda", "--lambda", "0.9",
                   "--episodes", "100", "--seeds", "4", "--json", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    arms = json.loads(proc.stdout)["algos"]
    assert arms["q-lambda"]["lambda"] == 0.9 and arms["q-learning"]["lambda"] is None

    proc = run_cli("explain", "classic", "--algo", "q-lambda", "--lambda", "0.9", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "trace      e((3,3),E) = 0 + 1 = 1 (accumulating)" in proc.stdout
    assert "then every trace decays: e = gamma * lambda * e = 0.81 * e" in proc.stdout


def test_explain_narrates_the_traces_arithmetic():
    mdp = qlearn.load_world("classic")
    n = explain(mdp, algo="q-lambda", lam=0.9)  # one real episode, seed 0
    last = n.updates[-1]
    assert last.done and last.td_error == 1.0
    entries = {(x.state, x.action): x for x in last.trace.entries}
    # The entry just visited has trace 1 and moves by alpha * delta; older ones by less.
    assert entries[("(3,3)", "E")].trace == 1.0 and last.new_value == 0.5
    for x in entries.values():
        assert x.after == pytest.approx(x.before + 0.5 * 1.0 * x.trace)
    text = "\n".join(narration_lines(n))
    assert "each traced entry moves by alpha * TD error * e = 0.5 * 1 * e" in text
    assert "lambda 0.9, accumulating traces, gamma * lambda = 0.81" in text
    assert n.to_dict()["updates"][-1]["trace"]["lam"] == 0.9


def test_memory_check_counts_the_trace_tables(monkeypatch):
    seen = []
    monkeypatch.setattr(job, "check_fits", lambda need, what, fix: seen.append((need, what)))
    mdp = qlearn.load_world("classic")
    job.check_world_size(TabularConfig(algo="q-learning", seeds=2), mdp)
    job.check_world_size(TabularConfig(algo="q-lambda", seeds=2), mdp)
    (plain, plain_what), (traced, traced_what) = seen
    S, A = mdp.n_states, mdp.n_actions
    assert traced - plain == 2 * job.TRACE_TABLES * S * A * 8
    assert plain_what.startswith("3 tables") and traced_what.startswith("5 tables")
