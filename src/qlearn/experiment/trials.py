"""One sweep trial: a configuration trained over all its seeds, reduced to per-seed numbers.

A trial is plain data in (:class:`TrialSpec`) and plain data out (:class:`TrialResult`),
so the same function runs in this process, in a worker process, or on a Ray node, and
gives the same numbers everywhere: the trainers are deterministic given the seed.

Trainers are chosen by ``algo`` in exactly two places, :func:`build_config` and
:func:`run_trial`; the DQN trainer plugs in there.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qlearn.errors import QlearnError
from qlearn.experiment.config import TABULAR_ALGOS, TabularConfig

DQN_ALGOS = ("dqn",)

#: Metric names a sweep can rank by, their meaning, and which way is better.
METRICS: dict[str, tuple[str, str]] = {
    "mean_return": ("mean online return over all training episodes", "max"),
    "mean_return_last_N": ("mean online return over the last N training episodes", "max"),
    "greedy_return": (
        "exact expected return of the learned greedy policy from the start "
        "(over one episode capped at max_steps if it may never end)",
        "max",
    ),
    "final_gap": ("max |Q - Q*| (td0: |V - V_true|) after the last episode", "min"),
    "optimal_share": ("share of states whose greedy action is optimal at the end", "max"),
}

#: Per-seed columns every tabular trial reports, besides the metric it is ranked by.
TABULAR_COLUMNS = (
    "mean_return",
    "greedy_return",
    "greedy_finishes",
    "final_gap",
    "optimal_share",
    "env_steps",
)

_WINDOW = re.compile(r"mean_return_last_(\d+)")


@dataclass(frozen=True)
class Metric:
    """A parsed metric name: what to compute per seed and which direction is better."""

    name: str
    base: str
    window: int | None
    goal: str


def parse_metric(name: Any) -> Metric:
    """Parse a metric name such as ``greedy_return`` or ``mean_return_last_100``."""
    known = ", ".join(METRICS)
    if not isinstance(name, str):
        raise QlearnError(f"metric must be a name, got {name!r}; choose one of {known}")
    match = _WINDOW.fullmatch(name)
    if match:
        window = int(match.group(1))
        if window < 1:
            raise QlearnError(f"metric {name}: the window must be at least 1 episode")
        return Metric(name, "mean_return_last_N", window, "max")
    if name not in METRICS or name == "mean_return_last_N":
        raise QlearnError(
            f"unknown metric {name!r}; choose one of {known} (N a number, e.g. "
            "mean_return_last_100)"
        )
    return Metric(name, name, None, METRICS[name][1])


@dataclass(frozen=True)
class TrialSpec:
    """What one trial trains: a configuration's options, its seeds, the metric to report."""

    config_id: int
    options: dict[str, Any]
    """Trainer options (for tabular algorithms, TabularConfig fields) except seeds/seed."""
    seeds: int
    seed: int
    metric: str


@dataclass(frozen=True)
class TrialResult:
    """Per-seed numbers and the mean learning curve of one trial (plain, JSON-able data)."""

    config_id: int
    seeds: list[int]
    values: dict[str, list[float]]
    """Column -> one value per seed; the ranked metric comes first."""
    curve_unit: str
    curve_mean: list[float]
    """Mean over seeds of the return per ``curve_unit`` (episode for tabular trials)."""
    curve_se: list[float]
    """Standard error of that mean over seeds (0 with a single seed)."""
    seconds: float

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> TrialResult:
        return cls(**json.loads(text))


def algo_of(options: dict[str, Any]) -> str:
    return options.get("algo", TabularConfig.algo)


def _dqn_missing(algo: str) -> QlearnError:
    return QlearnError(
        f"algo {algo!r} cannot be swept yet: the DQN trainer is not part of this build; "
        f"sweep a tabular algorithm ({', '.join(TABULAR_ALGOS)})"
    )


def build_config(options: dict[str, Any], seeds: int, seed: int) -> TabularConfig:
    """The validated trainer config of one configuration (raises QlearnError if invalid)."""
    algo = algo_of(options)
    if algo in DQN_ALGOS:
        # ---- DQN plugs in here: return its validated config built from ``options``. ----
        raise _dqn_missing(algo)
    return TabularConfig(**options, seeds=seeds, seed=seed)


#: Metrics about a learned greedy policy: td0 learns none (it evaluates a fixed one).
GREEDY_METRICS = ("greedy_return", "optimal_share")


def check_metric(metric: Metric, cfg: TabularConfig) -> None:
    """Refuse a metric the configuration cannot produce (e.g. a window past its episodes)."""
    if cfg.algo == "td0" and metric.base in GREEDY_METRICS:
        raise QlearnError(
            f"metric {metric.name} is about a learned greedy policy, and td0 evaluates a "
            "fixed one; rank td0 by final_gap or a mean_return metric"
        )
    if metric.window is not None and metric.window > cfg.episodes:
        raise QlearnError(
            f"metric {metric.name} needs at least {metric.window} episodes, but a "
            f"configuration trains {cfg.episodes}; raise episodes or shorten the window"
        )


def run_trial(trial: TrialSpec) -> TrialResult:
    """Train every seed of one configuration and reduce it to per-seed numbers."""
    algo = algo_of(trial.options)
    if algo in DQN_ALGOS:
        # ---- DQN plugs in here: train all seeds with its trainer, then reduce the run to
        # a TrialResult (per-seed values for the metric and the curve per episode/step). ----
        raise _dqn_missing(algo)
    return tabular_trial(trial)


def tabular_trial(trial: TrialSpec) -> TrialResult:
    """A tabular trial: all seeds in one compiled call, then exact per-seed metrics."""
    from qlearn.tabular.train import run_config

    started = time.perf_counter()
    cfg = build_config(trial.options, trial.seeds, trial.seed)
    metric = parse_metric(trial.metric)
    check_metric(metric, cfg)
    run = run_config(cfg)
    columns = tabular_columns(run)
    values = {metric.name: _tabular_metric(run, metric, columns)}
    values.update((k, v) for k, v in columns.items() if k != metric.name)
    returns = run.arrays.returns  # (seeds, episodes)
    n = returns.shape[0]
    se = returns.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(returns.shape[1])
    return TrialResult(
        config_id=trial.config_id,
        seeds=run.seeds,
        values=values,
        curve_unit="episode",
        curve_mean=returns.mean(axis=0).tolist(),
        curve_se=se.tolist(),
        seconds=time.perf_counter() - started,
    )


def tabular_columns(run) -> dict[str, list]:
    """The standard per-seed numbers of a tabular run (see :data:`TABULAR_COLUMNS`)."""
    a = run.arrays
    greedy, finishes = greedy_returns(run)
    return {
        "mean_return": a.returns.mean(axis=1).tolist(),
        "greedy_return": greedy,
        "greedy_finishes": finishes,
        "final_gap": a.gaps[:, -1].tolist(),
        "optimal_share": a.shares[:, -1].tolist(),
        "env_steps": [int(x) for x in a.steps],
    }


def _tabular_metric(run, metric: Metric, columns: dict[str, list]) -> list[float]:
    if metric.base == "mean_return_last_N":
        return run.arrays.returns[:, -metric.window :].mean(axis=1).tolist()
    return [float(x) for x in columns[metric.base]]


def greedy_returns(run) -> tuple[list[float], list[int]]:
    """Per seed: the greedy policy's exact expected return, and 1 if it surely ends, else 0.

    ``run.greedy_returns[k].undiscounted`` (what ``qlearn train`` prints) when the greedy
    policy reaches a terminal with probability 1. When it may loop forever that number
    does not exist; the seed then scores what the policy earns, in expectation, over an
    episode cut at the training cap (``max_steps``), exactly as a capped evaluation
    episode would. So a looping policy counts (badly, on worlds with step costs)
    instead of silently leaving the statistics.
    """
    from qlearn.mdp import tie_policy
    from qlearn.tabular.train import fixed_policy

    cfg, mdp = run.config, run.mdp
    horizon = cfg.max_steps or mdp.max_steps
    values, finishes = [], []
    for k, ret in enumerate(run.greedy_returns):
        if ret.undiscounted is not None:
            values.append(float(ret.undiscounted))
            finishes.append(1)
            continue
        if cfg.algo == "td0":
            policy = fixed_policy(mdp, cfg, run.solution)
        else:
            policy = tie_policy(run.q_per_seed[k], mdp.legal)
        values.append(capped_return(mdp, policy, horizon))
        finishes.append(0)
    return values, finishes


def capped_return(mdp, policy: np.ndarray, horizon: int) -> float:
    """Exact expected undiscounted return of ``policy`` over at most ``horizon`` steps.

    Finite-horizon policy evaluation from the start distribution: ``v_0 = 0``,
    ``v_{h+1} = r_pi + P_pi v_h``, with terminal states worth 0 (entering one pays its
    reward, which ``r_pi`` already holds).
    """
    from qlearn.mdp import policy_matrices

    live = ~mdp.terminal
    policy = np.where(live[:, None], policy, 0.0)  # terminal rows may be undefined (no action)
    p_pi, r_pi = policy_matrices(mdp, policy)
    p_pi = np.where(live[:, None], p_pi, 0.0)
    r_pi = np.where(live, r_pi, 0.0)
    v = np.zeros(mdp.n_states)
    for _ in range(horizon):
        v = r_pi + p_pi @ v
    return float(mdp.start @ v)
