"""The exact distribution of the discounted return of a fixed policy on a finite world.

The expected return is one number (V); a distributional learner (C51, QR-DQN) claims the
whole law of the return. On a finite world that law can be computed exactly: walk the
episode forward step by step, keeping every reachable (state, return so far) pair with
its probability, merging pairs that agree; mass that enters a terminal state, or is
still walking when the time limit cuts the episode, lands on its return. Worlds with
random rewards, or whose pairs grow past ``max_atoms``, are estimated by Monte Carlo
instead, with the error stated (a 95% Dvoretzky-Kiefer-Wolfowitz band on the CDF).

Distances between two distributions on the line (atoms with probabilities) are the
Wasserstein-1 (the area between the CDFs) and the Cramer distance (the L2 distance
between the CDFs, the one C51's projection minimises).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP

#: Returns closer than this are one atom (floating-point sums of the same rewards).
ATOM_DECIMALS = 10


@dataclass(frozen=True)
class ReturnDistribution:
    """A distribution on the line: sorted atoms and their probabilities (summing to 1)."""

    values: np.ndarray  # (K,) sorted
    probs: np.ndarray  # (K,)
    exact: bool = True
    cdf_error: float = 0.0
    """0 when exact; else a bound on sup |F - F_estimate| holding with 95% probability."""
    episodes: int = 0
    """Monte Carlo episodes behind an estimate (0 when exact)."""

    @property
    def mean(self) -> float:
        return float(self.values @ self.probs)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(return <= x) at each point of ``x``."""
        cum = np.cumsum(self.probs)
        idx = np.searchsorted(self.values, np.asarray(x, float), side="right")
        return np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)


def merged(values: np.ndarray, probs: np.ndarray) -> ReturnDistribution:
    """Atoms sorted, equal ones (to ``ATOM_DECIMALS``) merged, empty ones dropped."""
    values = np.round(np.asarray(values, float), ATOM_DECIMALS)
    atoms, where = np.unique(values, return_inverse=True)
    mass = np.bincount(where.ravel(), weights=np.asarray(probs, float).ravel())
    keep = mass > 0
    return ReturnDistribution(atoms[keep], mass[keep] / mass[keep].sum())


def policy_matrix(mdp: FiniteMDP, policy: np.ndarray) -> np.ndarray:
    """(S, A) action probabilities from a deterministic (S,) policy, a stochastic (S, A)
    one, or an (S, A) boolean table of tied best actions (split evenly, as
    :attr:`~qlearn.exact.Solution.policy`; a row with none: every action)."""
    policy = np.asarray(policy)
    S, A = mdp.n_states, mdp.n_actions
    if policy.dtype == bool and policy.shape == (S, A):
        ties = np.where(policy.any(axis=1, keepdims=True), policy, True).astype(float)
        return ties / ties.sum(axis=1, keepdims=True)
    if policy.shape == (S,):
        if policy.min() < 0 or policy.max() >= A:
            raise QlearnError(f"the policy names actions outside 0..{A - 1}")
        return np.eye(A)[policy.astype(int)]
    if policy.shape != (S, A) or not np.allclose(policy.sum(axis=1), 1.0):
        raise QlearnError(f"a policy is (S,) actions or (S, A) probabilities; got {policy.shape}")
    return policy.astype(float)


def return_distribution(
    mdp: FiniteMDP,
    policy: np.ndarray,
    *,
    gamma: float | None = None,
    max_steps: int | None = None,
    start: int | np.ndarray | None = None,
    max_atoms: int = 200_000,
    episodes: int = 100_000,
    seed: int = 0,
) -> ReturnDistribution:
    """The law of ``sum_t gamma^t r_t`` over an episode that follows ``policy`` from
    ``start`` (a state, a distribution, or the world's start distribution), cut at
    ``max_steps`` (the world's training horizon by default) as training's episodes are.

    Exact by dynamic programming over reachable (state, return) pairs; by Monte Carlo
    (``episodes``, seeded by ``seed``) when rewards are random or the pairs outgrow
    ``max_atoms``.
    """
    gamma = mdp.gamma if gamma is None else float(gamma)
    horizon = int(max_steps or mdp.max_steps)
    pi = policy_matrix(mdp, policy)
    first = _start_vector(mdp, start)
    random_rewards = bool(np.any((mdp.next_reward_std > 0) & (mdp.next_probs > 0)))
    if not random_rewards:
        exact = _exact(mdp, pi, first, gamma, horizon, max_atoms)
        if exact is not None:
            return exact
    return _monte_carlo(mdp, pi, first, gamma, horizon, episodes, seed)


def _start_vector(mdp: FiniteMDP, start: int | np.ndarray | None) -> np.ndarray:
    if start is None:
        return np.asarray(mdp.start, float)
    if np.ndim(start) == 0:
        vec = np.zeros(mdp.n_states)
        vec[int(start)] = 1.0
        return vec
    return np.asarray(start, float)


def _exact(mdp, pi, first, gamma, horizon, max_atoms) -> ReturnDistribution | None:
    """Forward dynamic programming; None when the pairs outgrow ``max_atoms``."""
    state = np.flatnonzero(first > 0)
    ret = np.zeros(state.size)
    prob = first[state]
    # a start in a terminal state ends at once with return 0
    done_values, done_probs = [ret[mdp.terminal[state]]], [prob[mdp.terminal[state]]]
    alive = ~mdp.terminal[state]
    state, ret, prob = state[alive], ret[alive], prob[alive]
    for t in range(horizon):
        if state.size == 0:
            break
        # every (pair, action, outcome) with positive probability
        p = prob[:, None, None] * pi[state][:, :, None] * mdp.next_probs[state]  # (M, A, K)
        m, a, k = np.nonzero(p)
        nxt = mdp.next_states[state[m], a, k]
        new_ret = ret[m] + gamma**t * mdp.next_rewards[state[m], a, k]
        new_prob = p[m, a, k]
        ends = mdp.terminal[nxt]
        done_values.append(new_ret[ends])
        done_probs.append(new_prob[ends])
        state, ret, prob = _merge_pairs(nxt[~ends], new_ret[~ends], new_prob[~ends])
        if state.size > max_atoms:
            return None
    done_values.append(ret)  # still walking at the time limit: the episode is cut there
    done_probs.append(prob)
    return merged(np.concatenate(done_values), np.concatenate(done_probs))


def _merge_pairs(state, ret, prob):
    """Pairs with the same state and (rounded) return become one."""
    if state.size == 0:
        return state, ret, prob
    key = np.stack([state.astype(float), np.round(ret, ATOM_DECIMALS)], axis=1)
    uniq, where = np.unique(key, axis=0, return_inverse=True)
    mass = np.bincount(where.ravel(), weights=prob)
    return uniq[:, 0].astype(int), uniq[:, 1], mass


def _monte_carlo(mdp, pi, first, gamma, horizon, episodes, seed) -> ReturnDistribution:
    """``episodes`` simulated episodes, all stepped at once with NumPy."""
    rng = np.random.default_rng(seed)
    S, A = mdp.n_states, mdp.n_actions
    state = rng.choice(S, size=episodes, p=first / first.sum())
    ret = np.zeros(episodes)
    alive = ~mdp.terminal[state]
    cum_pi = np.cumsum(pi, axis=1)
    cum_p = np.cumsum(mdp.next_probs, axis=2)
    for t in range(horizon):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        s = state[idx]
        a = np.minimum((rng.random(idx.size)[:, None] > cum_pi[s]).sum(axis=1), A - 1)
        k = np.minimum(
            (rng.random(idx.size)[:, None] > cum_p[s, a]).sum(axis=1), mdp.n_successors - 1
        )
        r = mdp.next_rewards[s, a, k] + mdp.next_reward_std[s, a, k] * rng.standard_normal(idx.size)
        ret[idx] += gamma**t * r
        state[idx] = mdp.next_states[s, a, k]
        alive[idx] = ~mdp.terminal[state[idx]]
    out = merged(ret, np.full(episodes, 1.0 / episodes))
    error = math.sqrt(math.log(2 / 0.05) / (2 * episodes))
    return ReturnDistribution(out.values, out.probs, False, error, episodes)


def _cdf_gaps(x: ReturnDistribution, y: ReturnDistribution) -> tuple[np.ndarray, np.ndarray]:
    """|F_x - F_y| on each interval between consecutive atoms of either, and its width."""
    grid = np.union1d(x.values, y.values)
    diff = np.abs(x.cdf(grid[:-1]) - y.cdf(grid[:-1]))
    return diff, np.diff(grid)


def wasserstein_1(x: ReturnDistribution, y: ReturnDistribution) -> float:
    """W1 = the area between the two CDFs (for returns: how far, on average, mass moves)."""
    diff, width = _cdf_gaps(x, y)
    return float(np.sum(diff * width))


def cramer(x: ReturnDistribution, y: ReturnDistribution) -> float:
    """The Cramer distance: sqrt of the integral of the squared CDF difference."""
    diff, width = _cdf_gaps(x, y)
    return float(np.sqrt(np.sum(diff**2 * width)))
