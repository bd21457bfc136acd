"""star-graph: the path-star generator, its scoring, logged walks, files and exact Q*."""

import numpy as np
import pytest

from qlearn.configs.text_config import TextConfig
from qlearn.core.errors import QlearnError
from qlearn.runs.text_results import read_walks, write_walks
from qlearn.text import make_task, optimality
from qlearn.text.graph_tasks import logged_lists
from qlearn.text.logged import walks_from_lists
from qlearn.text.star_graph import StarGraph, goal_arm_nodes, star_walks
from qlearn.text.token_qstar import taken_q_star

# A tiny instance by hand: 2 arms of 2 nodes, labels 1..5. Start 3; arm 3 -> 1 -> 5 (the
# goal's) and arm 3 -> 4 -> 2. The edges are listed 4 2, 3 1, 1 5, 3 4.
TINY = StarGraph(arms=2, arm_length=2, nodes=5, seed=0)
PROMPT = [4, 2, 3, 1, 1, 5, 3, 4, 3, 5, 3]  # edges, start, goal, start
ANSWERS = np.array([
    PROMPT + [1, 5],  # the goal's arm: success
    PROMPT + [4, 2],  # the other arm: a valid walk that fails
    PROMPT + [1, 2],  # 1 -> 2 is no edge
    PROMPT + [5, 1],  # 3 -> 5 is no edge: fails at once
])  # fmt: skip


def test_the_tiny_instance_is_read_and_scored_by_hand():
    assert TINY.prompt_length == 11 and TINY.max_length == 13 and TINY.vocab == 6
    assert optimality(TINY, ANSWERS).tolist() == [1.0, 0.0, 0.0, 0.0]
    on = goal_arm_nodes(TINY, np.array([PROMPT]))[0]
    assert np.flatnonzero(on).tolist() == [1, 5]


def test_exact_token_level_q_star_by_hand_on_a_tiny_star():
    q = taken_q_star(TINY, ANSWERS)[:, 10:]  # Q* of the two written tokens
    # undiscounted: the goal's arm is worth 1 at the fork and after; the other arm 0;
    # after a missing edge nothing counts (0)
    assert q.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    assert np.all(taken_q_star(TINY, ANSWERS)[:, :10] == 0)  # no choice inside the prompt
    # gamma 0.5, rewards (x - 0.5) / 0.5: g(0) = -1, g(1) = 1. At the fork one step is
    # left: the goal's arm 0.5 * 1; the other arm 0.5 * -1 (going on beats failing now);
    # a missing edge -1 at once.
    q = taken_q_star(TINY, ANSWERS, gamma=0.5, shift=0.5, scale=0.5)[:, 10:]
    assert q.tolist() == [[0.5, 1.0], [-0.5, -1.0], [0.5, -1.0], [-1.0, 0.0]]


def test_generation_is_seeded_and_shuffles_labels_per_instance():
    task = make_task("star-graph", arms=3, arm_length=2, seed=5)
    assert (task.arms, task.arm_length, task.nodes) == (3, 2, 7)
    a, b = star_walks(task, 300), star_walks(task, 300)
    assert a == b and a != star_walks(make_task("star-graph", arms=3, arm_length=2, seed=6), 300)
    walks = walks_from_lists(task, a)
    p = task.prompt_length
    assert walks.tokens.shape == (300, p + 2) and np.all(walks.lengths == p + 2)
    # labels change between instances: the start is every label about equally often
    assert set(walks.tokens[:, p - 1].tolist()) == set(range(1, 8))
    # a uniform arm at the fork: about 1/3 succeed; every logged step is a listed edge
    assert 0.26 <= walks.rewards.mean() <= 0.40
    assert set(np.unique(walks.rewards).tolist()) == {0.0, 1.0}
    # the held-out prompts are not the logged ones
    held = {tuple(r) for r in task.prompts}
    assert len(held) == task.eval_instances and not held & {tuple(r[:p]) for r in walks.tokens}


def test_star_walk_files_round_trip_and_other_tasks_files_are_refused(tmp_path):
    task = make_task("star-graph")
    walks = walks_from_lists(task, logged_lists(task, 40))
    path = write_walks(tmp_path / "star.csv", task, walks, "random")
    back = read_walks(path, task)
    assert np.array_equal(back.tokens, walks.tokens) and np.allclose(back.rewards, walks.rewards)
    with pytest.raises(QlearnError, match="arms 2, not 3") as err:
        read_walks(path, make_task("star-graph", arms=3))
    assert "\n" not in str(err.value)
    body = path.read_text().splitlines()[1:]  # without the comment line
    path.write_text("\n".join(body) + "\n")
    with pytest.raises(QlearnError, match="tokens, not|another task"):
        read_walks(path, make_task("star-graph", arm_length=4))
    walk = make_task("graph-walk")
    other = write_walks(tmp_path / "walk.csv", walk, walks_from_lists(walk, logged_lists(walk, 20)),
                        "random")  # fmt: skip
    with pytest.raises(QlearnError, match="task graph-walk, not star-graph"):
        read_walks(other, task)


def test_bad_star_options_are_one_line_errors():
    for kwargs, message in [
        ({"arms": 1}, "--arms must be between 2 and 10"),
        ({"arm_length": 0}, "--arm-length must be between 1 and 10"),
        ({"nodes": 5}, "--nodes must be between 7"),
    ]:
        with pytest.raises(QlearnError, match=message) as err:
            make_task("star-graph", **kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(QlearnError, match="star-graph only"):
        make_task("graph-walk", arms=3)
    with pytest.raises(QlearnError, match="star-graph only"):
        TextConfig(task="graph-walk", arm_length=3)
    with pytest.raises(QlearnError, match="uniform walks only"):
        logged_lists(make_task("star-graph"), 10, epsilon=0.3)


def test_each_task_fills_in_its_own_defaults():
    star, walk = TextConfig(task="star-graph"), TextConfig()
    assert (star.episodes, star.steps, star.batch) == (5000, 500, 64)
    assert (walk.episodes, walk.steps, walk.batch) == (1000, 400, 128)
    assert TextConfig(task="star-graph", steps=7).steps == 7


def test_a_star_task_object_carries_its_shape_into_the_config():
    from qlearn.text import _config
    from qlearn.text.pipeline import model_size, task_of

    cfg = _config(make_task("star-graph", arms=3, arm_length=4, seed=9), "ilql", {"seeds": 1})
    assert (cfg.task, cfg.arms, cfg.arm_length, cfg.graph_seed) == ("star-graph", 3, 4, 9)
    task = task_of(cfg)
    size = model_size(cfg, task)
    assert (size.vocab, size.length, size.prompt) == (14, 2 * 12 + 3 + 4, 2 * 12 + 3)
