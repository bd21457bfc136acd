"""The DQN training configuration: typed, frozen, documented per field, validated once.

Defaults come in three layers, each overriding the one before: the field defaults
below, the tuned settings for the environment (``qlearn/configs/dqn_defaults.yaml``, chosen
for time-to-solve on a laptop CPU), then what the user gives (a config file, then
flags). The resolved configuration is what a run folder's ``config.yaml`` records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from qlearn.configs.fields import check_int, check_number
from qlearn.core.errors import QlearnError

DQN_ALGOS = ("dqn",)
LOSSES = ("huber", "mse")
BACKENDS = ("auto", "compiled", "gymnasium")


@dataclass(frozen=True)
class DQNConfig:
    """How to train the DQN family on one environment."""

    world: str | None = "CartPole-v1"
    """Environment: a gymnax id (CartPole-v1, Acrobot-v1, MountainCar-v0, *-MinAtar), a
    qlearn world (one-hot observations), or any Gymnasium id (ALE/Pong-v5, ...)."""
    map_file: str | None = None
    """A map file to train on instead of a named world."""
    algo: str = "dqn"
    """The algorithm family (dqn); the variants are the flags below."""
    double: bool = False
    """Double DQN: the online network picks the next action, the target values it."""
    dueling: bool = False
    """Dueling head: Q = V + (A - mean A)."""
    n_step: int = 1
    """Steps of real reward before bootstrapping (n-step returns)."""
    per: bool = False
    """Prioritized replay (proportional, Schaul et al. 2016)."""
    per_alpha: float = 0.6
    """How strongly priorities shape sampling (0: uniform)."""
    per_beta: float = 0.4
    """Initial importance-sampling exponent, annealed linearly to 1 over the run."""
    per_eps: float = 1e-6
    """Added to |TD error| so that no transition has priority 0."""
    steps: int = 50_000
    """Environment steps per seed (counted over all parallel environments)."""
    seeds: int = 1
    """Independent runs; run k uses seed ``seed + k``."""
    seed: int = 0
    """Seed of the first run."""
    num_envs: int = 1
    """Environments stepped at once per seed."""
    lr: float = 1e-3
    """Adam's learning rate."""
    lr_end: float | None = None
    """If set, the learning rate decays linearly to this value over the run."""
    batch_size: int = 64
    """Transitions per gradient step."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    learning_starts: int = 1_000
    """Environment steps collected before the first gradient step."""
    target_update: int = 500
    """Environment steps between target-network updates."""
    tau: float = 1.0
    """Target update rate: 1 copies the online network, below 1 is Polyak averaging."""
    train_freq: int = 4
    """Vector steps of collection between training rounds."""
    gradient_steps: int = 1
    """Gradient steps per training round."""
    exploration_fraction: float = 0.1
    """Share of the run over which epsilon decays linearly from start_eps to final_eps."""
    start_eps: float = 1.0
    """Epsilon at the first step."""
    final_eps: float = 0.05
    """Epsilon after the decay."""
    net: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP head."""
    loss: str = "huber"
    """huber (smooth L1) or mse."""
    max_grad_norm: float = 10.0
    """Clip the global gradient norm to this (0: no clipping)."""
    gamma: float | None = None
    """Discount in [0, 1]; None: the world's own (finite worlds) or 0.99."""
    eval_every: int | None = None
    """Environment steps between greedy evaluations (None: ten evaluations per run)."""
    eval_episodes: int = 10
    """Episodes per evaluation, on a separate environment with its own seeds."""
    eval_epsilon: float = 0.0
    """Exploration during evaluation (0: greedy)."""
    max_steps: int | None = None
    """Finite worlds: cap on an episode's length (None: the world's own)."""
    backend: str = "auto"
    """compiled (functional envs, the whole run under jit), gymnasium (a host loop over
    Gymnasium envs), or auto: compiled where the environment allows it."""

    def __post_init__(self) -> None:
        validate_dqn(self)

    @property
    def discount(self) -> float:
        return 0.99 if self.gamma is None else float(self.gamma)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["net"] = list(self.net)
        return out

    def replace(self, **changes: Any) -> DQNConfig:
        return dataclasses.replace(self, **changes)


def validate_dqn(cfg: DQNConfig) -> None:
    """Raise a QlearnError naming the first bad field and how to fix it."""
    if cfg.algo not in DQN_ALGOS:
        raise QlearnError(f"unknown algorithm {cfg.algo!r} for DQNConfig; use dqn")
    for flag in ("double", "dueling", "per"):
        if not isinstance(getattr(cfg, flag), bool):
            raise QlearnError(f"{flag} must be true or false, got {getattr(cfg, flag)!r}")
    check_int(cfg.steps, "steps", 1, "pass e.g. --steps 50000")
    check_int(cfg.seeds, "seeds", 1, "pass e.g. --seeds 8")
    check_int(cfg.seed, "seed", 0, "pass e.g. --seed 0")
    if cfg.seed + cfg.seeds > 2**31:
        raise QlearnError("seed + seeds must stay below 2^31")
    check_int(cfg.num_envs, "num_envs", 1, "pass e.g. --num-envs 4", high=4096)
    check_int(cfg.n_step, "n_step", 1, "pass e.g. --n-step 3", high=1000)
    check_number(cfg.lr, "lr", 0.0, 1.0, "pass e.g. --lr 1e-3", open_low=True)
    if cfg.lr_end is not None:
        check_number(cfg.lr_end, "lr_end", 0.0, 1.0, "pass e.g. --lr-end 1e-4")
    check_int(cfg.batch_size, "batch_size", 1, "pass e.g. --batch-size 64", high=1 << 20)
    check_int(cfg.buffer_size, "buffer_size", 1, "pass e.g. --buffer-size 100000", high=1 << 30)
    if cfg.buffer_size < cfg.num_envs:
        raise QlearnError(
            f"buffer_size ({cfg.buffer_size}) must hold at least one step of every "
            f"environment (num_envs {cfg.num_envs}); raise --buffer-size"
        )
    check_int(cfg.learning_starts, "learning_starts", 0, "pass e.g. --learning-starts 1000")
    check_int(cfg.target_update, "target_update", 1, "pass e.g. --target-update 500")
    check_number(
        cfg.tau, "tau", 0.0, 1.0, "pass e.g. --tau 0.005 (or 1 for a hard copy)", open_low=True
    )
    check_int(cfg.train_freq, "train_freq", 1, "pass e.g. --train-freq 4")
    check_int(cfg.gradient_steps, "gradient_steps", 1, "pass e.g. --gradient-steps 1", high=1 << 16)
    check_number(cfg.exploration_fraction, "exploration_fraction", 0.0, 1.0, "pass e.g. 0.1")
    check_number(cfg.start_eps, "start_eps", 0.0, 1.0, "pass e.g. --start-eps 1")
    check_number(cfg.final_eps, "final_eps", 0.0, 1.0, "pass e.g. --final-eps 0.05")
    if not isinstance(cfg.net, tuple) or not all(
        isinstance(w, int) and not isinstance(w, bool) for w in cfg.net
    ):
        raise QlearnError(f"net must be a list of layer widths, got {cfg.net!r}; e.g. --net 64,64")
    if len(cfg.net) > 16 or any(not 1 <= w <= 65536 for w in cfg.net):
        raise QlearnError(
            f"net must have at most 16 layers of 1 to 65536 units, got {list(cfg.net)}; "
            "e.g. --net 64,64"
        )
    if cfg.loss not in LOSSES:
        raise QlearnError(f"unknown loss {cfg.loss!r}; choose huber or mse")
    check_number(
        cfg.max_grad_norm, "max_grad_norm", 0.0, float("inf"), "pass e.g. 10 (0: no clipping)"
    )
    if cfg.gamma is not None:
        check_number(cfg.gamma, "gamma", 0.0, 1.0, "pass e.g. --gamma 0.99")
    if cfg.eval_every is not None:
        check_int(cfg.eval_every, "eval_every", 1, "pass e.g. --eval-every 5000")
    check_int(cfg.eval_episodes, "eval_episodes", 1, "pass e.g. --eval-episodes 10", high=100_000)
    check_number(cfg.eval_epsilon, "eval_epsilon", 0.0, 1.0, "pass e.g. --eval-epsilon 0.05")
    if cfg.max_steps is not None:
        check_int(cfg.max_steps, "max_steps", 1, "pass e.g. --max-steps 100")
    check_number(cfg.per_alpha, "per_alpha", 0.0, 10.0, "pass e.g. --per-alpha 0.6")
    check_number(cfg.per_beta, "per_beta", 0.0, 1.0, "pass e.g. --per-beta 0.4")
    check_number(cfg.per_eps, "per_eps", 0.0, 1.0, "pass e.g. 1e-6", open_low=True)
    if cfg.backend not in BACKENDS:
        raise QlearnError(f"unknown backend {cfg.backend!r}; choose {', '.join(BACKENDS)}")
    if cfg.world is None and cfg.map_file is None:
        raise QlearnError("no environment given; name one (see `qlearn envs`) or pass --map FILE")


def tuned_defaults() -> dict[str, dict[str, Any]]:
    """The shipped per-environment settings (``configs/dqn_defaults.yaml``)."""
    text = (resources.files("qlearn.configs") / "dqn_defaults.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def defaults_key(world: str | None, family: str) -> str:
    """Which entry of the tuned settings applies: the id itself, else its family."""
    table = tuned_defaults()
    if world in table:
        return world
    return family


def env_defaults(world: str | None, family: str) -> dict[str, Any]:
    """The tuned options for ``world`` (family: finite, minatar, atari, gymnasium)."""
    table = tuned_defaults()
    return dict(table.get(defaults_key(world, family), {}))
