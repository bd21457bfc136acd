"""`qlearn text ...` end to end: files, exit codes, the --json shapes.

Most commands run in this process through the CLI's own entry point (``main``: the same
parsing, errors and exit codes as the ``qlearn`` command) so that JAX compiles once for
the whole module; one test runs the real command in a fresh process."""

import json

import pytest

from qlearn.cli import main
from tests.conftest import run_cli

TINY = ["--seeds", "1", "--steps", "10", "--samples", "4", "--episodes", "100"]


@pytest.fixture
def qlearn_cli(capsys):
    """``qlearn ARGS`` in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_data_then_train_then_decode(tmp_path, qlearn_cli):
    walks = tmp_path / "walks.csv"
    code, out, err = qlearn_cli("text", "data", "--out", walks, "--episodes", "100", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["walks"] == 100 and walks.exists()
    run = tmp_path / "run"
    code, out, err = qlearn_cli("text", "train", "--method", "ilql", "--data", walks, *TINY,
                                "--beta", "0,1", "--out", run, "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["task"] == "graph-walk" and summary["ceiling"] == 1.0
    assert [r["setting"] for r in summary["results"]] == ["beta=0", "beta=1"]
    for name in ("config.yaml", "metrics.csv", "networks.npz", "report.html", "summary.json"):
        assert (run / name).exists(), name
    assert any((run / "tensorboard").iterdir())
    code, out, err = qlearn_cli("text", "decode", run, "--beta", "0,4", "--json")
    assert code == 0, err
    decoded = json.loads(out)
    assert [r["setting"] for r in decoded["results"]] == ["beta=0", "beta=4"]
    # beta=0 decodes to the same numbers as during training (same seed, same keys)
    assert decoded["results"][0] == summary["results"][0]


def test_compare_json_has_exactly_the_issue_shape(tmp_path, qlearn_cli):
    code, out, err = qlearn_cli("text", "compare", "--methods", "bc,best-of-n", *TINY,
                                "--best-of", "1,4", "--out", tmp_path / "cmp",
                                "--json")  # fmt: skip
    assert code == 0, err
    out = json.loads(out)
    assert set(out) == {"task", "ceiling", "results"}
    keys = {"method", "setting", "optimality_mean", "optimality_ci", "success_rate", "kl",
            "tokens_per_answer", "q_gap_mean"}  # fmt: skip
    assert all(set(r) == keys for r in out["results"])
    settings = [r["setting"] for r in out["results"]]
    assert settings == ["temperature=1", "n=1, checker=true", "n=4, checker=true",
                        "n=1, checker=learned", "n=4, checker=learned"]  # fmt: skip
    assert (tmp_path / "cmp" / "report.html").exists()


def test_star_graph_data_train_decode_and_compare(tmp_path, qlearn_cli):
    walks = tmp_path / "star.csv"
    star = ["--task", "star-graph", "--arms", "3", "--arm-length", "2"]
    tiny = [*TINY[:-1], "60"]  # as many walks as the file holds: the same compiled programs
    code, out, err = qlearn_cli("text", "data", *star, "--out", walks, "--episodes", "60",
                                "--json")  # fmt: skip
    assert code == 0, err
    info = json.loads(out)
    assert info["task"] == "star-graph" and info["rows"] == 60 * (2 * 6 + 3 + 2)
    assert "arms=3 arm_length=2" in walks.read_text().splitlines()[0]
    run = tmp_path / "run"
    code, out, err = qlearn_cli("text", "train", *star, "--method", "ilql", "--data", walks,
                                *tiny, "--beta", "0,100", "--out", run, "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["task"] == "star-graph"
    assert summary["task_info"]["chance"] == pytest.approx(1 / 3)
    assert [r["setting"] for r in summary["results"]] == ["beta=0", "beta=100"]
    assert all(r["q_gap_mean"] is not None for r in summary["results"])
    code, out, err = qlearn_cli("text", "decode", run, "--beta", "0", "--json")
    assert code == 0, err
    assert json.loads(out)["results"][0] == summary["results"][0]
    code, out, err = qlearn_cli("text", "compare", *star, "--methods", "bc,value-guided", *tiny,
                                "--json")  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["task"] == "star-graph"
    assert [(r["method"], r["setting"]) for r in result["results"]] == [
        ("bc", "temperature=1"), ("value-guided", "tokenwise, lambda=10"),
        ("value-guided", "q-sharp, eta=0.1"), ("value-guided", "blockwise, K=4, M=3"),
    ]  # fmt: skip
    assert all(0.0 <= r["success_rate"] <= 1.0 for r in result["results"])


def test_bad_input_is_one_line_and_exit_2(tmp_path, qlearn_cli):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    walk_file = tmp_path / "walk.csv"
    assert qlearn_cli("text", "data", "--out", walk_file, "--episodes", "5")[0] == 0
    cases = [
        ["text", "compare", "--methods", "bc,ppo"],
        ["text", "train", "--beta", "-1"],
        ["text", "train", "--data", empty],
        ["text", "data", "--out", tmp_path / "x.csv", "--policy", "greedy"],
        ["text", "decode", tmp_path],
        # star-graph's own options
        ["text", "compare", "--task", "star-graph", "--arms", "1"],
        ["text", "train", "--task", "star-graph", "--arm-length", "0"],
        ["text", "data", "--task", "star-graph", "--nodes", "4", "--out", tmp_path / "y.csv"],
        ["text", "train", "--task", "graph-walk", "--arms", "3"],
        [
            "text",
            "data",
            "--task",
            "star-graph",
            "--policy",
            "epsilon:0.3",
            "--out",
            tmp_path / "z.csv",
        ],  # fmt: skip
        ["text", "train", "--task", "star-graph", "--data", walk_file],
    ]
    for args in cases:
        code, _, err = qlearn_cli(*args)
        assert code == 2, (args, err)
        assert err.startswith("error: ") and err.count("\n") == 1, err
    # and the real command, in a fresh process
    proc = run_cli("text", "compare", "--task", "chess")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
