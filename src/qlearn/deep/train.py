"""Train the DQN family: resolve the environment, drive the trainer chunk by chunk,
and collect what it reports into a :class:`DQNRun`.

Where a run goes is decided once (:func:`resolve_target`): qlearn's finite worlds and
gymnax's environments run in the compiled trainer (:mod:`qlearn.deep.compiled`);
any other Gymnasium environment, Atari included, in the host loop
(:mod:`qlearn.deep.host`). Both are driven the same way, a chunk (one evaluation
interval) at a time, which is where progress, checkpoints, Ctrl-C and the check for
numerical trouble happen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from qlearn.configs.dqn_config import DEFAULT_SUPPORT, DQNConfig, layered_options
from qlearn.configs.fields import config_from_mapping, merge_options
from qlearn.core.errors import QlearnError
from qlearn.deep.chunks import Backend, ChunkRecord, History, make_dqn
from qlearn.envs.registry import family_of, finite_mdp_of
from qlearn.exact import Solution
from qlearn.mdp import FiniteMDP

if TYPE_CHECKING:
    import pandas as pd  # imported when a table is asked for: it is not needed to train

FAMILIES = ("finite", "gymnax", "minatar", "atari", "gymnasium")


@dataclass(frozen=True)
class Target:
    """Where a configuration trains: the environment's family and the trainer used."""

    name: str
    family: str
    backend: str  # compiled or gymnasium
    mdp: FiniteMDP | None = None


def resolve_target(cfg: DQNConfig, mdp: FiniteMDP | None = None) -> Target:
    """The environment family of ``cfg`` and the trainer that serves it (``mdp``: train
    on this finite world instead of the one ``cfg`` names)."""
    family = "finite" if mdp is not None else family_of(cfg.world, cfg.map_file)
    compiled_ok = family in ("finite", "gymnax", "minatar")
    backend = cfg.backend
    if backend == "auto":
        backend = "compiled" if compiled_ok else "gymnasium"
    if backend == "compiled" and not compiled_ok:
        raise QlearnError(
            f"{cfg.world} has no functional (JAX) version; use --backend gymnasium "
            "(the default for it)"
        )
    if cfg.algo == "pqn" and backend != "compiled":
        raise QlearnError(
            f"--algo pqn runs in the compiled trainer only; {cfg.world} has no functional "
            "(JAX) version (choose a qlearn world, CartPole-v1, Acrobot-v1, MountainCar-v0 "
            "or a MinAtar game)"
        )
    if backend == "gymnasium" and family == "minatar":
        raise QlearnError(f"{cfg.world} exists only in gymnax; use --backend compiled")
    if mdp is not None:
        mdp = mdp.with_gamma(cfg.gamma)
    elif family == "finite":
        mdp = finite_mdp_of(cfg.world, cfg.map_file, cfg.gamma)
    name = mdp.name if mdp is not None else str(cfg.world)
    return Target(name, family, backend, mdp)


def resolve_config(options: dict[str, Any], source: str = "the command line") -> DQNConfig:
    """A validated DQNConfig: the tuned settings for the environment, then ``options``."""
    world = options.get("world", DQNConfig.world)
    map_file = options.get("map_file")
    if map_file is not None:
        world = None
    options_layered = layered_options(world, family_of(world, map_file), options)
    cfg = config_from_mapping(DQNConfig, options_layered, source)
    target = resolve_target(cfg)  # refuses impossible backends before anything is created
    return settled(cfg, target.mdp)


def settled(cfg: DQNConfig, mdp: FiniteMDP | None) -> DQNConfig:
    """``cfg`` with what was left to the environment written out, as the run's config.yaml
    records it: the discount, and C51's support (from the world's rewards on finite
    worlds, else [-10, 10])."""
    if cfg.gamma is None:
        cfg = cfg.replace(gamma=mdp.gamma if mdp is not None else 0.99)
    if cfg.distributional == "c51" and (cfg.v_min is None or cfg.v_max is None):
        low, high = return_bounds(mdp, cfg) if mdp is not None else DEFAULT_SUPPORT
        cfg = cfg.replace(
            v_min=low if cfg.v_min is None else cfg.v_min,
            v_max=high if cfg.v_max is None else cfg.v_max,
        )
    return cfg


def return_bounds(mdp: FiniteMDP, cfg: DQNConfig) -> tuple[float, float]:
    """The lowest and highest return any episode can have (every action, every outcome
    of positive probability, up to the time limit), widened to include 0 and rounded out
    to a tenth: a C51 support that holds every return of the world."""
    horizon = cfg.max_steps or mdp.max_steps
    gamma = cfg.discount
    used = mdp.next_probs > 0
    low, high = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
    for _ in range(horizon):
        after_low = np.where(mdp.terminal, 0.0, low)[mdp.next_states]
        after_high = np.where(mdp.terminal, 0.0, high)[mdp.next_states]
        step_low = np.where(used, mdp.next_rewards + gamma * after_low, np.inf)
        step_high = np.where(used, mdp.next_rewards + gamma * after_high, -np.inf)
        new_low = np.where(mdp.legal, step_low.min(axis=2), np.inf).min(axis=1)
        new_high = np.where(mdp.legal, step_high.max(axis=2), -np.inf).max(axis=1)
        if np.allclose(new_low, low) and np.allclose(new_high, high):
            break
        low, high = new_low, new_high
    live = ~mdp.terminal
    lo = min(0.0, float(low[live].min())) if live.any() else 0.0
    hi = max(0.0, float(high[live].max())) if live.any() else 1.0
    if hi - lo < 1e-6:
        hi = lo + 1.0
    return float(np.floor(lo * 10) / 10), float(np.ceil(hi * 10) / 10)


@dataclass(frozen=True)
class DQNRun:
    """A finished DQN run: final parameters per seed, evaluations, episodes, losses."""

    config: DQNConfig
    target: Target
    history: History
    params: Any  # online parameters, leading axis = seed (host arrays)
    env_steps: int  # per seed
    train_seconds: float
    compile_seconds: float
    q_per_seed: np.ndarray | None = None  # (N, S, A) on finite worlds
    solution: Solution | None = None

    @property
    def best_params(self) -> Any:
        """Each seed's online parameters at its best evaluation (the latest among ties)."""
        return self.history.best_params(self.params)

    @property
    def best_eval(self) -> tuple[np.ndarray, np.ndarray]:
        """(N,) each seed's best evaluation mean, and the step it was reached at."""
        return self.history.arrays["best_mean"], self.history.arrays["best_step"]

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + k for k in range(self.config.seeds)]

    @property
    def eval_returns(self) -> np.ndarray:
        """(N, K, M): returns of every evaluation episode, per seed and evaluation."""
        return self.history.arrays["eval_return"]

    @property
    def eval_steps(self) -> np.ndarray:
        return self.history.arrays["eval_step"]

    @property
    def final_eval(self) -> np.ndarray:
        """(N, M) returns of the last evaluation (the final greedy evaluation)."""
        return self.eval_returns[:, -1]

    @property
    def curve(self) -> np.ndarray:
        """(K,) mean evaluation return over seeds at each evaluation."""
        return self.eval_returns.mean(axis=(0, 2))

    @property
    def start_values(self) -> np.ndarray:
        """(N, K): the network's value of the first observation (max legal Q), averaged
        over each evaluation's episodes: what the agent expects to earn."""
        return self.history.arrays["eval_start_value"].mean(axis=2)

    @property
    def q(self) -> np.ndarray | None:
        return None if self.q_per_seed is None else self.q_per_seed.mean(axis=0)

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """One row per finished training episode: seed, episode, step, return, length."""
        import pandas as pd

        a = self.history.arrays
        seeds = np.asarray(self.seeds)[a["episode_seed"]]
        order = np.lexsort((a["episode_step"], seeds))
        frame = pd.DataFrame(
            {
                "seed": seeds[order],
                "step": a["episode_step"][order],
                "return": a["episode_return"][order],
                "length": a["episode_length"][order],
            }
        )
        frame.insert(1, "episode", frame.groupby("seed").cumcount() + 1)
        return frame

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """One row per seed and evaluation: step, evaluation mean/std, and the training
        episodes, loss and epsilon since the previous evaluation."""
        import pandas as pd

        a = self.history.arrays
        rows = []
        n_iter = a["loss"].shape[1]
        per_iteration = int(a["eval_step"][-1]) // max(1, n_iter) if n_iter else 0
        iteration_end = (np.arange(n_iter) + 1) * per_iteration
        episodes = self.episodes
        for k, seed in enumerate(self.seeds):
            mine = episodes[episodes.seed == seed]
            previous = 0
            for j, step in enumerate(a["eval_step"]):
                lo, hi = np.searchsorted(iteration_end, [previous, step], side="right")
                window = mine[(mine.step > previous) & (mine.step <= step)]
                with np.errstate(all="ignore"):
                    rows.append(
                        {
                            "seed": seed,
                            "step": int(step),
                            "eval_mean": float(a["eval_return"][k, j].mean()),
                            "eval_std": float(a["eval_return"][k, j].std()),
                            "eval_length": float(a["eval_length"][k, j].mean()),
                            "start_value": float(a["eval_start_value"][k, j].mean()),
                            "train_return": float(window["return"].mean())
                            if len(window)
                            else np.nan,
                            "train_episodes": len(window),
                            "loss": _nanmean(a["loss"][k, lo:hi]),
                            "q_mean": _nanmean(a["q_mean"][k, lo:hi]),
                            "epsilon": float(a["epsilon"][k, hi - 1]) if hi > lo else np.nan,
                        }
                    )
                previous = step
        return pd.DataFrame(rows)


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, float)
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else float("nan")


class TrainingDiverged(QlearnError):
    """The loss or the parameters stopped being finite numbers."""


def check_finite(rec: ChunkRecord, params: Any, seeds: list[int], steps_before: int,
                 steps_per_iteration: int, cfg: DQNConfig) -> None:  # fmt: skip
    """Stop with a message that says when and what to change if the loss or the
    parameters of any seed stopped being finite numbers."""
    import jax

    bad = rec.trained[None, :] & ~np.isfinite(rec.loss)  # (N, I)
    for leaf in jax.tree_util.tree_leaves(params):
        flat = np.asarray(leaf).reshape(len(seeds), -1)
        bad[:, -1] |= ~np.isfinite(flat).all(axis=1)
    if not bad.any():
        return
    k, first = (int(x[0]) for x in np.nonzero(bad))
    step = steps_before + (first + 1) * steps_per_iteration
    raise TrainingDiverged(
        f"training diverged: seed {seeds[k]} has a non-finite loss or parameters by "
        f"environment step {min(step, rec.steps_done):,}; lower --lr (now {cfg.lr:g}), "
        f"clip gradients harder (--max-grad-norm, now {cfg.max_grad_norm:g}), use "
        "--loss huber, or scale rewards down"
    )


#: Called after every chunk with (environment steps done per seed, total, history).
Progress = Callable[[int, int, History], None]


def make_backend(cfg: DQNConfig, target: Target) -> Backend:
    """The trainer for ``cfg``: compiled for functional environments, else the host loop."""
    if target.backend == "compiled":
        from qlearn.deep.trainers import CompiledBackend

        return CompiledBackend(cfg, target)
    from qlearn.deep.host import HostBackend

    return HostBackend(cfg, target)


def finite_q(cfg: DQNConfig, target: Target, params: Any) -> np.ndarray | None:
    """(N, S, A): each seed's network evaluated on every one-hot state."""
    if target.mdp is None:
        return None
    import jax
    import jax.numpy as jnp

    mdp = target.mdp
    dqn = make_dqn(cfg, mdp.n_actions, "mlp", False, 1)
    states = jnp.eye(mdp.n_states, dtype=jnp.float32)
    q = jax.vmap(lambda p: dqn.q_values(p, states))(params)
    return np.where(mdp.legal, np.asarray(q, float), -np.inf)


def start_distributions(cfg: DQNConfig, target: Target, params: Any) -> list | None:
    """Each seed's learnt return distribution at the start, for a distributional head on
    a finite world: the greedy action's atoms and probabilities in every start state,
    mixed by the start distribution, as ``(values, probs)`` (C51: its support; QR-DQN:
    its quantiles, each of probability 1/N). None otherwise."""
    if target.mdp is None or cfg.distributional is None:
        return None
    import jax
    import jax.numpy as jnp

    mdp = target.mdp
    dqn = make_dqn(cfg, mdp.n_actions, "mlp", False, 1)
    starts = np.flatnonzero(mdp.start > 0)
    obs = jnp.eye(mdp.n_states, dtype=jnp.float32)[starts]
    out = np.asarray(jax.vmap(lambda p: dqn.outputs(p, obs))(params), float)  # (N, s, A, M)
    q = np.asarray(jax.vmap(lambda p: dqn.q_values(p, obs))(params), float)
    best = np.where(mdp.legal[starts], q, -np.inf).argmax(axis=-1)  # (N, s)
    found = []
    for k in range(out.shape[0]):
        chosen = out[k, np.arange(starts.size), best[k]]  # (s, M)
        if cfg.distributional == "c51":
            e = np.exp(chosen - chosen.max(axis=-1, keepdims=True))
            probs = e / e.sum(axis=-1, keepdims=True)
            values = np.broadcast_to(np.asarray(dqn.support, float), probs.shape)
        else:
            values, probs = chosen, np.full(chosen.shape, 1.0 / chosen.shape[-1])
        weight = mdp.start[starts][:, None]
        found.append((values.ravel(), (probs * weight).ravel()))
    return found


def run(
    cfg: DQNConfig,
    *,
    backend: Backend | None = None,
    state: Any = None,
    history: History | None = None,
    start_chunk: int = 0,
    on_chunk: Callable[[int, Any, History, ChunkRecord], None] | None = None,
    mdp: FiniteMDP | None = None,
    while_compiling: Callable[[], None] | None = None,
) -> DQNRun:
    """Train every seed of ``cfg`` to the end, from scratch or from a saved state.

    ``on_chunk(index, state, history, record)`` runs after every chunk (checkpoints,
    progress, Ctrl-C); numerical trouble stops the run with :class:`TrainingDiverged`
    before ``on_chunk`` sees the bad state. ``while_compiling()`` runs while the
    training program compiles in the background (XLA does not hold the GIL).
    """
    from qlearn.exact import solve

    target = resolve_target(cfg, mdp)
    backend = backend or make_backend(cfg, target)
    state = backend.fresh() if state is None else state
    history = history or History(cfg.seeds, cfg.eval_episodes)
    if while_compiling is not None:
        while_compiling()
    compile_seconds = backend.compile(state)
    train_seconds = 0.0
    seconds_before = float(history.arrays["eval_seconds"][-1]) if start_chunk else 0.0
    seeds = [cfg.seed + k for k in range(cfg.seeds)]
    steps_before = int(history.arrays["eval_step"][-1]) if len(history.arrays["eval_step"]) else 0
    for index in range(start_chunk, backend.chunks):
        began = time.perf_counter()
        state, rec = backend.run_chunk(state, index)
        train_seconds += time.perf_counter() - began
        params = backend.online_params(state)
        check_finite(rec, params, seeds, steps_before, backend.steps_per_iteration, cfg)
        history.add(rec, params, seconds_before + compile_seconds + train_seconds)
        steps_before = rec.steps_done
        if on_chunk is not None:
            on_chunk(index, state, history, rec)
    params = backend.online_params(state)
    solution = solve(target.mdp) if target.mdp is not None else None
    return DQNRun(
        config=cfg,
        target=target,
        history=history,
        params=params,
        env_steps=backend.env_steps,
        train_seconds=train_seconds,
        compile_seconds=compile_seconds,
        q_per_seed=finite_q(cfg, target, params),
        solution=solution,
    )


def train(env: Any = "CartPole-v1", **options: Any) -> DQNRun:
    """Train DQN in memory (no run folder) and return the run.

    ``env`` is an environment id (``"CartPole-v1"``, ``"ALE/Pong-v5"``), a qlearn world
    name, a :class:`~qlearn.envs.finite.FiniteEnv` or :class:`FiniteMDP` (one-hot
    observations), or None with ``map_file=...``. Options are the fields of
    :class:`DQNConfig`; those not given take the environment's tuned defaults.
    """
    from qlearn.envs.finite import FiniteEnv

    options = dict(options)
    options.setdefault("algo", "dqn")
    if "net" in options:
        options["net"] = list(options["net"])
    mdp = env.mdp if isinstance(env, FiniteEnv) else env if isinstance(env, FiniteMDP) else None
    if mdp is None:
        if env is not None and "map_file" not in options:
            options["world"] = env
        return run(resolve_config(options, "qlearn.train"))
    merged = merge_options(layered_options(mdp.name, "finite", options), {"world": mdp.name})
    cfg = config_from_mapping(DQNConfig, merged, "qlearn.train")
    return run(settled(cfg, mdp.with_gamma(cfg.gamma)), mdp=mdp)
