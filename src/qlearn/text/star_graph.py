"""``star-graph``: Bachmann & Nagarajan's path-star task (2024, "The pitfalls of next-token
prediction"), with its scoring, logged walks and exact token-level Q*.

An instance is a path-star graph: a start node with ``arms`` arms of ``arm_length`` nodes
each (directed away from the start), the goal at the end of one arm. Its sequence is

    u1 v1 u2 v2 ... uE vE   start goal   start a1 a2 ... aL
    '---- E edges -----'    '-- task -'  '--- the path ---'

the ``E = arms * arm_length`` edges in a shuffled order, then the start and the goal,
then the path: the start again (the last prompt token) and the ``L = arm_length`` nodes
the model writes. Token 0 is padding (and a stop: writing it fails); nodes are tokens
``1 .. nodes``. The only choice is at the fork (the start's first step): after it, each
node has one successor, so a walk that picks the goal's arm and follows the edges
succeeds (score 1) and any other scores 0. Optimality is that 0/1 score.

Generation, with ``np.random.default_rng`` of the task's seed (``fold_in``-style streams:
``[seed, 0]`` for the logged walks, ``[seed, 1]`` for the held-out evaluation instances),
per instance: the node labels ``1 + permutation(nodes)[:1 + E]`` (the start first, then
each arm in turn), so the labels change from instance to instance and the model must read
the prefix; the edges in ``permutation(E)`` order; the goal's arm ``integers(arms)``; and,
for a logged walk, the arm the walker takes ``integers(arms)`` (uniform: about ``1/arms``
of the logged walks succeed).

Imitating the successful walks is known to fail at the fork (the "Clever Hans" shortcut:
after the first node, the next one is read off the edge list, so teacher forcing never
has to learn the first): success near ``1/arms``. Measured here with the default network
(width 64, 2 blocks, 500 steps): filtered BC stays at chance with 3-node arms, and so do
the token-level value decoders (ILQL, tokenwise, Q#); decoders that look ahead with the
learned value (blockwise, best-of-n with the learned outcome model) are well above it.
With 2-node arms every method learns the fork; with 3 blocks and 2,000 steps filtered BC
learns it (0.85, one seed) while ILQL stays at chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qlearn.core.errors import QlearnError

PAD = 0


@dataclass(frozen=True)
class StarGraph:
    """The shape of path-star instances and the seed they are drawn from."""

    arms: int
    """D: arms leaving the start."""
    arm_length: int
    """L: nodes on each arm (the goal is the last node of one arm)."""
    nodes: int
    """Node labels drawn from ``1 .. nodes`` per instance (at least ``1 + D * L``)."""
    seed: int
    """Seed of the instances (logged and held out)."""
    eval_instances: int = 32
    """Held-out instances the methods are evaluated on."""

    name = "star-graph"

    @property
    def edges(self) -> int:
        return self.arms * self.arm_length

    @property
    def prompt_length(self) -> int:
        """Edge tokens, start, goal, and the path's first node (the start)."""
        return 2 * self.edges + 3

    @property
    def max_length(self) -> int:
        return self.prompt_length + self.arm_length

    @property
    def vocab(self) -> int:
        """Padding and the node labels."""
        return self.nodes + 1

    @property
    def prompts(self) -> np.ndarray:
        """(eval_instances, P) the held-out prompts."""
        return draw_instances(self, self.eval_instances, stream=1)[0]

    def describe(self) -> dict:
        return {"task": self.name, "arms": self.arms, "arm_length": self.arm_length,
                "nodes": self.nodes, "seed": self.seed, "prompt_length": self.prompt_length,
                "max_length": self.max_length, "eval_instances": self.eval_instances,
                "chance": 1.0 / self.arms}  # fmt: skip


def make_star_graph(arms: int = 2, arm_length: int = 3, nodes: int | None = None,
                    seed: int = 1000) -> StarGraph:  # fmt: skip
    """Path-star instances with ``arms`` arms of ``arm_length`` nodes; labels from
    ``1 .. nodes`` (default: exactly the ``1 + arms * arm_length`` a graph needs)."""
    if not 2 <= arms <= 10:
        raise QlearnError(f"--arms must be between 2 and 10, got {arms}")
    if not 1 <= arm_length <= 10:
        raise QlearnError(f"--arm-length must be between 1 and 10, got {arm_length}")
    need = 1 + arms * arm_length
    nodes = need if nodes is None else nodes
    if not need <= nodes <= 200:
        raise QlearnError(
            f"--nodes must be between {need} (1 + arms * arm-length) and 200 for star-graph, "
            f"got {nodes}"
        )
    if seed < 0:
        raise QlearnError(f"the seed must be 0 or more, got {seed}")
    return StarGraph(arms, arm_length, nodes, seed)


def draw_instances(task: StarGraph, count: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` instances from the stream ``[seed, stream]``: prompts (count, P) and the
    index of the goal's arm (count,)."""
    prompts, goal_arm, _ = _draw(task, count, stream)
    return prompts, goal_arm


def _draw(task: StarGraph, count: int, stream: int):
    """Prompts, the goal's arm and the walker's arm (both drawn with each instance)."""
    rng = np.random.default_rng([task.seed, stream])
    d, length, e = task.arms, task.arm_length, task.edges
    prompts = np.zeros((count, task.prompt_length), dtype=np.int32)
    goal_arm = np.zeros(count, dtype=np.int64)
    walker = np.zeros(count, dtype=np.int64)
    for i in range(count):
        labels = 1 + rng.permutation(task.nodes)[: 1 + e]
        start, arms = labels[0], labels[1:].reshape(d, length)
        chains = np.concatenate([np.full((d, 1), start), arms], axis=1)  # (D, L + 1)
        pairs = np.stack([chains[:, :-1], chains[:, 1:]], axis=-1).reshape(e, 2)
        pairs = pairs[rng.permutation(e)]
        goal_arm[i] = rng.integers(d)
        walker[i] = rng.integers(d)
        prompts[i, : 2 * e] = pairs.ravel()
        prompts[i, 2 * e :] = (start, arms[goal_arm[i], -1], start)
    return prompts, goal_arm, walker


def star_walks(task: StarGraph, walks: int) -> list[list[int]]:
    """Logged walks: fresh instances (stream ``[seed, 0]``), each followed by the walk
    that takes a uniformly drawn arm at the fork to its end (prompt tokens included)."""
    if walks < 1:
        raise QlearnError(f"--episodes must be at least 1, got {walks}")
    prompts, _, walker = _draw(task, walks, stream=0)
    out = []
    succ = successors(task, prompts)
    for i, (prompt, arm) in enumerate(zip(prompts, walker, strict=True)):
        node = int(arm_heads(task, prompt)[arm])
        path = [node]
        for _ in range(task.arm_length - 1):
            node = int(succ[i, node])
            path.append(node)
        out.append([int(t) for t in prompt] + path)
    return out


def arm_heads(task: StarGraph, prompt: np.ndarray) -> np.ndarray:
    """(D,) the first node of each arm, in the order the edges list them."""
    pairs = prompt[: 2 * task.edges].reshape(-1, 2)
    start = prompt[2 * task.edges]
    return pairs[pairs[:, 0] == start, 1]


def successors(task: StarGraph, prompts: np.ndarray) -> np.ndarray:
    """(B, vocab) the successor of each node on an arm (0: none; the start has several)."""
    b = prompts.shape[0]
    pairs = prompts[:, : 2 * task.edges].reshape(b, -1, 2)
    out = np.zeros((b, task.vocab), dtype=np.int64)
    rows = np.repeat(np.arange(b), task.edges)
    out[rows, pairs[..., 0].ravel()] = pairs[..., 1].ravel()
    return out


def adjacency(task: StarGraph, prompts: np.ndarray) -> np.ndarray:
    """(B, vocab, vocab) bool: the edges each prompt lists."""
    b = prompts.shape[0]
    pairs = prompts[:, : 2 * task.edges].reshape(b, -1, 2)
    adj = np.zeros((b, task.vocab, task.vocab), dtype=bool)
    rows = np.repeat(np.arange(b), task.edges)
    adj[rows, pairs[..., 0].ravel(), pairs[..., 1].ravel()] = True
    return adj


def goal_arm_nodes(task: StarGraph, prompts: np.ndarray) -> np.ndarray:
    """(B, vocab) bool: the nodes on the goal's arm (start excluded), traced back from the
    goal along the listed edges."""
    b = prompts.shape[0]
    pairs = prompts[:, : 2 * task.edges].reshape(b, -1, 2)
    parent = np.zeros((b, task.vocab), dtype=np.int64)
    rows = np.repeat(np.arange(b), task.edges)
    parent[rows, pairs[..., 1].ravel()] = pairs[..., 0].ravel()
    on = np.zeros((b, task.vocab), dtype=bool)
    node = prompts[:, 2 * task.edges + 1].astype(np.int64)
    start = prompts[:, 2 * task.edges]
    for _ in range(task.arm_length):
        live = node != start
        on[np.arange(b)[live], node[live]] = True
        node = parent[np.arange(b), node]
    return on


def star_optimality(task: StarGraph, tokens: np.ndarray) -> np.ndarray:
    """(B,) 1 for a path along listed edges from the start to the goal, else 0."""
    tokens = np.asarray(tokens)
    p = task.prompt_length
    adj = adjacency(task, tokens[:, :p])
    rows = np.arange(tokens.shape[0])
    ok = np.ones(tokens.shape[0], dtype=bool)
    for t in range(p - 1, task.max_length - 1):
        ok &= adj[rows, tokens[:, t], tokens[:, t + 1]]
    return (ok & (tokens[:, -1] == tokens[:, 2 * task.edges + 1])).astype(float)


def star_taken_q(task: StarGraph, tokens: np.ndarray, gamma: float = 1.0, shift: float = 0.0,
                 scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """(B, M-1) the exact Q* of each (prefix ``tokens[:, :t+1]``, next token
    ``tokens[:, t+1]``); 0 before the path (no choice there) and after a wrong step.

    With ``g(x) = (x - shift) / scale`` the reward of a score and ``k`` the steps left
    after the token: a token that is no edge ends the walk, ``g(0)``; a valid one on the
    goal's arm is worth ``max(gamma^k g(1), gamma^j g(0) for j = 1..k)`` (the best of going
    on to the goal or failing later on purpose); on another arm ``max_j gamma^j g(0)``."""
    tokens = np.asarray(tokens)
    b, m = tokens.shape
    p = task.prompt_length
    adj = adjacency(task, tokens[:, :p])
    on = goal_arm_nodes(task, tokens[:, :p])
    rows = np.arange(b)
    g0, g1 = (0.0 - shift) / scale, (1.0 - shift) / scale
    q = np.zeros((b, m - 1))
    alive = np.ones(b, dtype=bool)
    for t in range(p - 1, m - 1):
        u, v = tokens[:, t], tokens[:, t + 1]
        valid = adj[rows, u, v]
        k = m - 2 - t
        fail_later = max((gamma**j * g0 for j in range(1, k + 1)), default=-np.inf)
        good = max(gamma**k * g1, fail_later)
        bad = max(gamma**k * g0, fail_later)
        here = np.where(valid, np.where(on[rows, v], good, bad), g0)
        q[:, t] = np.where(alive, here, 0.0)
        alive &= valid
    return q


def check_star_walks(task: StarGraph, tokens: np.ndarray, lengths: np.ndarray,
                     first: np.ndarray, source: str) -> None:  # fmt: skip
    """Logged sequences are whole path-star instances of this shape followed by a walk
    along their edges; anything else was logged on another task (one line, naming a row)."""
    p, e = task.prompt_length, task.edges
    short = np.flatnonzero(lengths != task.max_length)
    if short.size:
        k = int(short[0])
        raise QlearnError(
            f"{source}: episode at row {int(first[k]) + 2} has {lengths[k]} tokens, not "
            f"{task.max_length} (prompt and path of a {task.arms}x{task.arm_length} star); "
            "it is a file of another task"
        )
    for k, seq in enumerate(tokens):
        prompt = seq[:p]
        pairs = prompt[: 2 * e].reshape(e, 2)
        start, goal, again = prompt[2 * e :]
        reach = {int(start)}
        for _ in range(task.arm_length):
            reach |= {int(v) for u, v in pairs if int(u) in reach}
        heads = pairs[pairs[:, 0] == start, 1]
        shaped = (
            again == start and len(heads) == task.arms and len(set(pairs[:, 1])) == e
            and PAD not in prompt and len(reach) == e + 1 and int(goal) in reach
            and not np.any(pairs[:, 0] == goal)
        )  # fmt: skip
        if not shaped:
            raise QlearnError(
                f"{source}: episode at row {int(first[k]) + 2} is not a path-star graph "
                f"with {task.arms} arms of {task.arm_length}; it is a file of another task"
            )
    adj = adjacency(task, tokens[:, :p])
    rows = np.arange(len(tokens))
    for t in range(p - 1, task.max_length - 1):
        bad = np.flatnonzero(~adj[rows, tokens[:, t], tokens[:, t + 1]])
        if bad.size:
            k = int(bad[0])
            raise QlearnError(
                f"{source}: row {int(first[k]) + t + 3} steps {tokens[k, t]} -> "
                f"{tokens[k, t + 1]}, an edge its graph does not list"
            )
