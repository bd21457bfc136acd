"""Update rules against numbers computed by hand (the tutorial's among them)."""

import numpy as np
import pytest

import qlearn
from qlearn.core.rng import seed_state
from qlearn.tabular.rules import (
    double_q_target,
    epsilon_greedy_probs,
    expected_sarsa_target,
    q_learning_target,
    sarsa_target,
    td0_target,
    td_update,
)

ALL = np.ones(4, dtype=bool)


def test_tutorial_hand_run_with_alpha_one_half():
    """Four East steps from (3,3) into the diamond, then North from (3,2), from a zero table."""
    mdp = qlearn.load_world("classic")
    q = np.zeros((mdp.n_states, 4))
    s33, s32 = mdp.state_index("(3,3)"), mdp.state_index("(3,2)")
    E, N = mdp.action_index("E"), mdp.action_index("N")
    seen = []
    for _ in range(4):
        (s2,) = np.flatnonzero(mdp.P[s33, E])
        target = q_learning_target(mdp.R[s33, E, s2], 0.9, mdp.terminal[s2], q[s2], ALL)
        q[s33, E] = td_update(q[s33, E], target, 0.5)
        seen.append(q[s33, E])
    assert seen == [0.5, 0.75, 0.875, 0.9375]
    # North from (3,2) lands on (3,3), whose best value is now 0.9375, not the tutorial's
    # 0.5: its 0.225 assumes that single earlier East update.
    q_once = np.zeros_like(q)
    q_once[s33, E] = 0.5
    (s2,) = np.flatnonzero(mdp.P[s32, N])
    target = q_learning_target(mdp.R[s32, N, s2], 0.9, mdp.terminal[s2], q_once[s2], ALL)
    assert target == pytest.approx(0.45)
    assert td_update(0.0, target, 0.5) == pytest.approx(0.225)


def test_terminal_transitions_bootstrap_from_nothing():
    q_t = np.array([5.0, 5.0, 5.0, 5.0])
    assert q_learning_target(1.0, 0.9, True, q_t, ALL) == 1.0
    assert sarsa_target(1.0, 0.9, True, q_t, 0) == 1.0
    assert td0_target(1.0, 0.9, True, 5.0) == 1.0


def test_sarsa_uses_the_action_taken_and_q_learning_the_max():
    q_t = np.array([0.2, 0.8, -1.0, 0.0])
    assert sarsa_target(0.0, 0.5, False, q_t, 2) == pytest.approx(-0.5)
    assert q_learning_target(0.0, 0.5, False, q_t, ALL) == pytest.approx(0.4)


def test_expected_sarsa_averages_under_epsilon_greedy():
    q_t = np.array([1.0, 0.0, 0.0, 0.0])
    probs = np.empty(4)
    epsilon_greedy_probs(q_t, ALL, 0.4, probs)
    np.testing.assert_allclose(probs, [0.7, 0.1, 0.1, 0.1])
    # 0 + 1 * (0.7 * 1.0)
    assert expected_sarsa_target(0.0, 1.0, False, q_t, probs) == pytest.approx(0.7)


def test_greedy_ties_share_the_greedy_probability():
    probs = np.empty(4)
    epsilon_greedy_probs(np.array([1.0, 1.0, 0.0, 0.0]), ALL, 0.0, probs)
    np.testing.assert_allclose(probs, [0.5, 0.5, 0.0, 0.0])


def test_double_q_selects_with_one_table_and_evaluates_with_the_other():
    select = np.array([0.0, 2.0, 1.0, 0.0])
    evaluate = np.array([9.0, -1.0, 9.0, 9.0])
    assert double_q_target(0.0, 1.0, False, select, evaluate, ALL, seed_state(0)) == -1.0


def test_masked_actions_are_excluded_from_the_max():
    legal = np.array([True, False, True, True])
    q_t = np.array([0.1, 99.0, 0.3, 0.2])
    assert q_learning_target(0.0, 1.0, False, q_t, legal) == pytest.approx(0.3)
