"""The one judge of a learned table, on numbers a person can check on the 4x3 world."""

import numpy as np
import pytest

import qlearn
from qlearn import judge


@pytest.fixture(scope="module")
def classic():
    mdp = qlearn.load_world("classic")
    return mdp, qlearn.solve(mdp)


def test_the_exact_table_is_judged_perfect(classic):
    mdp, sol = classic
    verdict = judge.judge(mdp, sol, sol.q)
    assert verdict.gap == 0.0 and verdict.optimal_share == 1.0
    assert verdict.greedy.discounted == pytest.approx(0.6561)  # V*(1,1) = 0.9^4
    assert verdict.finishes == 1 and judge.start_optimal(mdp, sol, verdict.greedy)


def test_one_wrong_preference_costs_one_state_of_nine(classic):
    mdp, sol = classic
    q = sol.q.copy()
    s, west = mdp.state_index("(3,3)"), mdp.action_names.index("W")
    q[s, west] = 2.0  # (3,3) now prefers W, away from the diamond: off by 2 - 0.81
    assert judge.gap(mdp, sol, q) == pytest.approx(2.0 - 0.81)
    assert judge.optimal_share(mdp, sol, q) == pytest.approx(8 / 9)
    # from the start the greedy path runs into (3,3) and back west to (2,3) forever
    ret = judge.greedy_return(mdp, q)
    assert ret.undiscounted is None and not judge.start_optimal(mdp, sol, ret)
    verdict = judge.judge(mdp, sol, q, horizon=7)
    assert verdict.finishes == 0 and verdict.greedy_score == 0.0  # no reward within 7 steps


def test_a_capped_return_counts_step_costs_until_the_cap():
    mdp = qlearn.load_world("cliff")
    west = np.zeros((mdp.n_states, mdp.n_actions))
    west[:, mdp.action_names.index("W")] = 1.0
    assert judge.capped_return(mdp, west, 25) == -25.0
