"""From a config to trained networks and a table of results, in memory (no files).

``train_run`` trains, for every seed, the networks a method needs (every method has a
behaviour-cloning network: the reference of its KL and the base of best-of-n and
value-guided decoding); ``evaluate_run`` decodes with every setting of the methods asked
for and aggregates over seeds. The run-folder shell (:mod:`qlearn.runs.text_results`)
drives ``train_run`` chunk by chunk, for progress, checkpoints and resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from qlearn.configs.text_config import TEXT_METHODS, TextConfig
from qlearn.core.errors import QlearnError
from qlearn.text.evaluation import DecodeSettings, Networks, SeedResult, evaluate_seed
from qlearn.text.fitting import (
    TRAINED,
    FitSettings,
    FitState,
    init_state,
    normaliser,
    run_steps,
    training_batch,
)
from qlearn.text.graph_tasks import Task, logged_lists, make_task
from qlearn.text.logged import Walks, walks_from_lists
from qlearn.text.text_metrics import seed_interval
from qlearn.text.token_losses import IlqlSettings
from qlearn.text.transformer import ModelSize

#: The networks each method trains (the first: the behaviour-cloning reference).
NEEDS: dict[str, tuple[str, ...]] = {
    "bc": ("bc",),
    "filtered-bc": ("bc", "filtered-bc"),
    "ilql": ("bc", "ilql"),
    "value-guided": ("bc", "value"),
    "best-of-n": ("bc", "value"),
}

#: Called after every chunk with (steps done over all networks, total steps, the trained
#: states so far: {(seed index, network): FitState}, the losses so far).
Progress = Callable[[int, int, dict, dict], None]


def check_methods(methods: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    methods = tuple(methods)
    if not methods:
        raise QlearnError(f"name at least one method: {', '.join(TEXT_METHODS)}")
    for m in methods:
        if m not in TEXT_METHODS:
            raise QlearnError(f"unknown method {m!r}; choose from: {', '.join(TEXT_METHODS)}")
    return methods


def networks_for(methods: tuple[str, ...]) -> tuple[str, ...]:
    """The networks the methods need, in training order, each once."""
    return tuple(n for n in TRAINED if any(n in NEEDS[m] for m in methods))


def model_size(cfg: TextConfig, task: Task) -> ModelSize:
    return ModelSize(task.vocab, task.max_length, cfg.width, cfg.depth, cfg.heads,
                     task.prompt_length)  # fmt: skip


def fit_settings(cfg: TextConfig) -> FitSettings:
    ilql = IlqlSettings(cfg.tau, cfg.gamma, cfg.cql_scale, cfg.awac_scale, 0.0, cfg.polyak,
                        cfg.target_every)  # fmt: skip
    return FitSettings(cfg.steps, cfg.batch, cfg.lr, cfg.top_percent, ilql)


def decode_settings(cfg: TextConfig) -> DecodeSettings:
    return DecodeSettings(cfg.samples, tuple(cfg.betas), cfg.top_k, tuple(cfg.lambdas),
                          tuple(cfg.etas), (tuple(cfg.blocks),), tuple(cfg.best_of),
                          cfg.pool)  # fmt: skip


def task_of(cfg: TextConfig) -> Task:
    return make_task(cfg.task, nodes=cfg.nodes, seed=cfg.graph_seed, arms=cfg.arms,
                     arm_length=cfg.arm_length)  # fmt: skip


def logged_walks(cfg: TextConfig, task: Task) -> Walks:
    """The task's logged walks when no data file is given: graph-walk, trlx's uniform
    random walks; star-graph, a uniform arm at the fork of fresh instances."""
    return walks_from_lists(task, logged_lists(task, cfg.episodes))


@dataclass
class TextRun:
    """Trained networks of one method over seeds, with what they were trained on."""

    config: TextConfig
    task: Task
    walks: Walks
    states: dict[tuple[int, str], FitState]
    losses: dict[tuple[int, str], np.ndarray]
    seeds: list[int] = field(default_factory=list)

    @property
    def methods(self) -> tuple[str, ...]:
        return (self.config.method,)

    def networks(self, k: int) -> Networks:
        """Seed ``k``'s networks as the evaluator takes them."""
        got = lambda name: self.states[(k, name)].params if (k, name) in self.states else None  # noqa: E731
        ilql = None
        if (k, "ilql") in self.states:
            s = self.states[(k, "ilql")]
            ilql = {"params": s.params, "target": s.target}
        norm = normaliser(self.walks, "ilql")
        return Networks(got("bc"), got("filtered-bc"), ilql, got("value"),
                        (norm.shift, norm.scale), self.config.gamma)  # fmt: skip


def seed_key(cfg: TextConfig, k: int, name: str) -> jax.Array:
    """The key of seed ``k``'s network ``name``: the same whatever else is trained."""
    return jax.random.fold_in(jax.random.key(cfg.seed + k), TRAINED.index(name))


def chunk_sizes(steps: int, pieces: int = 10) -> list[int]:
    size = max(1, -(-steps // pieces))
    return [min(size, steps - i) for i in range(0, steps, size)]


def train_run(cfg: TextConfig, task: Task, walks: Walks, methods: tuple[str, ...],
              *, states: dict | None = None, losses: dict | None = None,
              progress: Progress | None = None) -> TextRun:  # fmt: skip
    """Train every network ``methods`` need, for each seed; ``states``/``losses`` resume a
    partly trained run (a state's ``step`` says how far it got)."""
    size, settings = model_size(cfg, task), fit_settings(cfg)
    names = networks_for(methods)
    states = dict(states or {})
    losses = {k: list(v) for k, v in (losses or {}).items()}
    total = cfg.seeds * len(names) * cfg.steps
    done = sum(int(s.step) for s in states.values())
    for k in range(cfg.seeds):
        for name in names:
            init_key, data_key = jax.random.split(seed_key(cfg, k, name))
            state = states.get((k, name)) or init_state(size, settings, init_key)
            data = training_batch(walks, name, settings)
            history = losses.setdefault((k, name), [])
            chunk = chunk_sizes(cfg.steps)[0]
            while int(state.step) < cfg.steps:
                count = min(chunk, cfg.steps - int(state.step))
                state, chunk_losses = run_steps(
                    state, data_key, data, size=size, settings=settings, method=name, count=count
                )
                history.extend(np.asarray(chunk_losses).tolist())
                states[(k, name)] = state
                done += count
                if progress is not None:
                    progress(done, total, states, losses)
            states[(k, name)] = state
    arrays = {key: np.asarray(v, dtype=np.float32) for key, v in losses.items()}
    return TextRun(cfg, task, walks, states, arrays, [cfg.seed + k for k in range(cfg.seeds)])


@dataclass
class TextComparison:
    """Every method and setting, aggregated over seeds (``records``), and per seed."""

    task: Task
    config: TextConfig
    per_seed: list[SeedResult]
    records: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The object ``qlearn text compare --json`` prints (the issue's shape)."""
        keys = ("method", "setting", "optimality_mean", "optimality_ci", "success_rate", "kl",
                "tokens_per_answer", "q_gap_mean")  # fmt: skip
        return {"task": self.task.name, "ceiling": 1.0,
                "results": [{k: r[k] for k in keys} for r in self.records]}  # fmt: skip


def evaluate_run(run: TextRun, methods: tuple[str, ...] | None = None,
                 settings: DecodeSettings | None = None) -> TextComparison:  # fmt: skip
    """Decode with every setting of ``methods`` (default: the run's own) on every seed and
    aggregate: mean and 95% bootstrap interval of optimality over seeds, and the means of
    success, KL, tokens per answer and |Q - Q*|."""
    methods = check_methods(methods or run.methods)
    settings = settings or decode_settings(run.config)
    size = model_size(run.config, run.task)
    per_seed: list[SeedResult] = []
    for k in range(run.config.seeds):
        key = jax.random.fold_in(jax.random.key(run.config.seed + k), 1_000)
        per_seed += evaluate_seed(run.task, size, run.networks(k), settings, key, methods)
    return TextComparison(run.task, run.config, per_seed, aggregate(per_seed))


def _mean_or_none(values: list) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def aggregate(per_seed: list[SeedResult]) -> list[dict[str, Any]]:
    """One record per (method, setting), in the order first seen."""
    order: dict[tuple[str, str], list[SeedResult]] = {}
    for r in per_seed:
        order.setdefault((r.method, r.setting), []).append(r)
    records = []
    for (method, setting), rows in order.items():
        opt = np.array([r.optimality for r in rows])
        succ = np.array([r.success for r in rows])
        lo, hi = seed_interval(opt)
        s_lo, s_hi = seed_interval(succ)
        gaps_max = [r.q_gap_max for r in rows if r.q_gap_max is not None]
        records.append({
            "method": method, "setting": setting,
            "optimality_mean": float(opt.mean()), "optimality_ci": [lo, hi],
            "success_rate": float(succ.mean()), "success_ci": [s_lo, s_hi],
            "kl": _mean_or_none([r.kl for r in rows]),
            "tokens_per_answer": float(np.mean([r.tokens_per_answer for r in rows])),
            "q_gap_mean": _mean_or_none([r.q_gap_mean for r in rows]),
            "q_gap_max": float(np.max(gaps_max)) if gaps_max else None,
            "predicted_success": _mean_or_none([r.predicted_success for r in rows]),
            "seeds": len(rows),
        })  # fmt: skip
    return records
