"""Sweeps: many configurations x seeds, run locally or on Ray, summarised with statistics.

``run_sweep`` expands a spec (:mod:`qlearn.experiments.sweep_spec`) into trials, runs
them (each trial trains all its seeds in one compiled call; trials go to worker
processes, or to Ray Tune with ``ray=``), and summarises every configuration's per-seed
metric with its mean, IQM and bootstrap confidence intervals
(:mod:`qlearn.core.stats`). ``write_sweep`` writes the sweep folder atomically.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.core.stats import STATISTICS, summarize
from qlearn.core.version import __version__
from qlearn.experiments.sweep_spec import SweepSpec, load_spec, parse_spec
from qlearn.experiments.trials import (
    METRICS,
    TrialResult,
    TrialSpec,
    parse_metric,
    run_trial,
    use_threads,
)
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    dump_json,
    dump_yaml,
    write_run_dir,
)

OnResult = Callable[[TrialResult], None]


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration's statistics over seeds, and its place in the ranking."""

    id: int
    params: dict[str, Any]
    rank: int
    n: int
    mean: float
    se: float
    iqm: float
    mean_ci: tuple[float, float]
    iqm_ci: tuple[float, float]
    greedy_unfinished: int | None
    env_steps: int | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "params": self.params,
            "rank": self.rank,
            "n": self.n,
            "mean": self.mean,
            "se": None if math.isnan(self.se) else self.se,
            "iqm": self.iqm,
            "mean_ci": list(self.mean_ci),
            "iqm_ci": list(self.iqm_ci),
            "greedy_unfinished": self.greedy_unfinished,
            "env_steps": self.env_steps,
            "seconds": round(self.seconds, 6),
        }


@dataclass(frozen=True)
class SweepResult:
    """Everything a sweep produced: the spec, each trial's numbers, the statistics."""

    spec: SweepSpec
    trials: list[TrialResult]
    """Indexed by configuration id."""
    backend: str
    seconds: float

    @cached_property
    def configs(self) -> list[ConfigSummary]:
        """Per configuration (by id): the metric's statistics and its rank (0 = best)."""
        return summarize_configs(self.spec, self.trials)

    @property
    def ranked(self) -> list[ConfigSummary]:
        return sorted(self.configs, key=lambda c: c.rank)

    @property
    def best(self) -> ConfigSummary:
        return self.ranked[0]

    @cached_property
    def table(self) -> pd.DataFrame:
        """Tidy per-seed results: one row per configuration x seed."""
        rows = []
        keys = self.spec.swept_keys
        for trial, config in zip(self.trials, self.spec.configurations, strict=True):
            for k, seed in enumerate(trial.seeds):
                row = {"config": trial.config_id}
                row.update((key, config.params[key]) for key in keys)
                row["seed"] = seed
                row.update((name, values[k]) for name, values in trial.values.items())
                rows.append(row)
        return pd.DataFrame(rows)

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Mean learning curve per configuration: one row per configuration x episode
        (DQN: x greedy evaluation, with its environment step)."""
        frames = []
        for trial in self.trials:
            columns: dict[str, Any] = {
                "config": trial.config_id,
                trial.curve_unit: np.arange(1, len(trial.curve_mean) + 1),
            }
            if trial.curve_steps is not None:
                columns["step"] = trial.curve_steps
            columns.update(mean_return=trial.curve_mean, se_return=trial.curve_se)
            frames.append(pd.DataFrame(columns))
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """The headline object (what ``qlearn sweep --json`` prints)."""
        spec = self.spec
        metric = parse_metric(spec.metric)
        return {
            "name": spec.name,
            "metric": spec.metric,
            "metric_meaning": _meaning(metric),
            "goal": spec.goal,
            "rank_by": spec.rank_by,
            "confidence": spec.confidence,
            "bootstrap": spec.bootstrap,
            "seeds": spec.seeds,
            "seed": spec.seed,
            "swept": spec.swept_keys,
            "backend": self.backend,
            "configurations": [c.to_dict() for c in self.configs],
            "best": self.best.to_dict(),
            "seconds": round(self.seconds, 6),
            "qlearn_version": __version__,
        }


def _meaning(metric) -> str:
    if metric.window is not None:
        return f"mean online return over the last {metric.window} training episodes"
    return METRICS[metric.base][0]


def summarize_configs(spec: SweepSpec, trials: list[TrialResult]) -> list[ConfigSummary]:
    """Statistics of the ranked metric per configuration, ranked best first.

    Bootstrap resampling for configuration ``i`` is seeded by ``(bootstrap_seed, i)``,
    so intervals do not depend on the order in which trials finished.
    """
    stats = []
    for trial in trials:
        values = np.asarray(trial.values[spec.metric], dtype=float)
        if not np.isfinite(values).all():
            raise QlearnError(
                f"{spec.metric} is not a finite number for every seed of configuration "
                f"{trial.config_id}; rank by another metric"
            )
        seq = np.random.SeedSequence([spec.bootstrap_seed, trial.config_id])
        stats.append(
            summarize(values, confidence=spec.confidence, resamples=spec.bootstrap, seed=seq)
        )
    key = np.array([getattr(s, spec.rank_by) for s in stats])
    order = np.argsort(-key if spec.goal == "max" else key, kind="stable")  # ties: lower id
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    out = []
    for trial, config, s in zip(trials, spec.configurations, stats, strict=True):
        finishes = trial.values.get("greedy_finishes")
        steps = trial.values.get("env_steps")
        out.append(
            ConfigSummary(
                id=config.id,
                params=config.params,
                rank=int(rank[config.id]),
                n=s.n,
                mean=s.mean,
                se=s.se,
                iqm=s.iqm,
                mean_ci=s.mean_ci,
                iqm_ci=s.iqm_ci,
                greedy_unfinished=None if finishes is None else len(finishes) - int(sum(finishes)),
                env_steps=None if steps is None else int(sum(steps)),
                seconds=trial.seconds,
            )
        )
    return out


def run_sweep(
    spec: SweepSpec | dict | str | Path,
    *,
    ray: str | None = None,
    workers: int | None = None,
    on_result: OnResult | None = None,
) -> SweepResult:
    """Run every configuration of ``spec`` over its seeds and summarise the metric.

    ``spec`` is a :class:`SweepSpec`, a mapping in the spec format, or a YAML file.
    ``ray`` runs the trials as Ray Tune trials: ``"local"`` starts (or joins, through
    ``RAY_ADDRESS``) a Ray instance on this machine, anything else is a cluster address
    such as ``"HEAD:6379"`` or ``"auto"``; if Ray is already initialised in this process,
    that instance is used. Otherwise trials run on this machine in ``workers``
    processes (default: :func:`default_workers`).
    """
    if isinstance(spec, dict):
        spec = parse_spec(spec)
    elif not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    trials = spec.trials()
    notify = on_result or (lambda _: None)
    started = time.perf_counter()
    if ray is not None:
        from qlearn.experiments.sweep_ray import run_on_ray

        results = run_on_ray(trials, address=ray, on_result=notify, name=spec.name)
        backend = "ray"
    else:
        results = run_local(trials, workers=workers, on_result=notify)
        backend = "local"
    by_id = sorted(results, key=lambda r: r.config_id)
    return SweepResult(spec, by_id, backend, time.perf_counter() - started)


# ---- local execution --------------------------------------------------------------------


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(trials: list[TrialSpec]) -> int:
    """How many processes to spread trials over when the user does not say: one.

    Trials then run one after another in this process, each spreading its seeds over
    every core with Numba's threads. Measured on the 2-core development machine
    (``bench/sweep_local.py``, README "Sweeps"), that beat one process per core with one
    thread each in every case tried, even with a single seed per configuration: starting
    worker processes costs seconds (each imports numpy, pandas, numba, gymnasium) and the
    compiled loop already keeps the cores busy. ``--workers N`` remains for machines with
    many idle cores and sweeps with fewer seeds than cores.
    """
    return 1


def run_local(
    trials: list[TrialSpec], *, workers: int | None = None, on_result: OnResult | None = None
) -> list[TrialResult]:
    """Run trials on this machine: in this process, or spread over ``workers`` processes.

    With several processes each one runs its trials on ``cores // workers`` Numba
    threads (and as many JAX devices for DQN), so the machine is not oversubscribed.
    """
    notify = on_result or (lambda _: None)
    workers = default_workers(trials) if workers is None else workers
    if workers < 1:
        raise QlearnError(f"--workers must be at least 1, got {workers}")
    workers = min(workers, len(trials))
    if workers == 1:
        results = []
        for trial in trials:
            results.append(run_trial(trial))
            notify(results[-1])
        return results
    threads = max(1, available_cores() // workers)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        # Forking a process that already runs Numba's thread pool is unsafe: spawn.
        mp_context=multiprocessing.get_context("spawn"),
        initializer=use_threads,
        initargs=(threads,),
    )
    results = []
    try:
        pending = {pool.submit(run_trial, trial) for trial in trials}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                results.append(future.result())  # re-raises a trial's error here
                notify(results[-1])
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return results


# ---- the sweep folder -------------------------------------------------------------------


def write_sweep(result: SweepResult, out: Path, info: dict[str, Any] | None = None) -> Path:
    """Write the sweep folder at ``out`` atomically (a temporary sibling, then a rename).

    It holds ``sweep.yaml`` (the resolved spec: rerunning it repeats the sweep),
    ``results.csv`` (one row per configuration x seed), ``curves.csv`` (the mean
    learning curve per configuration), ``summary.json`` and ``sweep.png``.
    """
    from qlearn.viz.sweep_figure import sweep_figure_png

    info = result.summary() if info is None else info

    def fill(tmp: Path) -> None:
        atomic_write_text(tmp / "sweep.yaml", dump_yaml(result.spec.to_dict()))
        atomic_write_text(tmp / "results.csv", result.table.to_csv(index=False))
        atomic_write_text(tmp / "curves.csv", result.curves.to_csv(index=False))
        atomic_write_bytes(tmp / "sweep.png", sweep_figure_png(result))
        atomic_write_text(tmp / "summary.json", dump_json(info))

    return write_run_dir(Path(out), fill)


def rank_statistic_name(spec: SweepSpec) -> str:
    """How the ranking statistic is shown to a person."""
    assert spec.rank_by in STATISTICS
    return {"iqm": "IQM", "mean": "mean"}[spec.rank_by]
