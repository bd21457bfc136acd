"""Best-first planning with learned values on deterministic worlds: A*, Dijkstra and Q*.

Each planner searches the world's own model (its MDP arrays) from a start state for a
path into a terminal state that maximises the discounted return
``sum_t gamma^t R[s_t, a_t, s_t+1]`` (the world's ``gamma``), and returns it as a
:class:`PathResult`, with how much searching it took.

Deterministic worlds only: :func:`check_deterministic` refuses a world in which some
legal action of a non-terminal state can land in more than one state (a slippery grid,
FrozenLake); MCTS (:mod:`~qlearn.search.mcts`) plans in those.

Reward form, not cost form. A frontier node in state ``s`` at depth ``d``, reached with
the discounted reward ``g = sum_{t<d} gamma^t r_t``, is scored

    f = g + gamma^d h(s),   h(s) = min(v_hat(s), U) if s is not terminal, else 0,

where ``U = upper_bound(mdp)`` is a trivial bound on any return from any state: with
``r_max`` = max(0, the largest reward of a legal transition), ``U = r_max / (1 - gamma)``
if gamma < 1, ``0`` if gamma = 1 and ``r_max = 0``, and ``+inf`` if gamma = 1 and
``r_max > 0`` (no finite bound exists). The frontier node of highest ``f`` is expanded
first. In step-cost worlds (every reward <= 0, gamma 1: mazes, cliff) ``U = 0``, so
``h = min(V_hat, 0)``: exactly the textbook cost-to-go heuristic ``max(0, -V_hat(s))`` of
cost-form A*, with the sign flipped.

- :func:`astar`: best-first on ``f`` with a closed set of expanded states (graph search,
  no reopening). The goal test is on popping: the first popped node whose state is
  terminal ends the search and its path is returned. Ties in ``f`` go to the node queued
  first. ``h`` is admissible when it is an upper bound on the true value (``v_hat >= V*``,
  optimistic) and consistent when ``h(s) >= r + gamma h(s')`` along every transition.
  The returned path is optimal when ``h`` is consistent and either gamma = 1 or ``h`` is
  exact (``v_hat = V*``). With gamma < 1 the search space is really (state, depth), and
  closing a state on its first arrival is the usual graph-search shortcut: a later,
  longer arrival with more reward on the way could be worth more, which only an exact
  ``h`` rules out. A learned ``v_hat`` may be inadmissible (pessimistic somewhere, e.g.
  ``2 V*`` in a step-cost world); the path then still ends in a terminal if one is
  reachable, but it may not be optimal. ``nodes_expanded`` counts popped non-terminal
  states whose successors were generated.
- :func:`dijkstra`: :func:`astar` with ``h = U`` for every non-terminal state, the
  uninformed baseline (uniform-cost search in step-cost worlds). ``U`` is admissible and
  consistent, so with gamma = 1 the path is optimal; with gamma < 1 it is not exact, and
  a state can be closed on a short arrival when a longer one that collects a reward on
  the way is worth more (a shortest path is then returned instead of the best). It
  refuses a world with gamma 1 and a positive reward, where ``U`` is infinite.
- :func:`qstar`: Q* search (Agostinelli et al. 2021, "A* search without expansions").
  The queue holds (state, action) pairs scored ``f = g + gamma^d min(q_hat(s, a), U)``:
  one read of ``q_hat(s, .)`` prices every action of ``s``, so children are queued
  without being generated. Popping ``(s, a)`` counts as one expansion and generates the
  one child ``s'``; if ``s'`` is terminal its path is returned (the goal test is on
  generation), and if ``s'`` is not closed it is closed and ``(s', a')`` is queued for
  every legal ``a'``. Illegal actions are never queued. With exact ``q_hat = Q*`` the
  path is optimal.

Counting, the same in all three: ``nodes_generated`` counts successor states created by
applying a transition (in A* and Dijkstra, ``legal actions`` per expansion, closed
successors included; in Q*, one per pop), so the two numbers compare across planners.

Stopping: ``max_expansions`` (default ``10 * S * A``) caps the expansions. If the search
stops without entering a terminal state (the cap is hit, or the frontier runs out), it
returns the path to the best node popped (highest ``f``; ties go to the later, deeper
one) with ``reached_terminal=False``.

Values: ``v_hat`` is (S,) and ``q_hat`` is (S, A); they may hold ``-inf`` or ``nan`` at
terminal states and (for ``q_hat``) at illegal actions, which are never read (``h`` of a
terminal state is always 0). ``nan`` anywhere else is refused; ``-inf`` means "never".
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP


class PathResult(NamedTuple):
    """The path a planner found, what it earns, and how much searching it took."""

    states: np.ndarray  # (T+1,) int64: the start, then every state entered
    actions: np.ndarray  # (T,) int64
    discounted_return: float  # sum_t gamma^t R[s_t, a_t, s_t+1]
    undiscounted_return: float  # sum_t R[s_t, a_t, s_t+1]
    reached_terminal: bool  # False when the search stopped first (cap, or no way out)
    nodes_expanded: int  # A*, Dijkstra: states expanded; Q*: (state, action) pairs popped
    nodes_generated: int  # successor states created by applying a transition


# --- the world as a deterministic graph ------------------------------------------


def check_deterministic(mdp: FiniteMDP, planner: str) -> None:
    """Refuse, in one line, a world where some legal move of a non-terminal state can
    land in more than one state: best-first search needs one successor per action."""
    lands = (mdp.next_probs > 0).sum(axis=2)  # (S, A) how many outcomes each move has
    random = mdp.legal & ~mdp.terminal[:, None] & (lands > 1)
    if not random.any():
        return
    s, a = (int(i) for i in np.argwhere(random)[0])
    where, why = (
        ("cells", "it slips") if mdp.layout is not None else ("states", "its moves are random")
    )
    raise QlearnError(
        f"{planner} needs a deterministic world, but {mdp.name} is stochastic: "
        f"{mdp.state_names[s]} {mdp.action_names[a]} can land in {lands[s, a]} {where} "
        f"({why}); use --planner mcts or gumbel"
    )


def _largest_reward(mdp: FiniteMDP) -> float:
    """max(0, the largest reward of any legal transition out of a non-terminal state)."""
    moves = mdp.legal[:, :, None] & ~mdp.terminal[:, None, None] & (mdp.next_probs > 0)
    rewards = mdp.next_rewards[moves]
    return max(0.0, float(rewards.max())) if rewards.size else 0.0


def upper_bound(mdp: FiniteMDP) -> float:
    """U, a trivial upper bound on the return from any state: ``r_max / (1 - gamma)``;
    with gamma 1, 0 when no reward is positive and ``+inf`` otherwise."""
    r_max = _largest_reward(mdp)
    if mdp.gamma < 1:
        return r_max / (1.0 - mdp.gamma)
    return 0.0 if r_max == 0 else math.inf


class _Graph(NamedTuple):
    """A deterministic world as plain lists, for fast reads in the search loops."""

    successor: list[list[int]]  # [s][a] the one state (s, a) lands in
    reward: list[list[float]]  # [s][a] its reward
    actions: list[list[int]]  # [s] the legal actions of s
    terminal: list[bool]
    gamma: float


def _graph(mdp: FiniteMDP, planner: str, start: int) -> _Graph:
    check_deterministic(mdp, planner)
    if isinstance(start, bool) or not isinstance(start, int | np.integer):
        raise QlearnError(f"{planner}: the start must be a state index, got {start!r}")
    if not 0 <= start < mdp.n_states:
        raise QlearnError(
            f"{planner}: start state {start} is out of range; {mdp.name} has "
            f"states 0 to {mdp.n_states - 1}"
        )
    certain = mdp.next_probs.argmax(axis=2)[:, :, None]  # (S, A, 1) the one outcome
    successor = np.take_along_axis(mdp.next_states, certain, axis=2)[:, :, 0]
    reward = np.take_along_axis(mdp.next_rewards, certain, axis=2)[:, :, 0]
    return _Graph(
        successor=successor.tolist(),
        reward=reward.tolist(),
        actions=[np.flatnonzero(row).tolist() for row in mdp.legal],
        terminal=mdp.terminal.tolist(),
        gamma=float(mdp.gamma),
    )


def _cap(mdp: FiniteMDP, planner: str, max_expansions: int | None) -> int:
    if max_expansions is None:
        return 10 * mdp.n_states * mdp.n_actions
    if isinstance(max_expansions, bool) or not isinstance(max_expansions, int | np.integer):
        raise QlearnError(
            f"{planner}: max_expansions must be a whole number, got {max_expansions!r}"
        )
    if max_expansions < 0:
        raise QlearnError(f"{planner}: max_expansions must be 0 or more, got {max_expansions}")
    return int(max_expansions)


# --- learned values as heuristics --------------------------------------------------


def _state_heuristic(mdp: FiniteMDP, v_hat: np.ndarray, planner: str) -> list[float]:
    """(S,) h = min(v_hat, U) at non-terminal states, 0 at terminal ones."""
    v = np.asarray(v_hat, dtype=float)
    if v.shape != (mdp.n_states,):
        raise QlearnError(
            f"{planner}: v_hat must have one value per state, shape ({mdp.n_states},), "
            f"got {v.shape}"
        )
    bad = np.isnan(v) & ~mdp.terminal
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        raise QlearnError(
            f"{planner}: v_hat is nan at state {mdp.state_names[s]}; "
            "nan is allowed only at terminal states"
        )
    h = np.minimum(v, upper_bound(mdp))
    return np.where(mdp.terminal, 0.0, h).tolist()


def _action_heuristic(mdp: FiniteMDP, q_hat: np.ndarray, planner: str) -> list[list[float]]:
    """(S, A) min(q_hat, U), read only at legal actions of non-terminal states."""
    q = np.asarray(q_hat, dtype=float)
    if q.shape != (mdp.n_states, mdp.n_actions):
        raise QlearnError(
            f"{planner}: q_hat must have shape (states, actions) = "
            f"({mdp.n_states}, {mdp.n_actions}), got {q.shape}"
        )
    read = mdp.legal & ~mdp.terminal[:, None]
    bad = np.isnan(q) & read
    if bad.any():
        s, a = (int(i) for i in np.argwhere(bad)[0])
        raise QlearnError(
            f"{planner}: q_hat is nan at {mdp.state_names[s]} {mdp.action_names[a]}; "
            "nan is allowed only at illegal actions and terminal states"
        )
    return np.where(read, np.minimum(q, upper_bound(mdp)), 0.0).tolist()


def _score(g: float, gamma: float, depth: int, h: float) -> float:
    """f = g + gamma^depth h; a discount that underflows to 0 leaves g (never 0 * inf)."""
    discount = gamma**depth
    return g if discount == 0.0 else g + discount * h


# --- the search tree ---------------------------------------------------------------


@dataclass
class _Tree:
    """Search nodes as parallel lists; node 0 is the start. A node is a path prefix."""

    state: list[int]
    parent: list[int] = field(default_factory=lambda: [-1])
    action: list[int] = field(default_factory=lambda: [-1])
    g: list[float] = field(default_factory=lambda: [0.0])
    depth: list[int] = field(default_factory=lambda: [0])

    def add(self, node: int, action: int, graph: _Graph) -> int:
        """The child of ``node`` by ``action``; returns its index."""
        s, d = self.state[node], self.depth[node]
        self.state.append(graph.successor[s][action])
        self.parent.append(node)
        self.action.append(action)
        self.g.append(self.g[node] + graph.gamma**d * graph.reward[s][action])
        self.depth.append(d + 1)
        return len(self.state) - 1

    def path(self, node: int) -> tuple[list[int], list[int]]:
        """(states, actions) from the start to ``node``."""
        states, actions = [self.state[node]], []
        while self.parent[node] >= 0:
            actions.append(self.action[node])
            node = self.parent[node]
            states.append(self.state[node])
        return states[::-1], actions[::-1]


def _result(
    tree: _Tree, node: int, graph: _Graph, reached: bool, expanded: int, generated: int
) -> PathResult:
    states, actions = tree.path(node)
    rewards = [graph.reward[s][a] for s, a in zip(states[:-1], actions, strict=True)]
    return PathResult(
        states=np.asarray(states, dtype=np.int64),
        actions=np.asarray(actions, dtype=np.int64),
        discounted_return=float(sum(graph.gamma**t * r for t, r in enumerate(rewards))),
        undiscounted_return=float(sum(rewards)),
        reached_terminal=reached,
        nodes_expanded=expanded,
        nodes_generated=generated,
    )


# --- the planners ------------------------------------------------------------------


def _best_first(graph: _Graph, start: int, h: list[float], cap: int) -> PathResult:
    """A* on f = g + gamma^d h(s): graph search with a closed set, goal test on popping."""
    tree = _Tree(state=[start])
    queue = [(-_score(0.0, graph.gamma, 0, h[start]), 0, 0)]  # (-f, order, node)
    closed: set[int] = set()
    best, best_f = 0, -math.inf
    expanded = generated = 0
    while queue:
        neg_f, _, node = heapq.heappop(queue)
        s = tree.state[node]
        if graph.terminal[s]:
            return _result(tree, node, graph, True, expanded, generated)
        if s in closed:
            continue  # a later, worse arrival at an expanded state
        if expanded >= cap:
            break
        if -neg_f >= best_f:
            best, best_f = node, -neg_f
        closed.add(s)
        expanded += 1
        for a in graph.actions[s]:
            generated += 1
            if graph.successor[s][a] in closed:
                continue
            child = tree.add(node, a, graph)
            f = _score(tree.g[child], graph.gamma, tree.depth[child], h[tree.state[child]])
            heapq.heappush(queue, (-f, child, child))
    return _result(tree, best, graph, False, expanded, generated)


def astar(
    mdp: FiniteMDP, start: int, v_hat: np.ndarray, *, max_expansions: int | None = None
) -> PathResult:
    """A* from ``start`` guided by state values ``v_hat`` (S,): h = min(v_hat, U).

    Optimal when h is consistent and gamma is 1 or v_hat is V*; see the module notes.
    """
    graph = _graph(mdp, "astar", start)
    h = _state_heuristic(mdp, v_hat, "astar")
    return _best_first(graph, int(start), h, _cap(mdp, "astar", max_expansions))


def check_world(mdp: FiniteMDP, planner: str) -> None:
    """Refuse, in one line and before any search, a world ``planner`` cannot plan in: a
    stochastic one, or (dijkstra) one whose returns have no finite bound."""
    check_deterministic(mdp, planner)
    if planner == "dijkstra" and math.isinf(upper_bound(mdp)):
        raise QlearnError(
            f"dijkstra needs a finite bound on the return, but {mdp.name} has gamma 1 and a "
            f"positive reward (up to {_largest_reward(mdp):g}), so returns are unbounded; "
            "use astar with learned values, or a gamma below 1"
        )


def dijkstra(mdp: FiniteMDP, start: int, *, max_expansions: int | None = None) -> PathResult:
    """Uninformed best-first search from ``start``: A* with h = U at every non-terminal
    state (uniform-cost search in step-cost worlds), the baseline A* and Q* must beat."""
    graph = _graph(mdp, "dijkstra", start)
    check_world(mdp, "dijkstra")
    h = np.where(mdp.terminal, 0.0, upper_bound(mdp)).tolist()
    return _best_first(graph, int(start), h, _cap(mdp, "dijkstra", max_expansions))


def qstar(
    mdp: FiniteMDP, start: int, q_hat: np.ndarray, *, max_expansions: int | None = None
) -> PathResult:
    """Q* search from ``start`` guided by action values ``q_hat`` (S, A): the queue holds
    (state, action) pairs priced by q_hat, so a child is generated only when popped."""
    graph = _graph(mdp, "qstar", start)
    q = _action_heuristic(mdp, q_hat, "qstar")
    cap = _cap(mdp, "qstar", max_expansions)
    start = int(start)
    tree = _Tree(state=[start])
    if graph.terminal[start]:
        return _result(tree, 0, graph, True, 0, 0)
    queue: list[tuple[float, int, int, int]] = []  # (-f, order, node, action)
    order = itertools.count()  # numbers the pushes, so ties in f go to the first queued
    closed: set[int] = set()

    def price(node: int) -> None:
        """Close the node's state and queue each of its legal actions at its price."""
        s, g, d = tree.state[node], tree.g[node], tree.depth[node]
        closed.add(s)
        for a in graph.actions[s]:
            heapq.heappush(queue, (-_score(g, graph.gamma, d, q[s][a]), next(order), node, a))

    price(0)
    best, best_f = 0, -math.inf
    expanded = generated = 0
    while queue:
        neg_f, _, node, a = heapq.heappop(queue)
        if expanded >= cap:
            break
        expanded += 1
        generated += 1
        child = tree.add(node, a, graph)
        if -neg_f >= best_f:
            best, best_f = child, -neg_f
        s = tree.state[child]
        if graph.terminal[s]:
            return _result(tree, child, graph, True, expanded, generated)
        if s not in closed:
            price(child)
    return _result(tree, best, graph, False, expanded, generated)
