"""Logged walks as arrays, and as the readable rows a data file holds.

One row per token: ``episode, position, token, reward, done`` (the prompt first:
graph-walk's start node at position 0, star-graph's edges, start, goal and start at
0 .. P-1; ``reward`` is the walk's optimality on its last row and 0 elsewhere; ``done``
is 1 on the last row). Turning rows back into arrays checks everything a
damaged or foreign file gets wrong, each problem in one line naming the row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.text.graph_tasks import GOAL, GraphWalk, Task, optimality
from qlearn.text.star_graph import StarGraph, check_star_walks

COLUMNS = ("episode", "position", "token", "reward", "done")


class Walks(NamedTuple):
    """Logged walks, padded to the task's ``max_length``."""

    tokens: np.ndarray
    """(N, M) int32 nodes; after a walk's end, padded with the goal."""
    lengths: np.ndarray
    """(N,) int32 nodes in each walk (its start included)."""
    rewards: np.ndarray
    """(N,) float32 each walk's optimality."""


def walks_from_lists(task: Task, walks: list[list[int]]) -> Walks:
    """Arrays of walks given as node lists, scored on ``task``."""
    tokens = np.full((len(walks), task.max_length), GOAL, dtype=np.int32)
    for i, walk in enumerate(walks):
        tokens[i, : len(walk)] = walk
    lengths = np.array([len(w) for w in walks], dtype=np.int32)
    return Walks(tokens, lengths, optimality(task, tokens).astype(np.float32))


def walk_rows(walks: Walks) -> pd.DataFrame:
    """The readable table of ``walks``: one row per token (see the module docstring)."""
    n, m = walks.tokens.shape
    positions = np.arange(m)
    keep = positions[None, :] < walks.lengths[:, None]  # (N, M)
    episode, position = np.nonzero(keep)
    last = position == walks.lengths[episode] - 1
    return pd.DataFrame({
        "episode": episode,
        "position": position,
        "token": walks.tokens[episode, position],
        "reward": np.where(last, walks.rewards[episode], 0.0).round(6),
        "done": last.astype(int),
    })  # fmt: skip


def walks_from_rows(task: Task, rows: pd.DataFrame, source: str = "the data") -> Walks:
    """The walks a table of rows holds, checked against ``task``: every problem (a missing
    column, an empty file, a row out of order, a token that is not a node, an edge the
    graph lacks, a reward that does not match) is one line naming ``source`` and the row."""
    for name in COLUMNS:
        if name not in rows.columns:
            raise QlearnError(
                f"{source} lacks the column {name!r}; a walks file has the columns "
                f"{', '.join(COLUMNS)} (write one with `qlearn text data`)"
            )
    if len(rows) == 0:
        raise QlearnError(f"{source} has no rows; write walks with `qlearn text data`")
    values = {}
    for name in COLUMNS:
        col = pd.to_numeric(rows[name], errors="coerce")
        bad = np.flatnonzero(col.isna().to_numpy())
        if bad.size:
            raise QlearnError(
                f"{source}: row {int(bad[0]) + 2} has no number in column {name!r} "
                "(a malformed or truncated row); fix or remove it"
            )
        values[name] = col.to_numpy()
    for name in ("episode", "position", "token", "done"):
        frac = np.flatnonzero(values[name] != np.round(values[name]))
        if frac.size:
            raise QlearnError(
                f"{source}: row {int(frac[0]) + 2} has {values[name][frac[0]]} in column "
                f"{name!r}, which takes whole numbers"
            )
    return _assemble(task, {k: v for k, v in values.items()}, source)


def _assemble(task: Task, v: dict[str, np.ndarray], source: str) -> Walks:
    episode = v["episode"].astype(np.int64)
    position = v["position"].astype(np.int64)
    token = v["token"].astype(np.int64)
    done = v["done"].astype(np.int64)
    n = len(episode)
    starts = np.r_[True, episode[1:] != episode[:-1]]
    expected = np.zeros(n, dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    expected = np.arange(n) - run_start
    off = np.flatnonzero(position != expected)
    if off.size:
        r = int(off[0])
        raise QlearnError(
            f"{source}: row {r + 2} has position {position[r]} where {expected[r]} was "
            "expected; each episode's rows must run 0, 1, 2, ... in order"
        )
    bad = np.flatnonzero((token < 0) | (token >= task.vocab))
    if bad.size:
        r = int(bad[0])
        raise QlearnError(
            f"{source}: row {r + 2} has token {token[r]}, not a node of this {task.nodes}-node "
            f"{task.name}; it is a file of another task (regenerate with `qlearn text data`)"
        )
    long = np.flatnonzero(position >= task.max_length)
    if long.size:
        raise QlearnError(
            f"{source}: row {int(long[0]) + 2} is past the walk limit of {task.max_length} "
            "nodes; it is a file of another task"
        )
    ends = np.r_[starts[1:], True]
    wrong_done = np.flatnonzero(done != ends.astype(np.int64))
    if wrong_done.size:
        r = int(wrong_done[0])
        raise QlearnError(
            f"{source}: row {r + 2} has done={done[r]}; done must be 1 on the last row of "
            "each episode and 0 elsewhere"
        )
    first = np.flatnonzero(starts)
    lengths = np.diff(np.r_[first, n]).astype(np.int32)
    tokens = np.full((first.size, task.max_length), GOAL, dtype=np.int32)
    tokens[np.repeat(np.arange(first.size), lengths), position] = token
    if isinstance(task, StarGraph):
        check_star_walks(task, tokens, lengths, first, source)
    else:
        _check_graph(task, tokens, lengths, first, source)
    walks = Walks(tokens, lengths, optimality(task, tokens).astype(np.float32))
    given = v["reward"][ends]
    wrong = np.flatnonzero(np.abs(given - walks.rewards) > 1e-4)
    if wrong.size:
        k = int(wrong[0])
        raise QlearnError(
            f"{source}: episode {int(episode[first[k]])} has reward {given[k]:g} but scores "
            f"{walks.rewards[k]:.4g} on this graph; it is a file of another task or graph"
        )
    return walks


def _check_graph(task: GraphWalk, tokens: np.ndarray, lengths: np.ndarray,
                 first: np.ndarray, source: str) -> None:  # fmt: skip
    """Logged walks use only edges of the graph and stop at the goal: anything else was
    logged on another graph."""
    m = task.max_length
    inside = np.arange(1, m)[None, :] < lengths[:, None]  # (N, M-1) steps that exist
    edges = task.adjacency[tokens[:, :-1], tokens[:, 1:]]
    missing = np.argwhere(inside & ~edges)
    if missing.size:
        k, i = missing[0]
        raise QlearnError(
            f"{source}: row {int(first[k] + i + 1) + 2} steps {tokens[k, i]} -> "
            f"{tokens[k, i + 1]}, an edge this graph lacks; it is a file of another task or "
            "graph (check --nodes and --graph-seed)"
        )
    if np.any(tokens[:, 0] == GOAL):
        k = int(np.flatnonzero(tokens[:, 0] == GOAL)[0])
        raise QlearnError(f"{source}: row {int(first[k]) + 2} starts a walk at the goal")
    early = np.argwhere(inside & (tokens[:, :-1] == GOAL))
    if early.size:
        k, i = early[0]
        raise QlearnError(
            f"{source}: row {int(first[k] + i) + 2} goes on after the goal; a walk stops there"
        )
