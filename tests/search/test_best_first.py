"""Best-first planners (A*, Dijkstra, Q*) against the exact optimum and hand-counted searches."""

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.envs.grid import grid_mdp
from qlearn.mdp import FiniteMDP, validate_mdp
from qlearn.search.best_first import (
    PathResult,
    astar,
    check_deterministic,
    dijkstra,
    qstar,
    upper_bound,
)

CORRIDOR = """\
name: corridor
gamma: 1
step_reward: -1
legend:
  G: {kind: terminal, reward: 0}
grid: |
  .S.G
"""


def world(text: str) -> FiniteMDP:
    return grid_mdp(qlearn.parse_map(text))


def start_of(mdp: FiniteMDP) -> int:
    return int(mdp.start.argmax())


def assert_walks_the_world(mdp: FiniteMDP, start: int, result: PathResult) -> None:
    """The path starts at ``start``, follows the world's moves, and its returns add up."""
    states, actions = result.states, result.actions
    assert states.dtype == actions.dtype == np.int64
    assert states[0] == start and len(states) == len(actions) + 1
    rewards = []
    for t, a in enumerate(actions):
        s, s2 = states[t], states[t + 1]
        assert mdp.legal[s, a] and not mdp.terminal[s] and mdp.P[s, a, s2] == 1.0
        rewards.append(mdp.R[s, a, s2])
    discounts = mdp.gamma ** np.arange(len(rewards))
    assert result.discounted_return == pytest.approx(float(discounts @ rewards), abs=1e-12)
    assert result.undiscounted_return == pytest.approx(float(sum(rewards)), abs=1e-12)
    assert result.reached_terminal == bool(mdp.terminal[states[-1]])


@pytest.mark.parametrize("name", ["classic", "cliff", "maze:15x15:seed=1"])
def test_exact_values_give_an_optimal_path_from_every_state(name):
    mdp = qlearn.load_world(name)
    sol = qlearn.solve(mdp)
    for s in map(int, np.flatnonzero(~mdp.terminal)):
        for result in (astar(mdp, s, sol.v), dijkstra(mdp, s), qstar(mdp, s, sol.q)):
            assert_walks_the_world(mdp, s, result)
            assert result.reached_terminal
            assert result.discounted_return == pytest.approx(sol.v[s], abs=1e-9)


def test_upper_bounds_by_hand():
    assert upper_bound(qlearn.load_world("classic")) == pytest.approx(10.0)  # 1 / (1 - 0.9)
    assert upper_bound(qlearn.load_world("cliff")) == 0.0
    assert upper_bound(qlearn.load_world("maze:15x15:seed=1")) == 0.0
    assert upper_bound(world("name: up\ngamma: 1\ngrid: |\n  S.G\n")) == np.inf


def test_a_corridor_counted_by_hand():
    """``.S.G``, -1 a step, G pays 0: V* = -2, -1, 0 from the left; all moves legal.

    Dijkstra (h = U = 0, f = g) expands S (f 0: E and W queued at f -1), then the E cell
    (f -1, queued first: G queued at f -1), then the W cell (f -1, queued before G), then
    pops G: 3 expansions, 4 successors each. A* with h = V* scores the W cell
    -1 + -2 = -3, so it expands only S and the E cell. Q* prices S's moves at Q*
    (E: -1, N and S: -2, W: -3), pops (S, E), closes the E cell and prices its moves
    (E: -1 + 0), pops (E cell, E) and enters G: 2 pops, 2 successors generated.
    """
    mdp = world(CORRIDOR)
    assert mdp.state_names == ("(1,1)", "(2,1)", "(3,1)", "(4,1)")
    sol = qlearn.solve(mdp)
    np.testing.assert_array_equal(sol.v, [-2.0, -1.0, 0.0, 0.0])
    s = start_of(mdp)
    counts = {
        "dijkstra": dijkstra(mdp, s),
        "astar": astar(mdp, s, sol.v),
        "qstar": qstar(mdp, s, sol.q),
    }
    for result in counts.values():
        assert result.states.tolist() == [1, 2, 3] and result.actions.tolist() == [2, 2]  # E, E
        assert result.discounted_return == result.undiscounted_return == -1.0
        assert result.reached_terminal
    assert (counts["dijkstra"].nodes_expanded, counts["dijkstra"].nodes_generated) == (3, 12)
    assert (counts["astar"].nodes_expanded, counts["astar"].nodes_generated) == (2, 8)
    assert (counts["qstar"].nodes_expanded, counts["qstar"].nodes_generated) == (2, 2)


def test_on_the_maze_values_save_search():
    mdp = qlearn.load_world("maze:15x15:seed=1")
    sol = qlearn.solve(mdp)
    s = start_of(mdp)
    blind, guided, priced = dijkstra(mdp, s), astar(mdp, s, sol.v), qstar(mdp, s, sol.q)
    assert guided.nodes_expanded < blind.nodes_expanded
    assert priced.nodes_generated < guided.nodes_generated
    # With exact values A* expands only the optimal path's states, Q* generates only them.
    assert guided.nodes_expanded == priced.nodes_generated == len(guided.actions)


def test_an_inadmissible_heuristic_still_reaches_the_goal():
    """2 V* <= V* in a step-cost world: pessimistic, so no optimality is promised."""
    mdp = qlearn.load_world("maze:15x15:seed=1")
    sol = qlearn.solve(mdp)
    for s in (start_of(mdp), 0, mdp.n_states // 2):
        for result in (astar(mdp, s, 2 * sol.v), qstar(mdp, s, 2 * sol.q)):
            assert_walks_the_world(mdp, s, result)
            assert result.reached_terminal
            assert result.discounted_return <= sol.v[s] + 1e-9


def detour_world() -> FiniteMDP:
    """s -short-> x (0), or s -detour-> a (+1) -> b (0) -> x (0); x -> T (+2); gamma 0.9.

    The detour is worth 1 + 0.9^3 * 2 = 2.458, the short way 0.9 * 2 = 1.8.
    """
    n_s, n_a = 5, 2
    P, R = np.zeros((n_s, n_a, n_s)), np.zeros((n_s, n_a, n_s))
    legal = np.zeros((n_s, n_a), dtype=bool)
    moves = [(0, 0, 1, 0.0), (0, 1, 2, 1.0), (2, 0, 3, 0.0), (3, 0, 1, 0.0), (1, 0, 4, 2.0)]
    for s, a, s2, r in moves:  # (state, action, next state, reward)
        P[s, a, s2], R[s, a, s2], legal[s, a] = 1.0, r, True
    P[4, :, 4] = 1.0
    mdp = FiniteMDP.from_dense(
        P, R, terminal=np.arange(n_s) == 4, start=np.eye(n_s)[0],
        legal=legal, gamma=0.9, name="detour", state_names=("s", "x", "a", "b", "T"),
        action_names=("short", "detour"),
    )  # fmt: skip
    validate_mdp(mdp)
    return mdp


def test_with_gamma_below_one_dijkstra_may_close_a_state_on_the_worse_arrival():
    """The documented limit of keying the closed set on the state: h = U = 20 reaches x
    first by the short way (f 18 against 15.58) and closes it; exact values do not."""
    mdp = detour_world()
    sol = qlearn.solve(mdp)
    assert sol.v[0] == pytest.approx(2.458)
    assert dijkstra(mdp, 0).discounted_return == pytest.approx(1.8)
    assert astar(mdp, 0, sol.v).discounted_return == pytest.approx(2.458)
    assert qstar(mdp, 0, sol.q).discounted_return == pytest.approx(2.458)


def test_illegal_actions_are_never_taken_and_their_nan_is_never_read():
    mdp = detour_world()
    sol = qlearn.solve(mdp)
    q = np.where(mdp.legal, sol.q, np.nan)
    v = np.where(mdp.terminal, np.nan, sol.v)
    for result in (qstar(mdp, 0, q), astar(mdp, 0, v)):
        assert_walks_the_world(mdp, 0, result)
        assert result.discounted_return == pytest.approx(2.458)
    assert qstar(mdp, 0, q).nodes_expanded == 4  # the four legal moves of the path's states


def test_a_start_in_a_terminal_state_is_already_there():
    mdp = world(CORRIDOR)
    sol = qlearn.solve(mdp)
    for result in (astar(mdp, 3, sol.v), dijkstra(mdp, 3), qstar(mdp, 3, sol.q)):
        assert result.states.tolist() == [3] and result.actions.size == 0
        assert result.reached_terminal and result.discounted_return == 0.0
        assert result.nodes_expanded == result.nodes_generated == 0


def test_the_cap_returns_the_best_path_found_so_far():
    mdp = qlearn.load_world("maze:15x15:seed=1")
    sol = qlearn.solve(mdp)
    s = start_of(mdp)
    for result in (
        astar(mdp, s, sol.v, max_expansions=10),
        dijkstra(mdp, s, max_expansions=10),
        qstar(mdp, s, sol.q, max_expansions=10),
    ):
        assert_walks_the_world(mdp, s, result)
        assert not result.reached_terminal and result.nodes_expanded == 10
    # With exact values every pop ties at f = V*(start): the best is the deepest, 10 steps in.
    assert len(astar(mdp, s, sol.v, max_expansions=10).actions) == 9
    assert len(qstar(mdp, s, sol.q, max_expansions=10).actions) == 10


def test_a_goal_out_of_reach_exhausts_the_frontier():
    """The corridor with (3,1) E bumping instead of entering G: nothing reaches G.

    Dijkstra expands the three cells (4 successors each) and returns the start alone
    (f 0, the best popped); Q* pops each of the 12 legal moves once.
    """
    mdp = world(CORRIDOR)
    P, R = mdp.P.copy(), mdp.R.copy()
    P[2, 2], R[2, 2] = np.eye(4)[2], -1.0
    mdp = mdp.with_dense(P, R)
    result = dijkstra(mdp, 1)
    assert not result.reached_terminal and result.states.tolist() == [1]
    assert (result.nodes_expanded, result.nodes_generated) == (3, 12)
    result = qstar(mdp, 1, np.zeros((4, 4)))
    assert_walks_the_world(mdp, 1, result)
    assert not result.reached_terminal
    assert (result.nodes_expanded, result.nodes_generated) == (12, 12)


@pytest.mark.parametrize("name", ["frozenlake4x4", "maze:15x15:seed=1:slip=0.1"])
def test_stochastic_worlds_are_refused_in_one_line(name):
    mdp = qlearn.load_world(name)
    with pytest.raises(QlearnError) as info:
        check_deterministic(mdp, "astar")
    message = str(info.value)
    assert "\n" not in message and name in message and "stochastic" in message
    assert message.startswith("astar needs a deterministic world") and "(it slips)" in message
    assert "mcts" in message
    with pytest.raises(QlearnError, match="qstar needs a deterministic world"):
        qstar(mdp, start_of(mdp), np.zeros((mdp.n_states, mdp.n_actions)))


def test_random_moves_off_a_grid_are_named_as_such():
    mdp = detour_world()
    P = mdp.P.copy()
    P[0, 0, 1] = P[0, 0, 2] = 0.5
    with pytest.raises(QlearnError, match=r"s short can land in 2 states \(its moves are random\)"):
        check_deterministic(mdp.with_dense(P), "dijkstra")
    check_deterministic(mdp, "dijkstra")


def test_dijkstra_refuses_unbounded_returns():
    mdp = world("name: up\ngamma: 1\ngrid: |\n  S.G\n")  # G pays +1, gamma 1
    with pytest.raises(QlearnError) as info:
        dijkstra(mdp, start_of(mdp))
    message = str(info.value)
    assert "\n" not in message and message.startswith("dijkstra") and "up" in message
    assert "gamma 1" in message and "positive reward" in message
    sol = qlearn.solve(mdp)
    assert astar(mdp, start_of(mdp), sol.v).discounted_return == 1.0  # A* has v_hat


def test_bad_values_are_refused_in_one_line():
    mdp = world(CORRIDOR)
    with pytest.raises(QlearnError, match=r"v_hat must have one value per state, shape \(4,\)"):
        astar(mdp, 1, np.zeros(3))
    with pytest.raises(QlearnError, match=r"v_hat is nan at state \(3,1\)"):
        astar(mdp, 1, np.array([0.0, 0.0, np.nan, 0.0]))
    with pytest.raises(QlearnError, match=r"q_hat is nan at \(2,1\) E"):
        q = np.zeros((4, 4))
        q[1, 2] = np.nan
        qstar(mdp, 1, q)
    with pytest.raises(QlearnError, match="start state 7 is out of range"):
        dijkstra(mdp, 7)
    with pytest.raises(QlearnError, match="max_expansions must be 0 or more"):
        dijkstra(mdp, 1, max_expansions=-1)
