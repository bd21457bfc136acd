"""The exact token-level Q* of ``graph-walk``: the best reward each (prefix, next token) can
still reach.

A prefix of a walk is summarised by its start ``s`` (which fixes ``L*``), its last node
``u`` and its node count ``l``. The next token ``v`` ends the walk when the edge u -> v is
missing (score 0), when ``v`` is the goal (score ``(M - l - 1) / (M - L*_s)``) or when the
walk reaches ``M`` nodes without the goal (score 0); otherwise the walk goes on from
``(v, l + 1)``. Backward induction over ``l`` gives

    Q*(s, l, u, v) = g(score)                            if the walk ends there,
                     gamma * max_w Q*(s, l + 1, v, w)     otherwise,

with ``g`` the reward a learner sees for a score (``g(x) = (x - shift) / scale``: ILQL's
normalised rewards; the identity by default). With ``gamma = 1`` and the identity this is
BFS's answer: ``(M - l - 1 - d(v)) / (M - L*_s)`` for a valid ``v`` at distance ``d(v)``
from the goal that still fits in ``M`` nodes, else 0.
"""

from __future__ import annotations

import numpy as np

from qlearn.text.graph_tasks import GOAL, GraphWalk, Task
from qlearn.text.star_graph import StarGraph, star_taken_q


def exact_q(task: GraphWalk, gamma: float = 1.0, shift: float = 0.0,
            scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """(n, M, n, n) ``Q*[s, l, u, v]`` for every start, node count ``l`` (1..M-1), last node
    and next token (index ``l = 0`` is unused and 0)."""
    n, m = task.nodes, task.max_length
    adj = task.adjacency
    best = task.shortest_lengths  # (n,) L* by start
    room = np.maximum(m - best, 1).astype(float)
    q = np.zeros((n, m, n, n))
    fail = (0.0 - shift) / scale
    for nodes_so_far in range(m - 1, 0, -1):
        grown = nodes_so_far + 1
        goal_score = ((m - grown) / room - shift) / scale  # (s,)
        if grown < m:
            later = gamma * q[:, grown].max(axis=-1)  # (s, v): best from (v, grown)
        else:
            later = np.full((n, n), fail)
        here = np.broadcast_to(later[:, None, :], (n, n, n)).copy()  # (s, u, v)
        here[:, :, GOAL] = goal_score[:, None]
        here[:, ~adj] = fail
        q[:, nodes_so_far] = here
    return q


def prefix_q(table: np.ndarray, tokens: np.ndarray, position: np.ndarray) -> np.ndarray:
    """(B, n) the exact Q* row of each prefix ``tokens[b, :position[b] + 1]``."""
    tokens = np.asarray(tokens)
    rows = np.arange(tokens.shape[0])
    return table[tokens[:, 0], position + 1, tokens[rows, position]]


def taken_q_star(task: Task, tokens: np.ndarray, gamma: float = 1.0, shift: float = 0.0,
                 scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """(B, M-1) the exact Q* of each (prefix ``tokens[:, :t+1]``, taken ``tokens[:, t+1]``)
    on either task (star-graph: per instance, from the graph its prompt lists)."""
    tokens = np.asarray(tokens)
    if isinstance(task, StarGraph):
        return star_taken_q(task, tokens, gamma, shift, scale)
    table = exact_q(task, gamma, shift, scale)
    t = np.arange(tokens.shape[1] - 1)[None, :]
    return table[tokens[:, :1], t + 1, tokens[:, :-1], tokens[:, 1:]]
