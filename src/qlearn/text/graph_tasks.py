"""Sequence tasks with an exact ceiling: ``graph-walk`` (trlx's randomwalks) and their
scoring; ``star-graph`` lives in :mod:`qlearn.text.star_graph`, and :func:`make_task`,
:func:`optimality` and :func:`logged_lists` serve both.

``graph-walk`` is the task of trlx's ILQL example (``examples/randomwalks``), generated the
same way so that numbers compare with theirs. With ``np.random.RandomState(seed)``:

1. adjacency: ``rand(n, n) > 1 - p_edge`` with the diagonal cleared, redrawn until every
   node has an out-edge; then the goal's row (node 0) is cleared to a self-loop;
2. ``walks`` logged walks: a start drawn by ``randint(n)`` until it is not the goal, then
   up to ``max_length - 1`` steps to ``choice(nonzero(adjacency[node]))``, stopping at the
   goal.

A walk of ``L`` nodes (tokens) scores its *optimality* ``(max_length - L) /
(max_length - L*)``, ``L*`` the node count of a shortest path (BFS) from its start; a walk
that never reaches the goal or uses a missing edge counts ``L = max_length`` (score 0).
On the default graph (seed 1000) the 1,000 logged walks reach the goal 56% of the time
and score 0.3515 on average.

Tokens are node numbers; a walk starts with its start node (the prompt) and the model
writes the rest. The model is never told which edges exist.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.text.star_graph import StarGraph, make_star_graph, star_optimality, star_walks

TASKS = ("graph-walk", "star-graph")
GOAL = 0


@dataclass(frozen=True)
class GraphWalk:
    """A directed graph with goal node 0 and the walks scored on it."""

    adjacency: np.ndarray
    """(n, n) bool: ``adjacency[u, v]`` when the edge u -> v exists (the goal: a self-loop)."""
    max_length: int
    """Most nodes a walk may have, its start included (10 in trlx)."""
    seed: int
    """The graph's seed (trlx's ``generate_random_walks(seed=...)``)."""
    p_edge: float
    """Probability of each directed edge when the graph was drawn."""

    name = "graph-walk"
    prompt_length = 1

    @property
    def nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def vocab(self) -> int:
        """Tokens are nodes."""
        return self.nodes

    @property
    def starts(self) -> np.ndarray:
        """(n - 1,) the evaluation prompts: every node but the goal."""
        return np.arange(1, self.nodes)

    @property
    def prompts(self) -> np.ndarray:
        """(n - 1, 1) the evaluation prompts as token rows."""
        return self.starts[:, None]

    @property
    def distances(self) -> np.ndarray:
        """(n,) edges on a shortest path to the goal (BFS backwards from it); -1 if none."""
        return goal_distances(self.adjacency)

    @property
    def shortest_lengths(self) -> np.ndarray:
        """(n,) ``L*``: nodes on a shortest walk from each node to the goal, capped at
        ``max_length`` (as trlx caps it) when there is none or it is longer."""
        d = self.distances
        return np.where((d < 0) | (d + 1 > self.max_length), self.max_length, d + 1)

    def describe(self) -> dict:
        return {"task": self.name, "nodes": self.nodes, "max_length": self.max_length,
                "seed": self.seed, "p_edge": self.p_edge,
                "edges": int(self.adjacency.sum()) - 1}  # fmt: skip


#: Either task: both have ``name``, ``vocab``, ``max_length``, ``prompt_length``,
#: ``prompts`` (the evaluation prompts as token rows), ``seed`` and ``describe()``.
Task = GraphWalk | StarGraph


def goal_distances(adjacency: np.ndarray, goal: int = GOAL) -> np.ndarray:
    """(n,) number of edges on a shortest path from each node to ``goal``; -1 if none."""
    n = adjacency.shape[0]
    dist = np.full(n, -1, dtype=np.int64)
    dist[goal] = 0
    frontier = deque([goal])
    while frontier:
        v = frontier.popleft()
        for u in np.flatnonzero(adjacency[:, v]):
            if dist[u] < 0:
                dist[u] = dist[v] + 1
                frontier.append(int(u))
    return dist


def make_graph_walk(
    nodes: int = 21, seed: int = 1000, p_edge: float = 0.1, max_length: int = 10
) -> GraphWalk:
    """The randomwalks graph of trlx with these settings (see the module docstring)."""
    _check_sizes(nodes, max_length, p_edge)
    rng = np.random.RandomState(seed)
    adjacency, _ = _draw_graph(rng, nodes, p_edge)
    return GraphWalk(adjacency, max_length, seed, p_edge)


def _check_sizes(nodes: int, max_length: int, p_edge: float) -> None:
    if not 3 <= nodes <= 200:
        raise QlearnError(f"--nodes must be between 3 and 200, got {nodes}")
    if not 2 <= max_length <= 64:
        raise QlearnError(f"the walk length must be between 2 and 64, got {max_length}")
    if not 0.0 < p_edge <= 1.0:
        raise QlearnError(f"the edge probability must be in (0, 1], got {p_edge}")


def _draw_graph(rng: np.random.RandomState, nodes: int, p_edge: float):
    while True:
        adjacency = rng.rand(nodes, nodes) > (1 - p_edge)
        np.fill_diagonal(adjacency, False)
        if np.all(adjacency.sum(1)):
            break
    adjacency[GOAL, :] = False
    adjacency[GOAL, GOAL] = True
    return adjacency, rng


def random_walks(task: GraphWalk, walks: int, epsilon: float | None = None,
                 seed: int | None = None) -> list[list[int]]:  # fmt: skip
    """Logged walks on ``task``: trlx's uniform random walks drawn from the same stream as
    the graph (``seed=None``: exactly trlx's 1,000 walks for ``walks=1000``); or, with
    ``epsilon``, an epsilon-greedy walker (a shortest-path step with probability
    ``1 - epsilon``, else a uniform valid edge), drawn from its own ``seed``."""
    if walks < 1:
        raise QlearnError(f"--episodes must be at least 1, got {walks}")
    if epsilon is None:
        rng = np.random.RandomState(task.seed)
        _draw_graph(rng, task.nodes, task.p_edge)  # the same stream trlx continues
    else:
        if not 0.0 <= epsilon <= 1.0:
            raise QlearnError(f"--policy epsilon:E needs E in [0, 1], got {epsilon}")
        rng = np.random.RandomState(task.seed if seed is None else seed)
    dist = task.distances
    out = []
    for _ in range(walks):
        node = GOAL
        while node == GOAL:
            node = rng.randint(task.nodes)
        walk = [int(node)]
        for _step in range(task.max_length - 1):
            options = np.flatnonzero(task.adjacency[node])
            if epsilon is not None and rng.rand() >= epsilon:
                reachable = options[dist[options] >= 0]
                if reachable.size:
                    options = reachable[dist[reachable] == dist[reachable].min()]
            node = int(rng.choice(options))
            walk.append(node)
            if node == GOAL:
                break
        out.append(walk)
    return out


def walk_lengths(task: GraphWalk, answers: np.ndarray) -> np.ndarray:
    """(B,) trlx's length of each walk (tokens (B, T), the start first): the position of the
    first goal token plus one, or ``max_length`` when a missing edge comes first or the
    goal never comes."""
    answers = np.asarray(answers)
    b, t = answers.shape
    lengths = np.full(b, task.max_length, dtype=np.int64)
    done = np.zeros(b, dtype=bool)
    for i in range(1, min(t, task.max_length)):
        valid = task.adjacency[answers[:, i - 1], answers[:, i]]
        bad = ~done & ~valid
        reached = ~done & valid & (answers[:, i] == GOAL)
        lengths[reached] = i + 1
        done |= bad | reached
    return lengths


def optimality(task: Task, answers: np.ndarray) -> np.ndarray:
    """(B,) each walk's optimality in [0, 1]: graph-walk ``(max_length - L) / (max_length -
    L*)``; star-graph 1 for the path to the goal, else 0."""
    answers = np.asarray(answers)
    if isinstance(task, StarGraph):
        return star_optimality(task, answers)
    best = task.shortest_lengths[answers[:, 0]]
    room = np.maximum(task.max_length - best, 1)  # a start with no path scores 0 anyway
    return (task.max_length - walk_lengths(task, answers)) / room


def logged_lists(task: Task, walks: int, epsilon: float | None = None,
                 seed: int | None = None) -> list[list[int]]:  # fmt: skip
    """The task's logged walks as token lists: graph-walk :func:`random_walks`, star-graph
    :func:`qlearn.text.star_graph.star_walks` (a uniform arm at the fork)."""
    if isinstance(task, StarGraph):
        if epsilon is not None:
            raise QlearnError("star-graph logs uniform walks only; use --policy random")
        return star_walks(task, walks)
    return random_walks(task, walks, epsilon, seed)


def make_task(name: str = "graph-walk", *, nodes: int | None = None, seed: int = 1000,
              p_edge: float = 0.1, max_length: int = 10, arms: int | None = None,
              arm_length: int | None = None) -> Task:  # fmt: skip
    """A task by name: ``graph-walk`` (trlx's randomwalks; ``nodes`` 21 and seed 1000 by
    default) or ``star-graph`` (``arms`` 2 of ``arm_length`` 3 by default; seed 1000)."""
    if name == "star-graph":
        return make_star_graph(2 if arms is None else arms,
                               3 if arm_length is None else arm_length, nodes, seed)  # fmt: skip
    if name != "graph-walk":
        raise QlearnError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    for flag, value in (("--arms", arms), ("--arm-length", arm_length)):
        if value is not None:
            raise QlearnError(f"{flag} applies to star-graph only, not graph-walk")
    nodes = 21 if nodes is None else nodes
    return make_graph_walk(nodes=nodes, seed=seed, p_edge=p_edge, max_length=max_length)
