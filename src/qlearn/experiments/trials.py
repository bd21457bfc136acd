"""One sweep trial: a configuration trained over all its seeds, reduced to per-seed numbers.

A trial is plain data in (:class:`TrialSpec`) and plain data out (:class:`TrialResult`),
so the same function runs in this process, in a worker process, or on a Ray node, and
gives the same numbers everywhere: the trainers are deterministic given the seed.

Trainers are chosen by ``algo`` in exactly two places, :func:`build_config` and
:func:`run_trial`: tabular algorithms train with Numba (:func:`tabular_trial`), ``dqn``
with JAX (:func:`dqn_trial`). Both train every seed of a configuration in one call.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.kind import training_kind
from qlearn.configs.tabular_config import TABULAR_ALGOS, TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.core.stats import standard_error

#: A trainer config: which one depends on ``algo``.
Config = TabularConfig | DQNConfig

#: Metric names a sweep can rank by, their meaning, and which way is better.
METRICS: dict[str, tuple[str, str]] = {
    "mean_return": ("mean online return over all training episodes", "max"),
    "mean_return_last_N": ("mean online return over the last N training episodes", "max"),
    "greedy_return": (
        "exact expected return of the learned greedy policy from the start "
        "(over one episode capped at max_steps if it may never end)",
        "max",
    ),
    "final_gap": ("max |Q - Q*| (td0: |V - V_true|) at the end of training", "min"),
    "optimal_share": ("share of states whose greedy action is optimal at the end", "max"),
    "eval_return": ("mean return of the final greedy evaluation episodes (dqn)", "max"),
    "best_eval_return": ("best mean return of a greedy evaluation during training (dqn)", "max"),
}

#: Metrics only DQN's greedy evaluations produce.
EVAL_METRICS = ("eval_return", "best_eval_return")
#: Metrics that need a finite world's exact solution (DQN has them on finite worlds only).
EXACT_METRICS = ("greedy_return", "final_gap", "optimal_share")

#: Per-seed columns every tabular trial reports, besides the metric it is ranked by.
TABULAR_COLUMNS = (
    "mean_return",
    "greedy_return",
    "greedy_finishes",
    "final_gap",
    "optimal_share",
    "env_steps",
)
#: Per-seed columns of a DQN trial; the exact ones only on finite worlds.
DQN_COLUMNS = (
    "eval_return",
    "best_eval_return",
    "mean_return",
    "train_episodes",
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
    """Trainer options (TabularConfig or DQNConfig fields, by ``algo``) except seeds/seed."""
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
    """Mean over seeds of the return per ``curve_unit``: per training episode for tabular
    trials, per greedy evaluation (the mean of its episodes) for DQN trials."""
    curve_se: list[float]
    """Standard error of that mean over seeds (0 with a single seed)."""
    seconds: float
    curve_steps: list[int] | None = None
    """DQN: the environment step (per seed) of each evaluation; None for tabular trials."""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> TrialResult:
        return cls(**json.loads(text))


def algo_of(options: dict[str, Any]) -> str:
    return options.get("algo", TabularConfig.algo)


def build_config(options: dict[str, Any], seeds: int, seed: int) -> Config:
    """The validated trainer config of one configuration (raises QlearnError if invalid).

    DQN options are merged over the tuned settings for the environment
    (``qlearn/configs/dqn_defaults.yaml``), as ``qlearn train --algo dqn`` does.
    """
    algo = algo_of(options)
    if training_kind(algo) == "dqn":
        from qlearn.deep.train import resolve_config

        _refuse_foreign(options, DQNConfig, algo)
        return resolve_config({**options, "seeds": seeds, "seed": seed}, "the sweep spec")
    _refuse_foreign(options, TabularConfig, algo)
    return TabularConfig(**options, seeds=seeds, seed=seed)


#: What a user of the other family most likely meant.
_COUNTERPARTS = {"episodes": "steps", "alpha": "lr", "steps": "episodes", "lr": "alpha"}


def _refuse_foreign(options: dict[str, Any], cls: type, algo: str) -> None:
    """Refuse an option the algo's config does not have (the other family's options)."""
    known = {f.name for f in dataclasses.fields(cls)}
    for key in options:
        if key in known:
            continue
        other = _COUNTERPARTS.get(key)
        if other in known:
            fix = f"use {other}"
        elif cls is DQNConfig:
            fix = f"remove it (it is an option of {', '.join(TABULAR_ALGOS)})"
        else:
            fix = "remove it, or set algo: dqn (it is a DQN option)"
        raise QlearnError(f"{key} is not an option of algo {algo}; {fix}")


#: Metrics about a learned greedy policy: td0 learns none (it evaluates a fixed one).
GREEDY_METRICS = ("greedy_return", "optimal_share")


def check_metric(metric: Metric, cfg: Config) -> None:
    """Refuse a metric the configuration cannot produce (e.g. a window past its episodes)."""
    if isinstance(cfg, DQNConfig):
        _check_dqn_metric(metric, cfg)
        return
    if metric.base in EVAL_METRICS:
        raise QlearnError(
            f"metric {metric.name} comes from DQN's greedy evaluations, which tabular "
            "algorithms do not run; rank by greedy_return (exact) or a mean_return metric"
        )
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


def _check_dqn_metric(metric: Metric, cfg: DQNConfig) -> None:
    from qlearn.envs.registry import family_of

    if metric.base in EXACT_METRICS and family_of(cfg.world, cfg.map_file) != "finite":
        raise QlearnError(
            f"metric {metric.name} needs the exact solution of a finite world, and "
            f"{cfg.world} has none; rank DQN there by eval_return, best_eval_return or a "
            "mean_return metric"
        )
    if metric.window is not None and metric.window > cfg.steps:
        raise QlearnError(
            f"metric {metric.name} needs at least {metric.window} training episodes, but a "
            f"configuration trains {cfg.steps} steps; raise steps or shorten the window"
        )


def run_trial(trial: TrialSpec) -> TrialResult:
    """Train every seed of one configuration and reduce it to per-seed numbers."""
    if training_kind(algo_of(trial.options)) == "dqn":
        return dqn_trial(trial)
    return tabular_trial(trial)


def mean_and_se(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Column means of ``x`` (seeds x points) and their standard errors over seeds."""
    n = x.shape[0]
    se = standard_error(x, axis=0) if n > 1 else np.zeros(x.shape[1])
    return x.mean(axis=0).tolist(), se.tolist()


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
    curve_mean, curve_se = mean_and_se(run.arrays.returns)  # (seeds, episodes)
    return TrialResult(
        config_id=trial.config_id,
        seeds=run.seeds,
        values=values,
        curve_unit="episode",
        curve_mean=curve_mean,
        curve_se=curve_se,
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


def dqn_trial(trial: TrialSpec) -> TrialResult:
    """A DQN trial: all seeds in one :func:`qlearn.deep.train.run`, then per-seed numbers.

    The curve is the mean return of each greedy evaluation, at its environment step.
    """
    from qlearn.deep.train import run as train_dqn

    started = time.perf_counter()
    cfg = build_config(trial.options, trial.seeds, trial.seed)
    metric = parse_metric(trial.metric)
    check_metric(metric, cfg)
    run = train_dqn(cfg)
    columns = dqn_columns(run)
    if metric.base == "mean_return_last_N":
        ranked = last_returns(run, metric.window, metric.name)
    else:
        ranked = columns[metric.base]
    values = {metric.name: ranked}
    values.update((k, v) for k, v in columns.items() if k != metric.name)
    curve_mean, curve_se = mean_and_se(run.eval_returns.mean(axis=2))  # (seeds, evaluations)
    return TrialResult(
        config_id=trial.config_id,
        seeds=run.seeds,
        values=values,
        curve_unit="evaluation",
        curve_mean=curve_mean,
        curve_se=curve_se,
        seconds=time.perf_counter() - started,
        curve_steps=[int(s) for s in run.eval_steps],
    )


def dqn_columns(run) -> dict[str, list]:
    """The standard per-seed numbers of a DQN run (see :data:`DQN_COLUMNS`).

    ``mean_return`` is NaN for a seed that finished no training episode.
    """
    returns = training_returns(run)
    columns: dict[str, list] = {
        "eval_return": [float(x) for x in run.final_eval.mean(axis=1)],
        "best_eval_return": [float(x) for x in run.best_eval[0]],
        "mean_return": [float(r.mean()) if r.size else float("nan") for r in returns],
        "train_episodes": [int(r.size) for r in returns],
    }
    if run.target.mdp is not None:
        columns.update(exact_columns(run))
    columns["env_steps"] = [int(run.env_steps)] * len(run.seeds)
    return columns


def training_returns(run) -> list[np.ndarray]:
    """Per seed: the returns of its finished training episodes, in order."""
    episodes = run.episodes
    return [episodes["return"][episodes.seed == s].to_numpy(float) for s in run.seeds]


def last_returns(run, window: int, name: str) -> list[float]:
    """Per seed: the mean return of its last ``window`` finished training episodes."""
    out = []
    for seed, returns in zip(run.seeds, training_returns(run), strict=True):
        if returns.size < window:
            raise QlearnError(
                f"metric {name}: seed {seed} finished only {returns.size} training episodes "
                f"in {run.config.steps} steps; raise steps or shorten the window"
            )
        out.append(float(returns[-window:].mean()))
    return out


def exact_columns(run) -> dict[str, list]:
    """On a finite world, per seed: the network's Q judged as the tabular trials judge a
    table (:mod:`qlearn.judge`): ``final_gap``, ``optimal_share`` and the greedy policy's
    exact (or capped) return."""
    from qlearn.judge import judge

    mdp, sol, cfg = run.target.mdp, run.solution, run.config
    verdicts = [judge(mdp, sol, q, cfg.max_steps) for q in run.q_per_seed]
    return {
        "greedy_return": [v.greedy_score for v in verdicts],
        "greedy_finishes": [v.finishes for v in verdicts],
        "final_gap": [v.gap for v in verdicts],
        "optimal_share": [v.optimal_share for v in verdicts],
    }


def greedy_returns(run) -> tuple[list[float], list[int]]:
    """Per seed: the greedy policy's exact expected return, and 1 if it surely ends, else 0.

    ``run.greedy_returns[k].undiscounted`` (what ``qlearn train`` prints) when the greedy
    policy reaches a terminal with probability 1, else the capped return
    (:func:`qlearn.judge.scored_return`).
    """
    from qlearn.exact import tie_policy
    from qlearn.judge import scored_return
    from qlearn.tabular.train import fixed_policy

    cfg, mdp = run.config, run.mdp
    horizon = cfg.max_steps or mdp.max_steps
    values, finishes = [], []
    for k, ret in enumerate(run.greedy_returns):
        if cfg.algo == "td0":
            policy = fixed_policy(mdp, cfg, run.solution)
        else:
            policy = tie_policy(run.q_per_seed[k], mdp.legal)
        value, ends = scored_return(mdp, policy, ret, horizon)
        values.append(value)
        finishes.append(ends)
    return values, finishes


def use_threads(n: int) -> None:
    """Let this worker's trials use at most ``n`` cores: the tabular loop's threads in this
    thread, and JAX (DQN) through :func:`limit_jax_devices`."""
    import numba

    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    limit_jax_devices(n)


_DEVICE_FLAG = re.compile(r"--xla_force_host_platform_device_count=\S*")


def limit_jax_devices(n: int) -> None:
    """Give JAX ``n`` CPU devices in this process, if JAX has not started yet.

    DQN trains one seed per device and pads a group of seeds up to the device count
    (:class:`qlearn.deep.trainers.CompiledBackend`), so a worker that inherited "one
    device per core of the machine" would train extra seeds on cores other workers use.
    A seed's numbers do not depend on the device count, so the results stay the same.
    """
    if "jax" in sys.modules:
        return  # too late: JAX fixes its devices when it starts
    flags = _DEVICE_FLAG.sub("", os.environ.get("XLA_FLAGS", "")).split()
    flags.append(f"--xla_force_host_platform_device_count={max(1, int(n))}")
    os.environ["XLA_FLAGS"] = " ".join(flags)
