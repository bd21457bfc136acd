"""graph-walk: trlx's randomwalks generator, scoring, and the exact token-level Q*."""

import numpy as np
import pytest

from qlearn.core.errors import QlearnError
from qlearn.text.graph_tasks import GraphWalk, make_task, optimality, random_walks
from qlearn.text.logged import walks_from_lists
from qlearn.text.text_metrics import reached_goal
from qlearn.text.token_qstar import exact_q


def tiny() -> GraphWalk:
    """Goal 0; edges 1->2, 1->3, 2->0, 3->2, 3->1; walks of at most 4 nodes.

    From 1 the shortest walk is 1 2 0 (L* = 3 nodes), so a walk of L nodes scores
    (4 - L) / (4 - 3) = 4 - L; from 3: 3 2 0 (L* = 3) likewise; from 2: 2 0 (L* = 2),
    score (4 - L) / 2.
    """
    adj = np.zeros((4, 4), dtype=bool)
    for u, v in [(0, 0), (1, 2), (1, 3), (2, 0), (3, 2), (3, 1)]:
        adj[u, v] = True
    return GraphWalk(adj, max_length=4, seed=0, p_edge=0.5)


def test_the_default_graph_is_trlx_randomwalks_with_its_published_statistics():
    task = make_task("graph-walk")
    walks = walks_from_lists(task, random_walks(task, 1000))
    assert task.nodes == 21 and task.adjacency[0].tolist() == [True] + [False] * 20
    assert np.all(task.adjacency[1:].sum(axis=1) >= 1)
    assert walks.tokens.shape == (1000, 10)
    assert reached_goal(task, walks.tokens).mean() == pytest.approx(0.56)
    assert walks.rewards.mean() == pytest.approx(0.3515, abs=1e-4)
    # the logged edges contain a shortest path from every start: an offline method can reach 1
    assert np.all(task.distances[1:] >= 1) and task.shortest_lengths.max() <= 5


def test_scores_by_hand_on_a_tiny_graph():
    task = tiny()
    walks = np.array([
        [1, 2, 0, 0],  # shortest: L = 3 -> 1.0
        [1, 3, 2, 0],  # L = 4 -> 0.0 (arrives with its last node)
        [2, 0, 0, 0],  # from 2, L = 2 -> (4 - 2) / 2 = 1.0
        [1, 0, 0, 0],  # 1 -> 0 is no edge: 0
        [3, 1, 3, 1],  # never arrives: 0
    ])  # fmt: skip
    assert optimality(task, walks).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert reached_goal(task, walks).tolist() == [True, True, True, False, False]


def test_exact_token_level_q_star_by_hand_on_a_tiny_graph():
    q = exact_q(tiny())  # Q*[start, nodes so far, last node, next token]
    # prefix "1": going to 2 reaches the goal next (1 2 0): 1.0; to 3, the best is 3 2 0 = 4
    # nodes: 0.0; to 0 or 1 there is no edge: 0.
    assert q[1, 1, 1].tolist() == [0.0, 0.0, 1.0, 0.0]
    # prefix "1 2": the goal now ends at L = 3: 1.0; anything else is a missing edge
    assert q[1, 2, 2].tolist() == [1.0, 0.0, 0.0, 0.0]
    # prefix "1 3": 3 -> 2 then the goal makes L = 4: 0.0; prefix "1 3 2": goal at L = 4: 0
    assert q[1, 2, 3].tolist() == [0.0, 0.0, 0.0, 0.0]
    # prefix "2": straight to the goal, L = 2 = L*: 1.0
    assert q[2, 1, 2].tolist() == [1.0, 0.0, 0.0, 0.0]
    # prefix "3": 3 -> 2 -> 0 is L = 3 = L*: 1.0; 3 -> 1 -> 2 -> 0 would be 5 nodes: 0
    assert q[3, 1, 3].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_discounted_and_normalised_q_star_discounts_the_goal_by_the_steps_before_it():
    q = exact_q(tiny(), gamma=0.5, shift=0.25, scale=2.0)
    fail = (0.0 - 0.25) / 2.0
    one = (1.0 - 0.25) / 2.0
    assert q[1, 2, 2, 0] == pytest.approx(one)  # the goal right away
    assert q[1, 1, 1, 2] == pytest.approx(0.5 * one)  # one step later
    assert q[1, 1, 1, 0] == pytest.approx(fail)  # missing edge
    # from "1 3" the best is 2 then the goal at L = 4 (score 0): gamma * g(0)
    assert q[1, 2, 3, 2] == pytest.approx(0.5 * fail)


def test_q_star_of_the_default_graph_matches_bfs_for_every_prefix_of_the_logs():
    task = make_task()
    q = exact_q(task)
    d, best = task.distances, task.shortest_lengths
    for walk in random_walks(task, 200):
        for t in range(len(walk) - 1):
            s, u, v = walk[0], walk[t], walk[t + 1]
            final = t + 2 + d[v]  # nodes when v's shortest way home is taken
            want = max(0.0, (10 - final) / (10 - best[s])) if final <= 10 else 0.0
            assert q[s, t + 1, u, v] == pytest.approx(want)


def test_unknown_task_and_bad_sizes_are_one_line_errors():
    with pytest.raises(QlearnError, match="unknown task 'chess'"):
        make_task("chess")
    with pytest.raises(QlearnError, match="--nodes"):
        make_task(nodes=1)
