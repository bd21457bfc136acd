"""Narrated updates: the tutorial's hand-run, scripted moves, and real traced episodes."""

import numpy as np
import pytest
from conftest import run_cli, run_json

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.tabular.explain import (
    TUTORIAL_TOLD_ORDER,
    explain,
    explain_episodes,
    explain_steps,
    narration_lines,
    parse_steps,
    tutorial_narration,
)


@pytest.fixture(scope="module")
def classic():
    return qlearn.load_world("classic")


def test_the_tutorial_hand_run_shows_its_five_numbers_truthfully(classic):
    n = tutorial_narration(classic)
    assert [(u.state, u.action) for u in n.updates] == [
        ("(3,3)", "E"),
        ("(3,2)", "N"),
        ("(3,3)", "E"),
        ("(3,3)", "E"),
        ("(3,3)", "E"),
    ]
    assert [u.new_value for u in n.updates] == [0.5, 0.225, 0.75, 0.875, 0.9375]
    first, north = n.updates[0], n.updates[1]
    # Visit 1: reward 1 into the diamond, nothing to bootstrap from.
    assert first.done and first.target == 1.0 and first.td_error == 1.0
    # North: 0 + 0.9 * max Q((3,3),.) = 0.9 * 0.5 = 0.45, error 0.45, new 0.225.
    assert north.next_state == "(3,3)" and north.bootstrap_actions == ("E",)
    assert north.next_value == 0.5
    assert north.target == pytest.approx(0.45) and north.td_error == pytest.approx(0.45)
    assert n.q[classic.state_index("(3,2)"), classic.action_index("N")] == pytest.approx(0.225)


def test_in_the_order_the_tutorial_tells_it_north_gives_0_421875(classic):
    told = explain_steps(classic, TUTORIAL_TOLD_ORDER)
    north = told.updates[-1]
    assert north.next_value == 0.9375
    assert north.new_value == pytest.approx(0.5 * 0.9 * 0.9375)  # 0.421875
    note = tutorial_narration(classic).note
    assert "0.421875" in note and "0.225" in note and "0.9375" in note


def test_the_text_writes_out_the_arithmetic(classic):
    text = "\n".join(narration_lines(tutorial_narration(classic)))
    assert "target     = r + gamma * max Q((3,3),.) = 0 + 0.9 * 0.5 = 0.45" in text
    assert "TD error   = 0.45 - 0 = 0.45" in text
    assert "new value  = 0 + 0.5 * 0.45 = 0.225" in text
    assert "new value  = 0.875 + 0.5 * 0.125 = 0.9375" in text


def test_sarsa_bootstraps_from_the_next_action_taken_not_the_max(classic):
    script = "(3,3)E, (3,3)S, (3,2)N, (3,3)S"
    q_learn = explain_steps(classic, script, algo="q-learning")
    sarsa = explain_steps(classic, script, algo="sarsa")
    # North from (3,2): Q-learning uses max Q((3,3),.) = 0.5 (East); SARSA uses the
    # action taken next at (3,3), South, whose value is still 0.
    assert q_learn.updates[2].new_value == pytest.approx(0.225)
    assert sarsa.updates[2].bootstrap_actions == ("S",)
    assert sarsa.updates[2].next_value == 0.0 and sarsa.updates[2].new_value == 0.0


def test_expected_sarsa_averages_under_the_epsilon_greedy_policy(classic):
    n = explain_steps(classic, "(3,3)E, (3,2)N", algo="expected-sarsa", epsilon=0.2)
    north = n.updates[1]
    # pi(E | (3,3)) = 0.8 + 0.2/4 = 0.85, the others 0.05: E[Q] = 0.85 * 0.5.
    assert north.next_value == pytest.approx(0.425)
    assert north.new_value == pytest.approx(0.5 * 0.9 * 0.425)


def test_narrated_episodes_are_the_trained_episodes(classic):
    n = explain_episodes(classic, 3, alpha=0.5, epsilon="0.1", seed=4)
    run = qlearn.train("classic", episodes=3, alpha=0.5, epsilon="0.1", seed=4)
    assert len(n.updates) == run.env_steps
    np.testing.assert_array_equal(n.q, run.q_per_seed[0])
    assert list(n.episode_returns) == list(run.arrays.returns[0])
    assert [u.episode for u in n.updates][-1] == 3
    # Same seed, same narration; another seed, another one.
    again = explain_episodes(classic, 3, alpha=0.5, epsilon="0.1", seed=4)
    assert [u.to_dict() for u in again.updates] == [u.to_dict() for u in n.updates]
    other = explain_episodes(classic, 3, alpha=0.5, epsilon="0.1", seed=5)
    assert [u.to_dict() for u in other.updates] != [u.to_dict() for u in n.updates]


@pytest.mark.parametrize("algo", ["sarsa", "expected-sarsa"])
def test_narrated_sarsa_family_episodes_match_training(classic, algo):
    n = explain_episodes(classic, 4, algo=algo, epsilon="0.3", seed=1)
    run = qlearn.train("classic", algo=algo, episodes=4, epsilon="0.3", seed=1)
    np.testing.assert_array_equal(n.q, run.q_per_seed[0])


def test_noisy_rewards_are_narrated_as_paid():
    maxbias = qlearn.load_world("maxbias")
    n = explain_episodes(maxbias, 20, alpha=0.1, epsilon="0.1", seed=0)
    b_updates = [u for u in n.updates if u.state == "B"]
    assert b_updates and len({u.reward for u in b_updates}) == len(b_updates)


def test_step_scripts_parse_cells_actions_and_repeats(classic):
    moves = parse_steps("(3,3)E x2, (3, 2) N", classic)
    s33, s32 = classic.state_index("(3,3)"), classic.state_index("(3,2)")
    assert moves == [(s33, 2), (s33, 2), (s32, 0)]
    maxbias = qlearn.load_world("maxbias")
    assert parse_steps("A left, B b3 x2", maxbias) == [(0, 0), (1, 2), (1, 2)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": "(9,9)E"}, "unknown state '(9,9)'"),
        ({"steps": "(4,3)E"}, "is terminal"),
        ({"steps": "(3,3)Q"}, "unknown action 'Q'"),
        ({"steps": "(3,3)E x0"}, "at least 1"),
        ({"steps": ""}, "--steps is empty"),
        ({"steps": "(3,3)E", "episodes": 2}, "not both"),
        ({"algo": "double-q"}, "explain narrates"),
        ({"alpha": 0.0}, "alpha must be in (0, 1]"),
        ({"episodes": 0}, "episodes must be at least 1"),
    ],
)
def test_bad_narration_requests_say_what_to_fix(classic, kwargs, message):
    with pytest.raises(QlearnError) as info:
        explain(classic, **kwargs)
    assert message in str(info.value)


def test_cli_explain_classic_prints_the_tutorial_numbers():
    proc = run_cli("explain", "classic")
    assert proc.returncode == 0, proc.stderr
    for text in ["= 0.5", "= 0.225", "= 0.75", "= 0.875", "= 0.9375", "0.421875"]:
        assert text in proc.stdout
    assert "Table entries that moved: Q((3,3),E) = 0.9375; Q((3,2),N) = 0.225" in proc.stdout


def test_cli_explain_json_is_one_object_with_a_list_of_records():
    data = run_json("explain", "classic", "--steps", "(3,3)E x4, (3,2)N", "--algo", "sarsa")
    assert data["algo"] == "sarsa" and data["source"] == "steps"
    values = [u["new_value"] for u in data["updates"]]
    # SARSA: the last move has no next scripted move from (3,3), so it takes the greedy E.
    assert values == [0.5, 0.75, 0.875, 0.9375, pytest.approx(0.421875)]
    assert data["updates"][-1]["bootstrap_actions"] == ["E"]
    assert data["q"]["(3,3)"]["E"] == 0.9375


def test_cli_explain_episodes_json_matches_train_json(tmp_path):
    narrated = run_json("explain", "classic", "--episodes", "2", "--seed", "3", "--epsilon", "0.2")
    trained = run_json(
        "train",
        "classic",
        "--episodes",
        "2",
        "--seed",
        "3",
        "--epsilon",
        "0.2",
        "--out",
        str(tmp_path / "r"),
    )
    assert narrated["q"] == trained["q"]
    assert narrated["episode_returns"] == trained["curve"]


def test_cli_explain_bad_steps_exit_2_in_one_line():
    proc = run_cli("explain", "classic", "--steps", "(3,3)E, (9,9)N")
    assert proc.returncode == 2 and "unknown state '(9,9)'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
