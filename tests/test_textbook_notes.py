"""Where the tutorial's numbers and the Bellman equation disagree, the equation wins.

Each test pins one note of the README's "Textbook vs Bellman" list.
"""

import pytest

import qlearn


@pytest.fixture(scope="module")
def q_star():
    mdp = qlearn.load_world("classic")
    sol = qlearn.solve(mdp)

    def row(cell):
        return dict(zip(mdp.action_names, sol.q[mdp.state_index(cell)], strict=True))

    return row


def test_landing_cell_of_the_bellman_check_has_0_81_not_0_73_for_south(q_star):
    # The tutorial writes max{1.0, 0.81, 0.73, 0.9} for (3,3); South from (3,3) lands on
    # (3,2), worth 0.9, so Q*((3,3),S) = 0.9 * 0.9 = 0.81. The max (1.0) is unaffected.
    assert q_star("(3,3)") == pytest.approx({"N": 0.9, "S": 0.81, "E": 1.0, "W": 0.81})


def test_the_v_versus_q_cell_is_the_pits_left_neighbour_itself(q_star):
    # The numbers 0.90 / 0.81 / 0.73 / -1.00 belong to (3,2), two steps from the diamond;
    # the cell above it, (3,3), is one step away and worth 1.0.
    assert q_star("(3,2)") == pytest.approx({"N": 0.9, "S": 0.729, "E": -1.0, "W": 0.81})
    assert max(q_star("(3,3)").values()) == pytest.approx(1.0)


def test_the_north_update_gives_0_225_only_right_after_the_first_east_visit():
    mdp = qlearn.load_world("classic")
    after_one = qlearn.explain(mdp, steps="(3,3)E, (3,2)N").updates[-1]
    after_four = qlearn.explain(mdp, steps="(3,3)E x4, (3,2)N").updates[-1]
    assert after_one.new_value == pytest.approx(0.225)
    assert after_four.new_value == pytest.approx(0.421875)
