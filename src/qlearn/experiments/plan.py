"""``qlearn plan``: how much search adds to a value table, measured against the exact optimum.

A value source (a saved run's learned table, Q* itself, or nothing) guides each planner
(:data:`qlearn.search.episodes.PLANNERS`) from every start state; MCTS and Gumbel MuZero
run at every simulation budget asked for. Each row of the result is one (planner,
budget): its mean normalised regret with a 95% bootstrap interval over start states,
success rate, mean return, decisions per second and, for the best-first planners, the
nodes they expanded and generated and the share of start states whose path is optimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.core.stats import bootstrap_ci
from qlearn.exact import Solution, solve
from qlearn.mdp import FiniteMDP
from qlearn.search.best_first import check_world
from qlearn.search.episodes import (
    PATH_PLANNERS,
    PLANNERS,
    SEARCH_PLANNERS,
    default_horizon,
    play,
    regret,
)
from qlearn.textview import json_number

VALUE_SOURCES = ("exact", "zero")
PRIORS = ("learned", "uniform")
LEAVES = ("learned", "zero")


@dataclass(frozen=True)
class PlanSettings:
    """How to evaluate the planners (the ``qlearn plan`` options)."""

    planners: tuple[str, ...] = ("greedy", "mcts")
    """Planners to evaluate: greedy, mcts, gumbel, astar, dijkstra, qstar."""
    simulations: tuple[int, ...] = (16,)
    """Simulations per decision of mcts and gumbel (each budget is evaluated)."""
    episodes: int = 1
    """Episodes per start state and seed."""
    seeds: int = 1
    """Independent seeds; seed k uses ``seed + k``."""
    seed: int = 0
    """Seed of the first."""
    prior: str = "learned"
    """learned: softmax(Q / temperature) over legal actions; uniform: no prior."""
    leaf: str = "learned"
    """learned: max legal Q at a leaf; zero: no value estimate."""
    temperature: float = 1.0
    """Temperature of the learned prior."""
    horizon: int | None = None
    """Decisions per episode at most (None: the world's cap, at most 4 per state)."""
    start: str | None = None
    """Only this start state (a cell such as (1,1)); None: every non-terminal state."""

    def __post_init__(self) -> None:
        for planner in self.planners:
            if planner not in PLANNERS:
                raise QlearnError(f"unknown planner {planner!r}; choose {', '.join(PLANNERS)}")
        if not self.planners:
            raise QlearnError("name at least one planner, e.g. --planner mcts")
        for n in self.simulations:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise QlearnError(f"--simulations must be whole numbers of at least 1, got {n!r}")
        for name, low in (("episodes", 1), ("seeds", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise QlearnError(f"--{name} must be a whole number of at least {low}, got {value}")
        if self.prior not in PRIORS:
            raise QlearnError(f"--prior must be learned or uniform, got {self.prior!r}")
        if self.leaf not in LEAVES:
            raise QlearnError(f"--leaf must be learned or zero, got {self.leaf!r}")
        if not self.temperature > 0:
            raise QlearnError(f"--temperature must be above 0, got {self.temperature}")
        if self.horizon is not None and self.horizon < 1:
            raise QlearnError(f"--max-steps must be at least 1, got {self.horizon}")


@dataclass(frozen=True)
class PlanResult:
    """Every (planner, budget) evaluated on one world with one value source."""

    mdp: FiniteMDP
    solution: Solution
    value_source: str
    settings: PlanSettings
    starts: np.ndarray  # (N,) the start states
    rows: list[dict[str, Any]]  # one per (planner, budget), see :func:`summary`
    per_state: dict[str, np.ndarray] = field(default_factory=dict)  # "planner@sims" -> (N,)

    @property
    def table(self) -> pd.DataFrame:
        """One row per (planner, budget), the numbers ``--json`` prints."""
        frame = pd.DataFrame(self.rows)
        frame[["regret_low", "regret_high"]] = pd.DataFrame(frame.pop("regret_ci").tolist())
        return frame


def value_table(mdp: FiniteMDP, source: str, solution: Solution) -> np.ndarray | None:
    """The Q a planner is guided by: ``exact`` (Q*), ``zero`` (None: no knowledge), or the
    mean learned table of a finished run folder on the same world."""
    if source == "exact":
        return solution.q
    if source == "zero":
        return None
    from qlearn.runs.folder import learned_table

    return learned_table(source, mdp)


def start_states(mdp: FiniteMDP, start: str | None) -> np.ndarray:
    """Every non-terminal state, or the one named."""
    if start is None:
        return np.flatnonzero(~mdp.terminal)
    s = mdp.state_index(start)
    if mdp.terminal[s]:
        raise QlearnError(f"--start {start} is a terminal state of {mdp.name}; name another")
    return np.array([s])


def _row(mdp, solution, starts, planner, sims, played, s: PlanSettings, horizon) -> dict:
    """The numbers of one (planner, budget), and its per-state regret."""
    per_episode = regret(mdp, solution, starts, played.returns, horizon)
    per_state = per_episode.mean(axis=1)
    low, high = bootstrap_ci(per_state, seed=s.seed) if len(starts) > 1 else (per_state[0],) * 2
    searched = planner in SEARCH_PLANNERS
    row = {
        "planner": planner,
        "simulations": sims if searched else None,
        "prior": s.prior if searched else None,
        "leaf": s.leaf if searched else None,
        "regret_mean": json_number(float(per_state.mean())),
        "regret_ci": [json_number(low), json_number(high)],
        "success_rate": float(played.success.mean()),
        "mean_return": json_number(float(played.returns.mean())),
        "decisions_per_s": json_number(played.decisions / max(played.seconds, 1e-9)),
    }
    if planner in PATH_PLANNERS:
        optimal = np.isclose(played.returns[:, 0], solution.v[starts], rtol=1e-9, atol=1e-9)
        row["nodes_expanded"] = json_number(float(played.nodes_expanded.mean()))
        row["nodes_generated"] = json_number(float(played.nodes_generated.mean()))
        row["optimal_path_share"] = float(optimal.mean())
    return row, per_state


def plan(mdp: FiniteMDP, q: np.ndarray | None, settings: PlanSettings,
         value_source: str = "table", solution: Solution | None = None) -> PlanResult:  # fmt: skip
    """Evaluate every planner of ``settings`` guided by ``q`` (None: no knowledge)."""
    for planner in settings.planners:
        if planner in PATH_PLANNERS:
            check_world(mdp, planner)  # refuse before any planner runs
    solution = solution or solve(mdp)
    starts = start_states(mdp, settings.start)
    horizon = settings.horizon or default_horizon(mdp)
    rows, per_state = [], {}
    for planner in settings.planners:
        budgets = settings.simulations if planner in SEARCH_PLANNERS else (0,)
        for sims in budgets:
            played = play(
                mdp, q, starts, planner=planner, simulations=sims, episodes=settings.episodes,
                seeds=settings.seeds, seed=settings.seed, horizon=horizon, prior=settings.prior,
                leaf=settings.leaf, temperature=settings.temperature,
            )  # fmt: skip
            row, states = _row(mdp, solution, starts, planner, sims, played, settings, horizon)
            rows.append(row)
            per_state[f"{planner}@{sims}" if sims else planner] = states
    return PlanResult(mdp, solution, value_source, settings, starts, rows, per_state)


def plan_with(mdp: FiniteMDP, value_source: str, settings: PlanSettings) -> PlanResult:
    """``qlearn plan``: resolve the value source (``exact``, ``zero`` or a run folder on
    the same world), then evaluate the planners."""
    solution = solve(mdp)
    q = value_table(mdp, value_source, solution)
    return plan(mdp, q, settings, value_source, solution)


def plan_summary(result: PlanResult) -> dict[str, Any]:
    """The object ``qlearn plan --json`` prints."""
    return {
        "world": result.mdp.name,
        "value_source": result.value_source,
        "start_states": len(result.starts),
        "episodes": result.settings.episodes,
        "seeds": result.settings.seeds,
        "results": result.rows,
    }


def run_label(source: str) -> str:
    """How a value source is named in output: exact, zero, or the run folder's name."""
    return source if source in VALUE_SOURCES else f"run {Path(source).name}"
