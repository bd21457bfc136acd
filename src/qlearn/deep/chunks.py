"""What both DQN trainers share, so neither imports the other or the driver: how a run
is cut into chunks (:class:`Plan`), the DQN functions of a configuration
(:func:`make_dqn`), what a chunk reports (:class:`ChunkRecord`), the history of those
reports (:class:`History`) and the :class:`Backend` protocol the driver
(:func:`qlearn.deep.train.run`) speaks to the compiled trainer and the host loop."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qlearn.configs.dqn_config import DQNConfig
from qlearn.core.errors import QlearnError
from qlearn.deep.dqn import DQN, make_optimizer
from qlearn.deep.flat import flatten, unflatten
from qlearn.deep.networks import QNetwork


@dataclass(frozen=True)
class Plan:
    """How a run is cut up: iterations, chunks between evaluations, total steps."""

    steps_per_iteration: int
    iterations: int
    iterations_per_chunk: int
    exploration_steps: int

    @property
    def chunks(self) -> int:
        return -(-self.iterations // self.iterations_per_chunk)

    @property
    def env_steps(self) -> int:
        return self.iterations * self.steps_per_iteration

    def steps_after_chunk(self, chunk: int) -> int:
        """Environment steps done once chunk ``chunk`` (0-based) has run."""
        iterations = min(self.iterations, (chunk + 1) * self.iterations_per_chunk)
        return iterations * self.steps_per_iteration


def make_plan(cfg: DQNConfig) -> Plan:
    """Whole iterations covering ``cfg.steps``; a chunk per evaluation interval."""
    per_iteration = cfg.train_freq * cfg.num_envs
    iterations = -(-cfg.steps // per_iteration)
    every = cfg.eval_every or math.ceil(iterations * per_iteration / 10)
    per_chunk = min(iterations, max(1, round(every / per_iteration)))
    exploration = max(1, round(cfg.exploration_fraction * iterations * per_iteration))
    return Plan(per_iteration, iterations, per_chunk, exploration)


def linear_schedule(start: float, end: float, steps: int, t, xp: Any = np):
    """``start`` moving linearly to ``end`` over ``steps`` environment steps, then ``end``:
    :func:`optax.linear_schedule`'s own arithmetic, written once for both trainers (``xp``
    is ``jax.numpy`` inside the compiled trainer, NumPy in the host loop)."""
    frac = 1 - xp.clip(t, 0, steps) / steps
    return (start - end) * frac + end


def epsilon_at(cfg: DQNConfig, plan: Plan, t, xp: Any = np):
    """The exploration rate after ``t`` environment steps (per seed)."""
    return linear_schedule(cfg.start_eps, cfg.final_eps, plan.exploration_steps, t, xp)


def beta_at(cfg: DQNConfig, plan: Plan, t, xp: Any = np):
    """Prioritized replay's importance exponent after ``t`` steps: ``per_beta`` up to 1."""
    return linear_schedule(cfg.per_beta, 1.0, plan.env_steps, t, xp)


def make_dqn(cfg: DQNConfig, n_actions: int, torso: str, channels_first: bool, total_updates: int):
    """The DQN functions for this configuration and environment shape."""
    head = cfg.distributional or "q"
    atoms = {"q": 1, "c51": cfg.atoms, "qr": cfg.quantiles}[head]
    v_min, v_max = cfg.support_bounds
    network = QNetwork(
        n_actions=n_actions,
        hidden=tuple(cfg.net),
        dueling=cfg.dueling,
        torso=torso,
        channels_first=channels_first,
        atoms=atoms,
        noisy=cfg.noisy,
        noisy_sigma=cfg.noisy_sigma,
        layer_norm=cfg.algo == "pqn",
    )
    return DQN(
        network=network,
        optimizer=make_optimizer(cfg.lr, cfg.max_grad_norm, cfg.lr_end, total_updates),
        gamma=cfg.discount,
        batch_size=cfg.batch_size,
        n_step=cfg.n_step,
        double=cfg.double,
        loss=cfg.loss,
        per=cfg.per,
        per_alpha=cfg.per_alpha,
        per_eps=cfg.per_eps,
        tau=cfg.tau,
        target_update=cfg.target_update,
        head=head,
        atoms=atoms,
        v_min=v_min,
        v_max=v_max,
        noisy=cfg.noisy,
        munchausen=cfg.munchausen,
        m_alpha=cfg.m_alpha,
        m_tau=cfg.m_tau,
        m_clip=cfg.m_clip,
        correction=cfg.n_step_correction,
        lam=cfg.lam,
    )


def total_updates(cfg: DQNConfig, plan: Plan) -> int:
    """Gradient steps in the whole run (for a decaying learning rate)."""
    training = sum(
        1
        for it in range(plan.iterations)
        if (it + 1) * plan.steps_per_iteration > cfg.learning_starts
    )
    return training * cfg.gradient_steps


@dataclass
class ChunkRecord:
    """What one chunk reports for every seed, as host arrays."""

    episode_seed: np.ndarray  # (K,) seed index of each finished episode
    episode_step: np.ndarray  # (K,) environment step (per seed) at which it ended
    episode_return: np.ndarray  # (K,)
    episode_length: np.ndarray  # (K,)
    trained: np.ndarray  # (I,) bool: the iteration ran gradient steps
    loss: np.ndarray  # (N, I) mean loss of each iteration's gradient steps
    q_mean: np.ndarray  # (N, I) mean Q of the sampled actions
    epsilon: np.ndarray  # (N, I) exploration rate at the iteration's end
    eval_return: np.ndarray  # (N, M)
    eval_length: np.ndarray  # (N, M)
    eval_start_value: np.ndarray  # (N, M) the network's value of each first observation
    steps_done: int  # environment steps per seed after the chunk


#: Arrays of a History: per-episode columns, per-iteration rows, per-evaluation blocks.
HISTORY_FIELDS = (
    "episode_seed", "episode_step", "episode_return", "episode_length", "trained", "loss",
    "q_mean", "epsilon", "eval_return", "eval_length", "eval_start_value", "eval_step",
    "eval_seconds",
)  # fmt: skip


#: Where a History keeps each seed's best parameters (by evaluation) among its arrays.
BEST_PREFIX = "best/"


@dataclass
class History:
    """Every chunk's record so far, concatenated (saved with a checkpoint)."""

    seeds: int
    eval_episodes: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, m = self.seeds, self.eval_episodes
        empty = {
            "episode_seed": np.zeros(0, np.int64),
            "episode_step": np.zeros(0, np.int64),
            "episode_return": np.zeros(0),
            "episode_length": np.zeros(0, np.int64),
            "trained": np.zeros(0, bool),
            "loss": np.zeros((n, 0)),
            "q_mean": np.zeros((n, 0)),
            "epsilon": np.zeros((n, 0)),
            "eval_return": np.zeros((n, 0, m)),
            "eval_length": np.zeros((n, 0, m), np.int64),
            "eval_start_value": np.zeros((n, 0, m)),
            "eval_step": np.zeros(0, np.int64),
            "eval_seconds": np.zeros(0),
        }
        self.arrays = {**empty, **self.arrays}

    def add(self, rec: ChunkRecord, params: Any = None, seconds: float = float("nan")) -> None:
        """Append one chunk's record; ``params`` (online, per seed) are kept as a seed's
        best when its evaluation is at least as good as any before; ``seconds`` is the
        run's wall-clock time so far (compiling included), for time-to-solve."""
        a = self.arrays
        if params is not None:
            self._keep_best(np.asarray(rec.eval_return, float).mean(axis=1), rec.steps_done, params)

        def join(name: str, new: Any, axis: int = 0) -> None:
            a[name] = np.concatenate([a[name], np.asarray(new, a[name].dtype)], axis=axis)

        for name in ("episode_seed", "episode_step", "episode_return", "episode_length"):
            join(name, getattr(rec, name))
        join("trained", rec.trained)
        for name in ("loss", "q_mean", "epsilon"):
            join(name, getattr(rec, name), axis=1)
        join("eval_return", np.asarray(rec.eval_return)[:, None, :], axis=1)
        join("eval_length", np.asarray(rec.eval_length)[:, None, :], axis=1)
        join("eval_start_value", np.asarray(rec.eval_start_value)[:, None, :], axis=1)
        join("eval_step", [rec.steps_done])
        join("eval_seconds", [seconds])

    def _keep_best(self, means: np.ndarray, step: int, params: Any) -> None:
        flat = flatten(params, prefix=BEST_PREFIX)
        a = self.arrays
        if "best_mean" not in a:
            a["best_mean"] = means.astype(float).copy()
            a["best_step"] = np.full(self.seeds, step, np.int64)
            a.update({k: v.copy() for k, v in flat.items()})
            return
        better = means >= a["best_mean"]
        a["best_mean"] = np.where(better, means, a["best_mean"])
        a["best_step"] = np.where(better, step, a["best_step"])
        for k, v in flat.items():
            a[k][better] = v[better]

    def best_params(self, template: Any) -> Any:
        """The online parameters of each seed at its best evaluation (None before any)."""
        if "best_mean" not in self.arrays:
            return None
        return unflatten(template, self.arrays, "the run's history", prefix=BEST_PREFIX)

    def to_arrays(self, prefix: str = "history/") -> dict[str, np.ndarray]:
        return {prefix + k: v for k, v in self.arrays.items()}

    @classmethod
    def from_arrays(
        cls, seeds: int, eval_episodes: int, data: dict[str, np.ndarray], source: str,
        prefix: str = "history/",
    ) -> History:  # fmt: skip
        """A History saved by :meth:`to_arrays` (refuses files that are not)."""
        missing = [k for k in HISTORY_FIELDS if prefix + k not in data]
        if missing:
            raise QlearnError(
                f"{source} is not a qlearn DQN checkpoint (missing {prefix + missing[0]!r})"
            )
        arrays = {
            k.removeprefix(prefix): np.asarray(v) for k, v in data.items() if k.startswith(prefix)
        }
        if arrays["eval_return"].shape[::2] != (seeds, eval_episodes):
            raise QlearnError(f"{source} was written by another configuration (seeds, evaluation)")
        return cls(seeds, eval_episodes, arrays)


class Backend(Protocol):
    """A trainer driven chunk by chunk (compiled or host loop)."""

    chunks: int
    env_steps: int
    steps_per_iteration: int

    def fresh(self) -> Any: ...

    def compile(self, state: Any) -> float: ...

    def run_chunk(self, state: Any, index: int) -> tuple[Any, ChunkRecord]: ...

    def state_arrays(self, state: Any) -> dict[str, np.ndarray]: ...

    def load_state(self, arrays: dict[str, np.ndarray], source: str) -> Any: ...

    def online_params(self, state: Any) -> Any: ...

    def params_template(self) -> Any:
        """The shapes of :meth:`online_params` (nothing is computed)."""
        ...

    def evaluate(self, params: Any, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, M) returns, lengths and start values of each seed's ``params`` on the
        evaluation episodes numbered ``index`` (training's own evaluations use the chunk
        index; ``qlearn eval`` numbers its own far away)."""
        ...
