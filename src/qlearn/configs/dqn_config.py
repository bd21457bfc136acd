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

from qlearn.configs.fields import check_int, check_number, merge_options
from qlearn.core.errors import QlearnError

DQN_ALGOS = ("dqn", "pqn")
LOSSES = ("huber", "mse")
BACKENDS = ("auto", "compiled", "gymnasium")
DISTRIBUTIONAL = ("c51", "qr")
CORRECTIONS = ("none", "peng", "retrace")
#: C51's support (v_min, v_max) where neither the user nor a finite world's rewards
#: bound the returns.
DEFAULT_SUPPORT = (-10.0, 10.0)
#: What ``--rainbow`` turns on (Hessel et al., 2018): every option the user does not set.
RAINBOW = {
    "double": True,
    "dueling": True,
    "n_step": 3,
    "per": True,
    "distributional": "c51",
    "noisy": True,
}


@dataclass(frozen=True)
class DQNConfig:
    """How to train the DQN family on one environment."""

    world: str | None = "CartPole-v1"
    """Environment: a gymnax id (CartPole-v1, Acrobot-v1, MountainCar-v0, *-MinAtar), a
    qlearn world (one-hot observations), or any Gymnasium id (ALE/Pong-v5, ...)."""
    map_file: str | None = None
    """A map file to train on instead of a named world."""
    algo: str = "dqn"
    """dqn (replay and a target network; the variants are the flags below) or pqn
    (Parallel Q-learning: no replay, no target network, LayerNorm, Q(lambda) returns over
    ``num_envs`` environments, rollouts of ``train_freq`` steps)."""
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
    distributional: str | None = None
    """None (one value per action), c51 (a categorical distribution on ``atoms`` fixed
    returns from v_min to v_max) or qr (``quantiles`` learned quantiles)."""
    atoms: int = 51
    """C51: atoms of the support."""
    v_min: float | None = None
    """C51: lowest atom (None: from the world's rewards on finite worlds, else -10)."""
    v_max: float | None = None
    """C51: highest atom (None: from the world's rewards on finite worlds, else 10)."""
    quantiles: int = 200
    """QR-DQN: quantiles per action (the quantile Huber loss has kappa 1)."""
    noisy: bool = False
    """Factorised Gaussian noisy layers explore instead of epsilon (which is then 0
    unless start_eps/final_eps are given)."""
    noisy_sigma: float = 0.5
    """Noisy layers: initial noise scale sigma_0 (divided by sqrt(fan-in))."""
    munchausen: bool = False
    """Munchausen DQN: soft targets plus a scaled, clipped log-policy bonus."""
    m_alpha: float = 0.9
    """Munchausen: scale of the log-policy bonus (Vieillard et al. 2020: 0.9)."""
    m_tau: float = 0.03
    """Munchausen: entropy temperature of the softmax policy (0.03)."""
    m_clip: float = -1.0
    """Munchausen: lower clip of the log-policy bonus (-1)."""
    rainbow: bool = False
    """Preset: double, dueling, n_step 3, per, c51 and noisy, except options given."""
    n_step_correction: str = "none"
    """Off-policy correction of n-step targets: none, peng (Peng's Q(lambda)) or retrace
    (Retrace(lambda) over the stored behaviour probabilities; cut at exploratory actions)."""
    lam: float = 1.0
    """lambda of peng/retrace (DQN) and of PQN's Q(lambda) returns, in [0, 1]."""
    minibatches: int = 4
    """PQN: minibatches per pass over a rollout (``gradient_steps`` passes)."""
    backend: str = "auto"
    """compiled (functional envs, the whole run under jit), gymnasium (a host loop over
    Gymnasium envs), or auto: compiled where the environment allows it."""

    def __post_init__(self) -> None:
        validate_dqn(self)

    @property
    def discount(self) -> float:
        return 0.99 if self.gamma is None else float(self.gamma)

    @property
    def support_bounds(self) -> tuple[float, float]:
        """C51's lowest and highest atom: v_min and v_max, the default support where unset."""
        low, high = DEFAULT_SUPPORT
        return (
            low if self.v_min is None else self.v_min,
            high if self.v_max is None else self.v_max,
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["net"] = list(self.net)
        return out

    def replace(self, **changes: Any) -> DQNConfig:
        return dataclasses.replace(self, **changes)


def validate_dqn(cfg: DQNConfig) -> None:
    """Raise a QlearnError naming the first bad field and how to fix it."""
    if cfg.algo not in DQN_ALGOS:
        raise QlearnError(f"unknown algorithm {cfg.algo!r} for DQNConfig; use dqn or pqn")
    for flag in ("double", "dueling", "per", "noisy", "munchausen", "rainbow"):
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
    validate_beyond_rainbow(cfg)
    if cfg.world is None and cfg.map_file is None:
        raise QlearnError("no environment given; name one (see `qlearn envs`) or pass --map FILE")


def validate_beyond_rainbow(cfg: DQNConfig) -> None:
    """The distributional, noisy, Munchausen, correction and PQN options."""
    if cfg.distributional is not None and cfg.distributional not in DISTRIBUTIONAL:
        raise QlearnError(f"unknown distributional head {cfg.distributional!r}; choose c51 or qr")
    check_int(cfg.atoms, "atoms", 2, "C51 needs at least 2 atoms; pass e.g. --atoms 51", 4096)
    check_int(cfg.quantiles, "quantiles", 1, "pass e.g. --quantiles 200", high=4096)
    for name in ("v_min", "v_max"):
        if getattr(cfg, name) is not None:
            hint = f"pass e.g. --{name.replace('_', '-')} 10"
            check_number(getattr(cfg, name), name, -1e9, 1e9, hint)
    low, high = cfg.support_bounds
    if cfg.v_min is not None or cfg.v_max is not None:
        if low >= high:
            raise QlearnError(
                f"v_min ({low:g}) must be below v_max ({high:g}); pass e.g. --v-min -10 --v-max 10"
            )
    check_number(cfg.noisy_sigma, "noisy_sigma", 0.0, 10.0, "pass e.g. 0.5", open_low=True)
    if cfg.noisy and cfg.final_eps > cfg.start_eps:
        raise QlearnError(
            f"an epsilon that grows from {cfg.start_eps:g} to {cfg.final_eps:g} makes no sense "
            "with --noisy (noisy layers explore; epsilon is 0 unless given): drop "
            "--start-eps/--final-eps or make final-eps <= start-eps"
        )
    check_number(cfg.m_alpha, "m_alpha", 0.0, 1.0, "pass e.g. 0.9")
    check_number(cfg.m_tau, "m_tau", 0.0, 100.0, "pass e.g. 0.03", open_low=True)
    check_number(cfg.m_clip, "m_clip", -1e6, 0.0, "pass e.g. -1")
    if cfg.munchausen and cfg.distributional is not None:
        raise QlearnError(
            "--munchausen works on the value head only; drop --distributional or --munchausen"
        )
    if cfg.n_step_correction not in CORRECTIONS:
        raise QlearnError(
            f"unknown n-step correction {cfg.n_step_correction!r}; choose none, peng or retrace"
        )
    if cfg.n_step_correction != "none" and (cfg.munchausen or cfg.distributional):
        other = "--munchausen" if cfg.munchausen else "--distributional"
        raise QlearnError(
            f"--n-step-correction works on the plain value head; it does not combine with "
            f"{other} (drop one)"
        )
    check_number(cfg.lam, "lambda", 0.0, 1.0, "pass e.g. --lambda 0.9")
    check_int(cfg.minibatches, "minibatches", 1, "pass e.g. --minibatches 4", high=1 << 16)
    if cfg.algo == "pqn":
        features = [f for f in ("per", "distributional", "noisy", "munchausen", "rainbow")
                    if getattr(cfg, f)]  # fmt: skip
        if features or cfg.n_step_correction != "none":
            name = features[0] if features else "n_step_correction"
            raise QlearnError(
                f"--algo pqn has no replay or target network, so {name} does not apply; "
                "use --algo dqn"
            )
        if (cfg.train_freq * cfg.num_envs) % cfg.minibatches:
            raise QlearnError(
                f"PQN splits each rollout of train_freq x num_envs = "
                f"{cfg.train_freq * cfg.num_envs} transitions into {cfg.minibatches} "
                "minibatches; choose --minibatches that divides it"
            )


def tuned_defaults() -> dict[str, dict[str, Any]]:
    """The shipped per-environment settings (``configs/dqn_defaults.yaml``)."""
    text = (resources.files("qlearn.configs") / "dqn_defaults.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _section(table: dict[str, Any], algo: str, variant: str | None = None) -> dict[str, Any]:
    """The part of the tuned settings for PQN (``pqn``), a variant of DQN (``rainbow``,
    ``c51``, ``qr``: what is tuned for it over DQN's own) or DQN (the top level)."""
    if algo == "pqn":
        return table.get("pqn", {})
    if variant is None:
        return table
    return table.get(variant, {}) if variant in ("rainbow", *DISTRIBUTIONAL) else {}


def _tuned_for(
    table: dict[str, Any], world: str | None, family: str, algo: str, variant: str | None
) -> dict[str, Any]:
    """The entry of ``table`` (the tuned settings) for ``world``: its id, else its family
    (finite, minatar, atari, gymnasium); PQN's and the variants' settings sit under their
    own keys, by id or family the same way."""
    section = _section(table, algo, variant)
    return dict(section.get(world if world in section else family, {}))


def layered_options(world: str | None, family: str, given: dict[str, Any]) -> dict[str, Any]:
    """The options of a run, lowest layer first: the tuned settings for ``world``, those
    tuned for its distributional head, the ``--rainbow`` preset when asked for (with what
    is tuned for Rainbow there), then what the user gave; with noisy layers, epsilon is 0
    unless the user or Rainbow's tuned settings gave it (the noise explores)."""
    algo = given.get("algo", DQNConfig.algo)
    table = tuned_defaults()
    preset = {}
    if given.get("rainbow"):
        preset = {**RAINBOW, **_tuned_for(table, world, family, "dqn", "rainbow")}
    head = given.get("distributional", preset.get("distributional"))
    for_head = _tuned_for(table, world, family, algo, head) if head else {}
    tuned = _tuned_for(table, world, family, algo, None)
    merged = merge_options(tuned, for_head, preset, given)
    if merged.get("noisy"):
        for name in ("start_eps", "final_eps"):
            if name not in given and name not in preset:
                merged[name] = 0.0
    return merged
