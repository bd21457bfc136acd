"""The greedy-trap world: a 3-step corridor along the top, longer routes below."""

import numpy as np
import pytest

import qlearn
from qlearn.exact import policy_return


def route_policy(mdp, moves):
    """A deterministic policy that follows ``moves`` from the start (N elsewhere)."""
    policy = np.zeros((mdp.n_states, 4))
    policy[:, 0] = 1.0
    s = int(np.argmax(mdp.start))
    for move in moves:
        a = mdp.action_index(move)
        policy[s] = np.eye(4)[a]
        (s,) = np.flatnonzero(mdp.P[s, a])
    assert mdp.terminal[s]
    return policy


def test_detour_values_match_the_story():
    mdp = qlearn.load_world("detour")
    assert "detour" in qlearn.builtin_worlds()
    sol = qlearn.solve(mdp)
    start = mdp.state_index("(4,3)")
    assert mdp.start[start] == 1.0 and mdp.layout.char_at(1, 3) == "D"
    assert sol.v[start] == pytest.approx(0.81)  # the corridor: W W W
    assert sol.policy[start].tolist() == [False, False, False, True]
    one_row_down = route_policy(mdp, "SWWWN")
    around_the_bottom = route_policy(mdp, "SSWWWNN")
    assert policy_return(mdp, one_row_down).discounted == pytest.approx(0.9**4)
    assert policy_return(mdp, around_the_bottom).discounted == pytest.approx(0.9**6)
