"""Decisions and simulations per second of ``qlearn plan --planner mcts`` against a
plain-Python UCT written the way tutorials write it, on the same maze, table and budget.

Both search the world's own model from every non-terminal state of the maze, with the
same learned table (Q-learning stopped early) giving the leaf values, and take
``--horizon`` decisions from each start. qlearn runs every start state at once in one
compiled program (compile time printed apart); the tutorial UCT is a tree of Python
objects, UCB1 selection, one expansion per simulation, and the transition sampled with
``random.choices`` from the MDP's row.

    python bench/plan_throughput.py [--maze maze:15x15:seed=1] [--simulations 32]
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import time

import jax
import numpy as np

import qlearn
from qlearn.search.episodes import play_search


class Node:
    """A state in the tutorial's search tree."""

    def __init__(self, state: int) -> None:
        self.state = state
        self.visits = 0
        self.value_sum = 0.0
        self.children: dict[int, Node] = {}


class TutorialUCT:
    """UCT as tutorials write it: select by UCB1 down to a leaf, expand one child,
    evaluate it with the table's value, back the discounted return up."""

    def __init__(self, mdp, v_hat: np.ndarray, c: float = 1.4, seed: int = 0) -> None:
        self.mdp, self.v_hat, self.c = mdp, v_hat, c
        self.rng = random.Random(seed)
        self.rows = {
            (s, a): (list(np.flatnonzero(mdp.P[s, a])), list(mdp.P[s, a][mdp.P[s, a] > 0]))
            for s in range(mdp.n_states)
            for a in range(mdp.n_actions)
        }

    def step(self, s: int, a: int) -> tuple[int, float]:
        states, probs = self.rows[(s, a)]
        s2 = self.rng.choices(states, probs)[0]
        return s2, float(self.mdp.R[s, a, s2])

    def simulate(self, node: Node, depth: int = 0) -> float:
        mdp = self.mdp
        if mdp.terminal[node.state] or depth > 200:
            return 0.0
        legal = [a for a in range(mdp.n_actions) if mdp.legal[node.state, a]]
        untried = [a for a in legal if a not in node.children]
        if untried:
            a = self.rng.choice(untried)
            s2, r = self.step(node.state, a)
            child = node.children[a] = Node(s2)
            value = r + mdp.gamma * (0.0 if mdp.terminal[s2] else self.v_hat[s2])
            child.visits, child.value_sum = 1, value
        else:

            def ucb(a: int) -> float:
                child = node.children[a]
                explore = self.c * math.sqrt(math.log(node.visits) / child.visits)
                return child.value_sum / child.visits + explore

            a = max(legal, key=ucb)
            child = node.children[a]
            s2, r = self.step(node.state, a)
            if s2 != child.state:  # a stochastic move landed elsewhere: evaluate it fresh
                value = r + mdp.gamma * (0.0 if mdp.terminal[s2] else self.v_hat[s2])
            else:
                value = r + mdp.gamma * self.simulate(child, depth + 1)
            child.visits += 1
            child.value_sum += value
        node.visits += 1
        node.value_sum += value
        return value

    def decide(self, s: int, simulations: int) -> int:
        root = Node(s)
        for _ in range(simulations):
            self.simulate(root)
        return max(root.children, key=lambda a: root.children[a].visits)


def tutorial_decisions(mdp, v_hat, starts, simulations: int, horizon: int) -> tuple[int, float]:
    uct = TutorialUCT(mdp, v_hat)
    decisions, began = 0, time.perf_counter()
    for s0 in starts:
        s = int(s0)
        for _ in range(horizon):
            if mdp.terminal[s]:
                break
            a = uct.decide(s, simulations)
            s, _ = uct.step(s, a)
            decisions += 1
    return decisions, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maze", default="maze:15x15:seed=1")
    parser.add_argument("--episodes", type=int, default=60, help="Q-learning's (stopped early)")
    parser.add_argument("--simulations", type=int, default=32)
    parser.add_argument("--horizon", type=int, default=20, help="decisions from each start")
    args = parser.parse_args()

    run = qlearn.train(args.maze, episodes=args.episodes, seeds=4)
    mdp, q = run.mdp, run.q
    starts = np.flatnonzero(~mdp.terminal)
    machine = platform.processor() or platform.machine()
    print(f"{machine}; python {platform.python_version()}, jax {jax.__version__}; {args.maze}: "
          f"{len(starts)} start states, {args.simulations} simulations per decision, "
          f"{args.horizon} decisions each")  # fmt: skip

    began = time.perf_counter()
    play_search(mdp, q, starts[:1], planner="mcts", simulations=args.simulations, horizon=1)
    warm = time.perf_counter() - began
    played = play_search(mdp, q, starts, planner="mcts", simulations=args.simulations,
                         horizon=args.horizon)  # fmt: skip
    ours = played.decisions / played.seconds
    print(f"qlearn mcts (mctx, batched):  {ours:12,.0f} decisions/s  "
          f"{ours * args.simulations:14,.0f} simulations/s  "
          f"({played.decisions} decisions in {played.seconds:.2f} s; a first compile took "
          f"{warm:.1f} s)")  # fmt: skip

    v_hat = np.where(mdp.legal, q, -np.inf).max(axis=1)
    decisions, seconds = tutorial_decisions(mdp, v_hat, starts, args.simulations, args.horizon)
    theirs = decisions / seconds
    print(f"tutorial UCT (plain Python):  {theirs:12,.0f} decisions/s  "
          f"{theirs * args.simulations:14,.0f} simulations/s  "
          f"({decisions} decisions in {seconds:.2f} s)")  # fmt: skip
    print(f"ratio: {ours / theirs:.1f}x decisions per second")


if __name__ == "__main__":
    main()
