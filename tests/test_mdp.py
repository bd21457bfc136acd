"""Exact solution of the 4x3 world against the tutorial's hand-computed numbers."""

import numpy as np
import pytest

import qlearn
from qlearn.exact import evaluate_policy, policy_return, q_from_v, value_iteration


@pytest.fixture(scope="module")
def classic():
    env = qlearn.make("classic")
    return env.mdp, qlearn.solve(env)


def q_of(mdp, sol, cell, action):
    return sol.q[mdp.state_index(cell), mdp.action_index(action)]


def test_start_value_is_point_nine_to_the_fourth(classic):
    mdp, sol = classic
    assert sol.v[mdp.state_index("(1,1)")] == pytest.approx(0.9**4, abs=1e-12)
    assert sol.v[mdp.state_index("(1,1)")] == pytest.approx(0.6561, abs=1e-12)


def test_the_four_doors_of_cell_3_2(classic):
    mdp, sol = classic
    assert q_of(mdp, sol, "(3,2)", "N") == pytest.approx(0.90, abs=1e-12)
    assert q_of(mdp, sol, "(3,2)", "W") == pytest.approx(0.81, abs=1e-12)
    assert q_of(mdp, sol, "(3,2)", "S") == pytest.approx(0.729, abs=1e-12)
    assert q_of(mdp, sol, "(3,2)", "E") == pytest.approx(-1.00, abs=1e-12)


def test_landing_cell_3_3_values_follow_bellman_not_the_tutorial_text(classic):
    # The tutorial lists {1.0, 0.81, 0.73, 0.9} for (3,3); going S lands on (3,2), worth 0.9,
    # so Q((3,3), S) = 0.9 * 0.9 = 0.81, not 0.73.
    mdp, sol = classic
    got = {a: q_of(mdp, sol, "(3,3)", a) for a in "NSEW"}
    assert got == pytest.approx({"N": 0.9, "S": 0.81, "E": 1.0, "W": 0.81}, abs=1e-12)


def test_optimal_policy_lists_ties_and_avoids_the_pit(classic):
    mdp, sol = classic
    ties = {
        mdp.state_names[s]: set(np.array(mdp.action_names)[sol.policy[s]])
        for s in np.flatnonzero(~mdp.terminal)
    }
    assert ties["(1,1)"] == {"N", "E"}
    assert ties["(3,2)"] == {"N"}
    assert ties["(4,1)"] == {"W"}


def test_q_star_is_a_fixed_point_of_the_bellman_operator(classic):
    mdp, sol = classic
    np.testing.assert_allclose(q_from_v(mdp, sol.v, sol.gamma), sol.q, atol=1e-12)


def test_value_iteration_reports_sweeps_and_respects_tolerance():
    mdp = qlearn.load_world("frozenlake4x4")
    exact = qlearn.solve(mdp).v
    v, sweeps = value_iteration(mdp, tol=1e-6)
    assert sweeps > 10
    assert np.max(np.abs(v - exact)) <= 1e-6


def test_policy_evaluation_of_the_optimal_policy_gives_v_star(classic):
    mdp, sol = classic
    pol = sol.policy / sol.policy.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(evaluate_policy(mdp, pol), sol.v, atol=1e-12)


def test_policy_return_detects_a_policy_that_never_ends(classic):
    mdp, _ = classic
    always_north = np.zeros((mdp.n_states, 4))
    always_north[:, 0] = 1.0
    ret = policy_return(mdp, always_north)
    assert ret.undiscounted is None  # bumps the top border forever


def test_gamma_override_changes_values():
    sol = qlearn.solve("classic", gamma=0.5)
    mdp = qlearn.load_world("classic")
    assert sol.v[mdp.state_index("(1,1)")] == pytest.approx(0.5**4)


def test_cliff_optimal_return_is_minus_13():
    mdp = qlearn.load_world("cliff")
    sol = qlearn.solve(mdp)
    assert mdp.start @ sol.v == pytest.approx(-13.0)
