"""Worlds as successor lists: the same numbers as the dense (S, A, S) tables, at any size.

The reference here is a plain dense solver written from the definitions (value
iteration, then exact dense policy evaluation of the greedy policy), run on the dense
view ``mdp.P`` / ``mdp.R`` of small worlds. The library solves the successor lists with
sparse algebra; both must agree to 1e-12 everywhere a dense table fits.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.envs.grid import grid_mdp
from qlearn.envs.registry import builtin_worlds, load_world
from qlearn.exact import greedy_ties, solve
from qlearn.mdp import FiniteMDP
from tests.conftest import run_cli

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow],
)


def dense_q_star(P, R, terminal, legal, gamma, max_sweeps=200_000):
    """Q* of dense arrays: value iteration to a standstill, then (gamma < 1) policy
    evaluation of the greedy policy by a dense linear solve until the policy is stable."""
    r = (P * R).sum(axis=2)

    def backup(v):
        q = r + gamma * P @ np.where(terminal, 0.0, v)
        q = np.where(legal, q, -np.inf)
        q[terminal] = 0.0
        return q

    v = np.zeros(len(terminal))
    for _ in range(max_sweeps):
        q = backup(v)
        v_new = np.where(terminal, 0.0, q.max(axis=1))
        done = np.abs(v_new - v).max() <= 1e-15 * max(1.0, np.abs(v_new).max())
        v = v_new
        if done:
            break
    rows, live = np.arange(len(terminal)), np.flatnonzero(~terminal)
    for _ in range(50 if gamma < 1 else 0):
        choice = np.argmax(q, axis=1)
        a = np.eye(live.size) - gamma * P[rows, choice][np.ix_(live, live)]
        v = np.zeros(len(terminal))
        v[live] = np.linalg.solve(a, r[rows, choice][live])
        q_new = backup(v)
        stable = np.array_equal(np.argmax(q_new, axis=1), choice)
        q = q_new
        if stable:
            break
    return q


def assert_same_solution(mdp: FiniteMDP) -> None:
    """The library's sparse solution equals the dense reference: Q*, V* and policies."""
    sol = solve(mdp)
    reference = dense_q_star(mdp.P, mdp.R, mdp.terminal, mdp.legal, mdp.gamma)
    np.testing.assert_allclose(sol.q, reference, rtol=1e-12, atol=1e-12)
    v_ref = np.where(mdp.terminal, 0.0, reference.max(axis=1))
    np.testing.assert_allclose(sol.v, v_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sol.policy, greedy_ties(reference, mdp.legal))


WORLDS = [*builtin_worlds(), "CliffWalking-v1", "FrozenLake-v1", "FrozenLake8x8-v1",
          "CliffWalkingSlippery-v1", "Taxi-v4", "maze:21x21:seed=3"]  # fmt: skip


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_solves_to_the_dense_reference(name):
    assert_same_solution(load_world(name))


@pytest.mark.parametrize("name", ["FrozenLake-v1", "Taxi-v4", "CliffWalkingSlippery-v1"])
def test_toy_text_lists_hold_exactly_what_env_p_says(name):
    """Each (s, a) of Gymnasium's table: the same probability of each landing state and
    the same expected reward (non-terminal states), whatever order and repetition
    env.P lists them in."""
    mdp = load_world(name)
    table = gym.make(name).unwrapped.P
    for s in np.flatnonzero(~mdp.terminal[: len(table)]):  # a terminal state's row is unused
        for a, outcomes in table[s].items():
            expected = sum(p * r for p, _, r, _ in outcomes)
            assert mdp.expected_reward[s, a] == pytest.approx(expected, abs=1e-12)
            landing: dict[int, float] = {}
            for p, nxt, _, done in outcomes:
                # Taxi: done entries into a state also entered without done go to its copy
                key = (
                    int(nxt)
                    if not done or mdp.terminal[nxt]
                    else mdp.state_names.index(f"{int(nxt)}:end")
                )
                landing[key] = landing.get(key, 0.0) + p
            listed = {int(t): 0.0 for t in mdp.next_states[s, a]}
            for t, p in zip(mdp.next_states[s, a], mdp.next_probs[s, a], strict=True):
                listed[int(t)] += p
            assert {k: v for k, v in listed.items() if v > 0} == pytest.approx(landing)


def test_cliff_walking_slippery_keeps_both_rewards_of_one_landing_state():
    """Slipping into the cliff from the start lands back on the start paying -100; the
    other two outcomes land there too, paying -1: the expectation is -34, not -1."""
    mdp = load_world("CliffWalkingSlippery-v1")
    assert mdp.expected_reward[36, 2] == pytest.approx(-34.0)
    assert sorted(r for _, _, r, _ in mdp.outcomes(36, 2)) == [-100.0, -1.0]


@pytest.mark.parametrize("name", ["classic", "cliff", "frozenlake8x8", "maxbias", "Taxi-v4"])
def test_training_on_lists_rebuilt_from_the_dense_tables_is_bit_identical(name):
    """A world rebuilt from its dense tables (as every world was held before) has the
    same successor lists, and Q-learning on it gives the same tables bit for bit."""
    mdp = load_world(name)
    again = mdp.with_dense(mdp.P, mdp.R, mdp.R_std)
    for field in ("next_states", "next_probs", "next_rewards", "next_reward_std"):
        np.testing.assert_array_equal(getattr(again, field), getattr(mdp, field))
    runs = [qlearn.train(m, episodes=60, seeds=3, seed=11) for m in (mdp, again)]
    for field in ("q", "returns", "lengths", "gaps"):
        np.testing.assert_array_equal(
            getattr(runs[0].arrays, field), getattr(runs[1].arrays, field)
        )


@st.composite
def grid_texts(draw) -> str:
    """A random map of the default legend with one start: walls, goals, pits, holes,
    cliffs and ice (slippery cells), up to 6x7."""
    height, width = draw(st.integers(1, 6)), draw(st.integers(2, 7))
    cells = [[draw(st.sampled_from("....##DPGHCFF")) for _ in range(width)] for _ in range(height)]
    cells[draw(st.integers(0, height - 1))][draw(st.integers(0, width - 1))] = "S"
    cells[draw(st.integers(0, height - 1))][draw(st.integers(0, width - 1))] = "G"
    return "\n".join("".join(row) for row in cells)


@DETERMINISTIC
@given(text=grid_texts(), gamma=st.sampled_from([0.5, 0.9, 0.99]))
def test_random_grids_solve_to_the_dense_reference(text, gamma):
    try:
        mdp = grid_mdp(qlearn.parse_map(text, "random").with_params(gamma=gamma))
    except QlearnError:
        return  # unreachable goal and the like: refused, nothing to compare
    assert_same_solution(mdp)


@DETERMINISTIC
@given(
    width=st.integers(2, 9).map(lambda k: 2 * k + 1),
    height=st.integers(2, 9).map(lambda k: 2 * k + 1),
    seed=st.integers(0, 10_000),
)
def test_random_mazes_solve_to_the_dense_reference(width, height, seed):
    assert_same_solution(load_world(f"maze:{width}x{height}:seed={seed}"))


def test_a_maze_of_45_000_open_cells_solves_exactly_from_the_cli(tmp_path):
    """Policy iteration on a 301x301 maze: V*(start) is -1 for each move on the maze's
    one path to the goal but the last (the goal pays 0), found here by breadth-first search."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import shortest_path

    out = json.loads(
        run_cli(
            "solve", "maze:301x301:seed=1", "--out", str(tmp_path / "big"), "--plot", "--json"
        ).stdout
    )
    mdp = load_world("maze:301x301:seed=1")
    moves = mdp.next_states[:, :, 0]
    graph = csr_matrix(
        (np.ones(moves.size), (np.repeat(np.arange(mdp.n_states), 4), moves.ravel())),
        shape=(mdp.n_states, mdp.n_states),
    )
    start = int(np.flatnonzero(mdp.start)[0])
    steps = shortest_path(graph, unweighted=True, indices=start)[mdp.terminal].min()
    assert out["method"] == "policy iteration"
    assert out["v_start"] == -(steps - 1)
    assert out["tables"] == "summarised" and out["n_states"] == mdp.n_states == 44_999
    png = Image.open(tmp_path / "big" / "values.png")
    assert max(png.size) <= 2000  # drawn as an image of cells, not 44,999 labelled squares


def test_large_worlds_print_a_summary_not_a_wall_of_cells():
    proc = run_cli("solve", "maze:201x201:seed=2")
    assert proc.returncode == 0, proc.stderr
    assert "policy iteration" in proc.stdout
    assert len(proc.stdout.splitlines()) < 60
    assert "more" in proc.stdout  # the Q table is cut after its first rows


@pytest.mark.parametrize(
    "args, flag",
    [
        (("train", "maze:501x501:seed=1", "--seeds", "100000"), "--seeds"),
        (("train", "maze:501x501:seed=1", "--algo", "dqn", "--buffer-size", "200000"),
         "--buffer-size"),
    ],
)  # fmt: skip
def test_memory_the_machine_lacks_is_refused_before_it_is_asked_for(args, flag, tmp_path):
    proc = run_cli(*args, "--runs", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip()
    assert len(message.splitlines()) == 1 and "GiB" in message and flag in message
    assert "Traceback" not in proc.stderr
    assert not any((tmp_path / "runs").glob("*/*")) if (tmp_path / "runs").exists() else True
