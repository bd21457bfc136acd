"""What every method reports, as pure functions of sampled walks.

- mean optimality over the evaluation prompts, with a 95% percentile-bootstrap interval
  over seeds (each seed's mean is one value; :func:`qlearn.core.stats.bootstrap_ci`);
- success rate: the share of walks with a score above 0 (they reach the goal along
  existing edges in fewer than ``max_length`` nodes; a walk that arrives with its last
  allowed node scores 0, as in trlx, and counts as a failure);
- KL from the behaviour-cloning policy, ``E_pi[log pi(y) - log pi_bc(y)]`` estimated on
  the method's own samples; for best-of-n it is computed from the sampling distribution
  (:func:`best_of_n_kl`);
- tokens sampled per answer (compute);
- for value methods, the mean and max of ``|Q - Q*|`` over the visited (prefix, token).
"""

from __future__ import annotations

import math

import numpy as np

from qlearn.core.stats import bootstrap_ci
from qlearn.text.graph_tasks import GOAL, GraphWalk


def reached_goal(task: GraphWalk, tokens: np.ndarray) -> np.ndarray:
    """(B,) whether each walk reaches the goal along existing edges within the limit."""
    tokens = np.asarray(tokens)
    ok = np.ones(len(tokens), dtype=bool)
    arrived = np.zeros(len(tokens), dtype=bool)
    for i in range(1, min(tokens.shape[1], task.max_length)):
        step_ok = task.adjacency[tokens[:, i - 1], tokens[:, i]]
        ok &= arrived | step_ok
        arrived |= ok & (tokens[:, i] == GOAL)
    return arrived


def best_of_n_bound(n: int) -> float:
    """``log n - (n - 1) / n``: the KL of best-of-n from its base policy can be no larger
    (Beirami et al. 2024); a continuous reward without ties attains it."""
    return math.log(n) - (n - 1) / n


def best_of_n_kl(scores: np.ndarray, n: int) -> float:
    """KL(best-of-n || base) for one prompt, from ``scores`` of samples of the base policy.

    The samples' empirical distribution is the sampling distribution: group equal scores
    into levels with probabilities ``q_i`` (ascending), ``F_i`` their cumulative sums; the
    best of ``n`` lands on level ``i`` with probability ``F_i^n - F_{i-1}^n`` and, within a
    level, is distributed as the base policy (ties are broken at random), so the KL is
    the KL between the two level distributions."""
    _, counts = np.unique(np.asarray(scores, dtype=float), return_counts=True)
    q = counts / counts.sum()
    cdf = np.cumsum(q)
    qn = cdf**n - np.r_[0.0, cdf[:-1]] ** n
    keep = qn > 0
    return float(np.sum(qn[keep] * np.log(qn[keep] / q[keep])))


def best_of_n_success(p: np.ndarray, n: int) -> np.ndarray:
    """``1 - (1 - p)^n``: best-of-n's success when a checker recognises success."""
    return 1.0 - (1.0 - np.asarray(p, dtype=float)) ** n


def seed_interval(per_seed: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the mean over seeds (one value: that value twice)."""
    per_seed = np.asarray(per_seed, dtype=float)
    if per_seed.size == 1:
        return float(per_seed[0]), float(per_seed[0])
    lo, hi = bootstrap_ci(per_seed, seed=seed)
    return float(lo), float(hi)


def gap_stats(q: np.ndarray, q_star: np.ndarray, visited: np.ndarray) -> tuple[float, float]:
    """(mean, max) of ``|q - q_star|`` over the visited entries."""
    gap = np.abs(np.asarray(q) - np.asarray(q_star))[np.asarray(visited, dtype=bool)]
    if gap.size == 0:
        return float("nan"), float("nan")
    return float(gap.mean()), float(gap.max())
