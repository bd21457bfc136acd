"""Finite worlds that are not grids."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from qlearn.mdp import FiniteMDP, validate_mdp


def maxbias(n_b_actions: int = 10, mean: float = -0.1, std: float = 1.0) -> FiniteMDP:
    """Sutton & Barto's Example 6.7, the world that shows maximization bias.

    From A, ``right`` ends the episode with reward 0 and ``left`` leads to B (reward 0).
    Every one of B's actions ends the episode with a reward drawn from
    N(mean, std^2). Left is worse in expectation, but a max over noisy estimates of B's
    actions makes it look better. States: A, B, and the terminal T.
    """
    n_a = max(2, n_b_actions)
    A, B, T = 0, 1, 2
    P = np.zeros((3, n_a, 3))
    R = np.zeros((3, n_a, 3))
    R_std = np.zeros((3, n_a, 3))
    legal = np.zeros((3, n_a), dtype=bool)
    legal[A, :2] = True
    legal[B, :n_b_actions] = True
    legal[T, :] = True
    P[A, 0, B] = 1.0  # left
    P[A, 1, T] = 1.0  # right
    P[A, 2:, A] = 1.0  # illegal: kept stochastic so rows are distributions
    P[B, :, T] = 1.0
    R[B, :n_b_actions, T] = mean
    R_std[B, :n_b_actions, T] = std
    P[T, :, T] = 1.0
    mdp = FiniteMDP.from_dense(
        P,
        R,
        R_std,
        terminal=np.array([False, False, True]),
        start=np.array([1.0, 0.0, 0.0]),
        legal=legal,
        gamma=1.0,
        name="maxbias",
        state_names=("A", "B", "T"),
        action_names=("left|b1", "right|b2") + tuple(f"b{i}" for i in range(3, n_a + 1)),
        max_steps=10,
    )
    validate_mdp(mdp)
    return mdp


SPECIAL_WORLDS: dict[str, tuple[Callable[[], FiniteMDP], str]] = {
    "maxbias": (
        maxbias,
        "Maximization bias (Sutton & Barto, Example 6.7): A -left-> B -> N(-0.1, 1); "
        "A -right-> end with 0. Actions are masked per state.",
    ),
}
