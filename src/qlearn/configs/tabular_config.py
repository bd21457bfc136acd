"""Typed, frozen training configurations, validated once at the edge."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from qlearn.configs.fields import check_finite, check_int, check_number
from qlearn.core.errors import QlearnError
from qlearn.core.schedules import DECAYS, EXPLORATIONS_ALLOWED, UNITS, LearningRate, Schedule
from qlearn.mdp import check_gamma, shown

TABULAR_ALGOS = (
    "q-learning", "sarsa", "expected-sarsa", "double-q", "q-lambda", "sarsa-lambda", "td0",
)  # fmt: skip
#: The learners with eligibility traces: Watkins's Q(lambda) and SARSA(lambda).
TRACE_ALGOS = ("q-lambda", "sarsa-lambda")
#: How a visit raises its entry's trace: by one (accumulating) or to one (replacing).
TRACE_KINDS = ("accumulating", "replacing")
#: lambda of the trace learners when none is given.
DEFAULT_LAMBDA = 0.9
TD0_POLICIES = ("random", "optimal")
#: Longest episode a tabular run may cap at (the loop keeps per-episode buffers).
MAX_EPISODE_STEPS = 10_000_000


@dataclass(frozen=True)
class TabularConfig:
    """How to train a tabular learner on a finite world. Every field has a safe default."""

    world: str | None = "classic"
    """Built-in world (see `qlearn envs`) or Gymnasium toy_text id; None with ``map_file``."""
    map_file: str | None = None
    """A map file to train on instead of a named world."""
    algo: str = "q-learning"
    """q-learning, sarsa, expected-sarsa, double-q, td0 (evaluate a fixed policy), or with
    eligibility traces q-lambda (Watkins: traces cut after exploratory actions) and
    sarsa-lambda."""
    episodes: int = 500
    """Episodes per seed."""
    alpha: str = "0.5"
    """Learning rate: a constant in (0, 1], or ``1/n^W`` from the visit count."""
    gamma: float | None = None
    """Discount in [0, 1]; None uses the world's own."""
    epsilon: str = "1:0.05"
    """Exploration rate START[:END[:N]]: decays from START to END over N units (default: all)."""
    decay: str = "linear"
    """How epsilon and temperature decay: linear or exponential."""
    decay_unit: str = "episodes"
    """Whether N counts episodes or steps."""
    explore: str = "epsilon-greedy"
    """Action choice while learning: epsilon-greedy or boltzmann."""
    temperature: str = "1"
    """Boltzmann temperature START[:END[:N]] (used with explore=boltzmann)."""
    q_init: float = 0.0
    """Initial value of every table entry (above the true values: optimistic exploration)."""
    seeds: int = 1
    """Independent runs; run k uses seed ``seed + k``."""
    seed: int = 0
    """Seed of the first run."""
    max_steps: int | None = None
    """Cap on an episode's length; None uses the world's own."""
    policy: str = "random"
    """The fixed policy td0 evaluates: random or optimal."""
    snapshots: tuple[int, ...] = ()
    """Episodes (1-based) after which to keep a copy of the table."""
    step_reward: float | None = None
    """Grid worlds: reward of an ordinary step (None: the map's own)."""
    slip: str | None = None
    """Grid worlds: probability that a move on ice goes sideways (None: the map's own)."""
    lam: float | None = None
    """q-lambda and sarsa-lambda: lambda of the traces in [0, 1] (None: 0.9); 0 is the
    one-step learner."""
    traces: str | None = None
    """q-lambda and sarsa-lambda: accumulating (None) or replacing traces."""

    def __post_init__(self) -> None:
        validate_tabular(self)

    @property
    def learning_rate(self) -> LearningRate:
        return LearningRate.parse(self.alpha)

    @property
    def traced(self) -> bool:
        """Whether the learner keeps eligibility traces (q-lambda, sarsa-lambda)."""
        return self.algo in TRACE_ALGOS

    @property
    def trace_lambda(self) -> float:
        """lambda of the traces: the one given, 0.9 by default, 0 for learners without."""
        if not self.traced:
            return 0.0
        return DEFAULT_LAMBDA if self.lam is None else float(self.lam)

    @property
    def replacing_traces(self) -> bool:
        return self.traces == "replacing"

    def epsilon_schedule(self) -> Schedule:
        default_n = self.episodes if self.decay_unit == "episodes" else 0
        return Schedule.parse(self.epsilon, self.decay, self.decay_unit, default_n, "epsilon")

    def temperature_schedule(self) -> Schedule:
        default_n = self.episodes if self.decay_unit == "episodes" else 0
        return Schedule.parse(
            self.temperature, self.decay, self.decay_unit, default_n, "temperature"
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["snapshots"] = list(self.snapshots)
        return out

    def replace(self, **changes: Any) -> TabularConfig:
        return dataclasses.replace(self, **changes)


def validate_tabular(cfg: TabularConfig) -> None:
    """Raise a QlearnError naming the first bad field and how to fix it."""
    if cfg.algo not in TABULAR_ALGOS:
        raise QlearnError(
            f"unknown algorithm {cfg.algo!r}; choose one of {', '.join(TABULAR_ALGOS)}, "
            "or dqn (deep Q-networks)"
        )
    check_int(cfg.episodes, "episodes", 1, "pass e.g. --episodes 500")
    check_int(cfg.seeds, "seeds", 1, "pass e.g. --seeds 16")
    check_int(cfg.seed, "seed", 0, "pass e.g. --seed 0")
    if cfg.seed + cfg.seeds > 2**32:
        raise QlearnError("seed + seeds must stay below 2^32")
    if cfg.max_steps is not None:
        check_int(cfg.max_steps, "max_steps", 1, "pass e.g. --max-steps 1000")
        if cfg.max_steps > MAX_EPISODE_STEPS:
            raise QlearnError(
                f"max_steps must be at most {MAX_EPISODE_STEPS:,}, got {shown(cfg.max_steps)}; "
                "pass e.g. --max-steps 1000"
            )
    cfg.learning_rate  # noqa: B018 - parses and validates
    if cfg.gamma is not None:
        if isinstance(cfg.gamma, bool) or not isinstance(cfg.gamma, int | float):
            raise QlearnError(f"gamma must be a number in [0, 1], got {shown(cfg.gamma)}")
        check_gamma(cfg.gamma)
    if cfg.decay not in DECAYS:
        raise QlearnError(f"unknown decay {cfg.decay!r}; choose {' or '.join(DECAYS)}")
    if cfg.decay_unit not in UNITS:
        raise QlearnError(f"unknown decay unit {cfg.decay_unit!r}; choose {' or '.join(UNITS)}")
    if cfg.explore not in EXPLORATIONS_ALLOWED:
        raise QlearnError(
            f"unknown exploration {cfg.explore!r}; choose {' or '.join(EXPLORATIONS_ALLOWED)}"
        )
    eps = cfg.epsilon_schedule()
    if eps.kind != "constant" and eps.unit == "steps" and eps.duration <= 0:
        raise QlearnError("with --decay-unit steps, give the number of steps: START:END:N")
    eps.check_range(0.0, 1.0, "epsilon")
    cfg.temperature_schedule().check_range(0.0, float("inf"), "temperature", open_low=True)
    check_finite(cfg.q_init, "q_init", "pass e.g. --q-init 0")
    if cfg.step_reward is not None:
        check_finite(cfg.step_reward, "step_reward", "pass e.g. --step-reward -0.01")
    if cfg.policy not in TD0_POLICIES:
        raise QlearnError(f"unknown policy {cfg.policy!r} for td0; choose random or optimal")
    if any(
        isinstance(e, bool) or not isinstance(e, int) or not 1 <= e <= cfg.episodes
        for e in cfg.snapshots
    ):
        raise QlearnError(
            f"snapshot episodes must be integers between 1 and {cfg.episodes}, "
            f"got {list(cfg.snapshots)}"
        )
    _validate_traces(cfg)
    if cfg.world is None and cfg.map_file is None:
        raise QlearnError("no world given; name one (see `qlearn envs`) or pass --map FILE")


def _validate_traces(cfg: TabularConfig) -> None:
    """lambda in [0, 1] and a known trace kind, given only to the learners with traces."""
    for flag, value in (("--lambda", cfg.lam), ("--traces", cfg.traces)):
        if value is not None and cfg.algo not in TRACE_ALGOS:
            raise QlearnError(
                f"{flag} applies to learners with eligibility traces ({', '.join(TRACE_ALGOS)}), "
                f"not {cfg.algo}; pass e.g. --algo q-lambda, or drop {flag}"
            )
    if cfg.lam is not None:
        check_number(cfg.lam, "lambda", 0.0, 1.0, "pass e.g. --lambda 0.9")
    if cfg.traces is not None and cfg.traces not in TRACE_KINDS:
        raise QlearnError(f"unknown trace kind {cfg.traces!r}; choose {' or '.join(TRACE_KINDS)}")
