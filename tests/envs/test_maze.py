"""Seeded mazes: the same seed draws the same maze, every room is reached, and every
command takes them as worlds."""

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.envs.maze import carve


def test_a_seed_always_draws_the_same_perfect_maze():
    a, b = carve(15, 11, seed=3), carve(15, 11, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, carve(15, 11, seed=4))
    rooms = a[1::2, 1::2]
    assert rooms.all()  # every room is open
    # a perfect maze is a tree: open cells = rooms + passages, passages = rooms - 1
    assert a.sum() == 2 * rooms.size - 1
    assert not a[0].any() and not a[-1].any() and not a[:, 0].any() and not a[:, -1].any()


def test_a_maze_is_a_world_with_minus_one_per_step_and_gamma_one():
    mdp = qlearn.load_world("maze:15x15:seed=1")
    assert mdp.gamma == 1.0 and mdp.n_states == 97  # 49 rooms and 48 passages
    v = qlearn.solve(mdp).v
    start = int(np.flatnonzero(mdp.start)[0])
    assert mdp.state_names[start] == "(2,2)"  # the bottom-left room
    assert v[start] == -55.0  # the one path to the goal takes 55 steps
    assert qlearn.load_world("maze:15x15:seed=1:slip=1/10").gamma == 1.0


def test_every_command_takes_a_maze(tmp_path):
    run = qlearn.train("maze:9x9:seed=2", episodes=50, seeds=2)
    assert run.q.shape == (qlearn.load_world("maze:9x9:seed=2").n_states, 4)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("maze:8x9", "odd numbers from 5"),
        ("maze:3x9", "odd numbers from 5"),
        ("maze:axb", "cannot read the maze size"),
        ("maze:9x9:seed=-1", "must be seed=K"),
        ("maze:9x9:slip=2", "must be seed=K"),
        ("maze:9x9:walls=3", "unknown maze option"),
    ],
)
def test_a_malformed_maze_is_refused_in_one_line(spec, message):
    with pytest.raises(QlearnError, match=message) as info:
        qlearn.load_world(spec)
    assert "\n" not in str(info.value)
