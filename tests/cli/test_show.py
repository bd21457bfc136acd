"""What the commands print, checked in-process on real results: the numbers and pictures
a user reads off the screen."""

import json
import math

import pytest

import qlearn
from qlearn.cli import show
from qlearn.envs.registry import load_world
from qlearn.exact import solve
from qlearn.runs.solution import solution_summary
from qlearn.runs.tabular_results import summary


@pytest.fixture(scope="module")
def classic():
    return load_world("classic")


def test_the_solution_shows_the_tutorials_values_and_every_optimal_action(classic, capsys):
    sol = solve(classic)
    show.print_solution(classic, sol, solution_summary(classic, sol))
    text = capsys.readouterr().out
    assert text.startswith("classic: gamma 0.9, value iteration converged in ")
    assert "  1   0.656  0.729  0.810  0.729\n" in text  # V* on the bottom row
    assert "  1      ↑→      →      ↑      ←\n" in text  # both ways out of the start
    assert "(1,1)   0.6561*    0.5905   0.6561*    0.5905\n" in text  # Q* with its ties
    assert "run folder" not in text  # nothing was written


def test_a_tabular_run_shows_its_table_its_policy_and_its_gap(capsys):
    run = qlearn.train("classic", episodes=50, seeds=2)
    info = {**summary(run), "run_dir": "runs/classic"}
    show.print_tabular(run, info)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "q-learning on classic: 50 episodes x 2 seed(s), alpha 0.5, "
        "epsilon 1:0.05:50 (linear, episodes), gamma 0.9"
    )
    assert "Learned Q (mean over seeds; * = greedy)" in lines
    grid = lines.index("Greedy policy of the learned table:")
    assert lines[grid + 1].split() == ["1", "2", "3", "4"]
    assert lines[grid + 2].endswith("[+1]") and "#####" in lines[grid + 3]
    gap = f"max |Q - Q*| after the last episode: {info['final_gap_mean']:.4f} (mean over seeds)"
    assert any(line.startswith(gap) for line in lines)
    assert lines[-2].endswith("V*(start) = 0.6561")
    assert lines[-1] == "run folder: runs/classic"


def test_td0_shows_the_learned_and_the_true_values_of_the_policy(capsys):
    run = qlearn.train("classic", algo="td0", episodes=20)
    info = {**summary(run), "run_dir": "r"}
    show.print_tabular(run, info)
    text = capsys.readouterr().out
    assert "V of the random policy, learned by TD(0) (one seed):" in text
    assert "True V of that policy (exact):\n" in text
    assert "  1  -0.066 -0.155 -0.312 -0.582\n" in text  # exact values of the random walk
    assert f"max |V - V_true| after the last episode: {info['final_gap_mean']:.4f}" in text


def test_numbers_intervals_and_cells_keep_four_significant_digits():
    assert show.num(2 / 3) == "0.6667"
    assert show.ci((0.123456, 12345.6)) == "[0.1235, 1.235e+04]"
    assert [show.cell(v) for v in (0.5, "0.25", "2/3", 7)] == ["0.5", "0.25", "2/3", "7"]


def test_json_is_one_line_and_refuses_nan(capsys):
    show.print_json({"a": [1, 2.5], "b": None})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out) == {"a": [1, 2.5], "b": None}
    with pytest.raises(ValueError):
        show.print_json({"x": math.nan})


def test_a_wide_table_keeps_each_row_on_one_line(capsys, monkeypatch):
    monkeypatch.setattr(show.out, "width", 30)
    header = ["#", "alpha", "epsilon", "mean", "95% CI"]
    show.print_unwrapped(show.table(header, [["1", "0.5", "0.1", "-13", "[-14.2, -12.1]"]]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].split() == ["1", "0.5", "0.1", "-13", "[-14.2,", "-12.1]"]


def test_learning_from_a_log_shows_the_table_and_how_far_it_is_from_q_star(classic, capsys):
    from qlearn.runs.logs import behaviour_policy, offline_summary
    from qlearn.tabular.offline import check_log, collect, learn_from_log

    log = check_log(collect(classic, behaviour_policy(classic, "random"), 100, seed=1), classic)
    run = learn_from_log(classic, log, passes=5)
    info = {**offline_summary(run, "log.csv"), "run_dir": "runs/offline"}
    show.print_offline(run, info, "0.5")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"q-learning on classic from log.csv: {len(log):,} logged transitions x 5 passes, "
        "alpha 0.5, gamma 0.9"
    )
    assert "Greedy policy of the learned table:" in lines
    assert f"max |Q - Q*| after the last pass: {run.gaps[-1]:.4f}; greedy" in "\n".join(lines)
    assert lines[-1] == "run folder: runs/offline"
