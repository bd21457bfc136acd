"""One tabular update written out with its numbers, and the narration that holds a run
of them: what :mod:`qlearn.tabular.explain` (one-step learners) and
:mod:`qlearn.tabular.explain_traces` (learners with traces) both build on.

The arithmetic comes from the same compiled update rules the trainer uses
(:mod:`qlearn.tabular.rules`, called from Python), so a narration can never disagree
with training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qlearn.configs.tabular_config import TRACE_ALGOS
from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP
from qlearn.tabular.rules import (
    epsilon_greedy_probs,
    expected_sarsa_target,
    max_legal,
    q_learning_target,
    sarsa_target,
    td_update,
)

#: Algorithms ``explain`` narrates.
EXPLAINED_ALGOS = ("q-learning", "sarsa", "expected-sarsa")


@dataclass(frozen=True)
class Update:
    """One update of one table entry, with every number of its arithmetic."""

    step: int  # 1-based position in the narration
    episode: int | None  # 1-based episode, None for scripted moves
    state: str
    action: str
    reward: float
    next_state: str
    done: bool  # the landing state is terminal: nothing to bootstrap from
    algo: str
    gamma: float
    alpha: float
    bootstrap_actions: tuple[str, ...]  # the action(s) whose value the target uses
    next_value: float | None  # max / next-action / expected Q at the landing state
    target: float
    prediction: float  # Q(s, a) before the update
    td_error: float
    new_value: float
    epsilon: float | None = None  # expected SARSA: the policy's epsilon
    trace: Any = None  # q-lambda, sarsa-lambda: the explain_traces.TraceStep of the update

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bootstrap_actions"] = list(self.bootstrap_actions)
        return out


@dataclass(frozen=True)
class Narration:
    """A sequence of narrated updates and the table they leave behind."""

    world: str
    algo: str
    alpha: float
    gamma: float
    source: str  # "steps" or "episodes"
    updates: tuple[Update, ...]
    q: np.ndarray  # (S, A) the table after the last update
    mdp: FiniteMDP
    note: str | None = None  # a remark on the narration (e.g. textbook vs Bellman)
    episode_returns: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        from qlearn.textview import q_dict

        return {
            "world": self.world,
            "algo": self.algo,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "source": self.source,
            "updates": [u.to_dict() for u in self.updates],
            "q": q_dict(self.mdp, self.q),
            "episode_returns": list(self.episode_returns),
            "note": self.note,
        }


# --- the arithmetic of one update ------------------------------------------------


def narrate_update(
    mdp: FiniteMDP,
    q: np.ndarray,
    s: int,
    a: int,
    r: float,
    s2: int,
    *,
    algo: str,
    alpha: float,
    gamma: float,
    next_action: int = -1,
    epsilon: float = 0.0,
    step: int = 1,
    episode: int | None = None,
) -> Update:
    """The update of ``Q(s, a)`` after the transition ``(s, a, r, s2)``, with its numbers.

    ``q`` is the table before the update; it is not modified. ``next_action`` is the
    action SARSA takes at ``s2``; ``epsilon`` the exploration of expected SARSA's policy.
    """
    done = bool(mdp.terminal[s2])
    row, legal = q[s2], mdp.legal[s2]
    names = mdp.action_names
    bootstrap: tuple[str, ...] = ()
    next_value: float | None = None
    if algo == "q-learning":
        target = float(q_learning_target(r, gamma, done, row, legal))
        if not done:
            next_value = float(max_legal(row, legal))
            bootstrap = tuple(names[b] for b in np.flatnonzero(legal & (row == next_value)))
    elif algo == "sarsa":
        if not done and next_action < 0:
            raise QlearnError("SARSA needs the next action taken at the landing state")
        target = float(sarsa_target(r, gamma, done, row, next_action))
        if not done:
            next_value = float(row[next_action])
            bootstrap = (names[next_action],)
    elif algo == "expected-sarsa":
        probs = np.zeros(mdp.n_actions)
        epsilon_greedy_probs(row, legal, epsilon, probs)
        target = float(expected_sarsa_target(r, gamma, done, row, probs))
        if not done:
            next_value = float(probs @ np.where(legal, row, 0.0))
            bootstrap = tuple(names[b] for b in np.flatnonzero(probs > 0))
    else:
        raise QlearnError(
            f"explain narrates {', '.join(EXPLAINED_ALGOS)}; got {algo!r} "
            "(train it with `qlearn train --algo` instead)"
        )
    prediction = float(q[s, a])
    return Update(
        step=step,
        episode=episode,
        state=mdp.state_names[s],
        action=names[a],
        reward=float(r),
        next_state=mdp.state_names[s2],
        done=done,
        algo=algo,
        gamma=float(gamma),
        alpha=float(alpha),
        bootstrap_actions=bootstrap,
        next_value=next_value,
        target=target,
        prediction=prediction,
        td_error=target - prediction,
        new_value=float(td_update(prediction, target, alpha)),
        epsilon=float(epsilon) if algo == "expected-sarsa" else None,
    )


def _check_alpha_algo(alpha: float, algo: str, algos: tuple[str, ...] = EXPLAINED_ALGOS) -> None:
    if algo not in algos:
        raise QlearnError(
            f"explain narrates {', '.join(EXPLAINED_ALGOS + TRACE_ALGOS)}; got {algo!r} "
            "(train it with `qlearn train --algo` instead)"
        )
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
        raise QlearnError(f"alpha must be in (0, 1], got {alpha}; pass e.g. --alpha 0.5")


def _num(x: float | None) -> str:
    """A number as a person writes it: up to 6 significant digits, no trailing zeros."""
    if x is None:
        return "-"
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


def _operand(x: float | None) -> str:
    """A number written after an operator: negatives in parentheses."""
    text = _num(x)
    return f"({text})" if text.startswith("-") and text != "-" else text
