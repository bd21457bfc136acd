"""Gymnasium's toy_text worlds read through env.P agree with qlearn's own worlds."""

import gymnasium as gym
import numpy as np
import pytest

import qlearn

# Gymnasium's FrozenLake actions are (W, S, E, N); qlearn's are (N, S, E, W).
GYM_TO_OURS = [3, 1, 2, 0]


@pytest.mark.parametrize(
    ("ours", "kwargs"), [("frozenlake4x4", {}), ("frozenlake8x8", {"map_name": "8x8"})]
)
@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_frozenlake_q_star_matches_gymnasium(ours, kwargs, gamma):
    theirs = qlearn.load_world("FrozenLake-v1", env_kwargs=kwargs, gamma=gamma)
    mine = qlearn.load_world(ours, gamma=gamma)
    q_theirs = qlearn.solve(theirs).q[:, GYM_TO_OURS]
    q_mine = qlearn.solve(mine).q
    assert theirs.state_names == mine.state_names
    np.testing.assert_allclose(q_mine, q_theirs, atol=1e-12)


def test_frozenlake_transition_tables_are_identical():
    env = gym.make("FrozenLake-v1")
    theirs = qlearn.load_world("FrozenLake-v1")
    mine = qlearn.load_world("frozenlake4x4")
    np.testing.assert_array_equal(mine.terminal, theirs.terminal)
    live = ~mine.terminal
    np.testing.assert_allclose(mine.P[live], theirs.P[live][:, GYM_TO_OURS], atol=1e-15)
    assert env.unwrapped.initial_state_distrib[0] == 1.0


def test_taxi_is_solved_with_states_keyed_by_index():
    mdp = qlearn.load_world("Taxi")  # bare name resolves to the latest version
    sol = qlearn.solve(mdp)
    # Gymnasium's 500 states keep their indices; the 4 passenger-delivered states are also
    # entered without ending (from states no episode visits), so each gets a terminal copy.
    assert mdp.n_states == 504 and mdp.n_actions == 6
    assert mdp.state_names[0] == "0" and mdp.state_names[-1].endswith(":end")
    assert mdp.terminal.sum() == 4
    # A passenger in the taxi at its destination: dropping off pays 20 and ends.
    assert sol.q.max() == pytest.approx(20.0)


def test_cliffwalking_from_gymnasium_has_the_same_optimal_return_as_ours():
    theirs = qlearn.solve("CliffWalking-v1")
    mdp = qlearn.load_world("CliffWalking-v1")
    assert mdp.start @ theirs.v == pytest.approx(-13.0)


def test_a_non_finite_gymnasium_env_is_refused():
    with pytest.raises(qlearn.QlearnError, match="not a finite world"):
        qlearn.load_world("CartPole-v1")
