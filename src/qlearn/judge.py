"""The one judge of a learned table against the exact solution of its finite world.

Every number qlearn reports about how near a learner came to the optimum is defined here,
whichever learner made the table (tabular, offline, DQN on a finite world) and whichever
command reports it (train, compare, sweep, eval):

- **gap**: the largest |Q - Q*| over the legal actions of non-terminal states;
- **optimal share**: the share of non-terminal states whose greedy actions (exact ties all
  counted) are all optimal;
- **greedy return**: the exact expected return, from the start distribution, of acting
  greedily on the table with ties broken uniformly at random (undiscounted, and
  discounted); a greedy policy that may loop forever has no undiscounted return, so it is
  scored by what it earns over an episode capped at the training horizon;
- **start-optimal**: the greedy policy's discounted return from the start equals V* at
  the start. A table can be start-optimal while acting badly in states it never reaches,
  so this is not "optimal share = 1".

The compiled tabular loop keeps the gap and the optimal share per episode, incrementally,
with its own arithmetic; a test holds its final values equal to this module's.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qlearn.exact import (
    PolicyReturn,
    Solution,
    greedy_ties,
    policy_matrices,
    policy_return,
    tie_policy,
)
from qlearn.mdp import FiniteMDP


def gap(mdp: FiniteMDP, solution: Solution, q: np.ndarray) -> float:
    """max |Q - Q*| over the legal actions of non-terminal states."""
    live = ~mdp.terminal[:, None] & mdp.legal
    return float(np.abs(q[live] - solution.q[live]).max())


def optimal_share(mdp: FiniteMDP, solution: Solution, q: np.ndarray) -> float:
    """Share of non-terminal states whose greedy actions (exact ties) are all optimal."""
    ties = greedy_ties(q, mdp.legal, atol=0.0)
    ok = ~(ties & ~solution.policy).any(axis=1)
    return float(ok[~mdp.terminal].mean())


def greedy_return(mdp: FiniteMDP, q: np.ndarray, gamma: float | None = None) -> PolicyReturn:
    """The exact return from the start of acting greedily on ``q`` (ties uniformly)."""
    return policy_return(mdp, tie_policy(q, mdp.legal), gamma)


def greedy_returns(
    mdp: FiniteMDP, tables: np.ndarray, gamma: float | None = None
) -> list[PolicyReturn]:
    """:func:`greedy_return` of each of ``tables`` (N, S, A), each distinct greedy policy
    evaluated once (seeds that learn a world fully often end on the same one)."""
    policies = np.stack([tie_policy(q, mdp.legal) for q in tables])
    distinct, which = np.unique(policies.reshape(len(policies), -1), axis=0, return_inverse=True)
    returns = [policy_return(mdp, p.reshape(policies.shape[1:]), gamma) for p in distinct]
    return [returns[i] for i in which.ravel()]


def capped_return(mdp: FiniteMDP, policy: np.ndarray, horizon: int) -> float:
    """Exact expected undiscounted return of ``policy`` over at most ``horizon`` steps.

    Finite-horizon policy evaluation from the start distribution: ``v_0 = 0``,
    ``v_{h+1} = r_pi + P_pi v_h``, with terminal states worth 0 (entering one pays its
    reward, which ``r_pi`` already holds).
    """
    live = ~mdp.terminal
    policy = np.where(live[:, None], policy, 0.0)  # terminal rows may be undefined (no action)
    p_pi, r_pi = policy_matrices(mdp, policy)  # terminal rows are empty: no action there
    r_pi = np.where(live, r_pi, 0.0)
    v = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v = r_pi + p_pi @ v
    return float(mdp.start @ v)


def scored_return(
    mdp: FiniteMDP, policy: np.ndarray, ret: PolicyReturn, horizon: int
) -> tuple[float, int]:
    """A policy's score and whether it surely ends (1) or may loop forever (0).

    ``ret`` is its exact :class:`~qlearn.exact.PolicyReturn`. When the policy may never reach
    a terminal, its undiscounted return does not exist; it then scores what it earns, in
    expectation, over an episode cut at ``horizon`` (the training cap), exactly as a capped
    evaluation episode would. So a looping policy counts (badly, on worlds with step
    costs) instead of silently leaving the statistics.
    """
    if ret.undiscounted is not None:
        return float(ret.undiscounted), 1
    return capped_return(mdp, policy, horizon), 0


def start_optimal(mdp: FiniteMDP, solution: Solution, ret: PolicyReturn) -> bool:
    """The policy's discounted return from the start equals V* there (relative 1e-9)."""
    v_star = float(mdp.start @ solution.v)
    return ret.discounted is not None and abs(ret.discounted - v_star) <= 1e-9 * max(
        1.0, abs(v_star)
    )


class Verdict(NamedTuple):
    """One table judged against the exact solution (see the module docstring)."""

    gap: float
    optimal_share: float
    greedy: PolicyReturn
    greedy_score: float  # the undiscounted greedy return, or the capped one if it may loop
    finishes: int  # 1 if the greedy policy surely ends, else 0


def judge(mdp: FiniteMDP, solution: Solution, q: np.ndarray, horizon: int | None = None) -> Verdict:
    """Every number of the module docstring for one learned table ``q`` (S, A)."""
    policy = tie_policy(q, mdp.legal)
    ret = policy_return(mdp, policy, solution.gamma)
    score, ends = scored_return(mdp, policy, ret, horizon or mdp.max_steps)
    return Verdict(gap(mdp, solution, q), optimal_share(mdp, solution, q), ret, score, ends)
