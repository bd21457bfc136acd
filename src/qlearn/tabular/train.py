"""Train tabular learners: config in, a :class:`TabularRun` (tables and metrics) out."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.core.schedules import EXPLORATIONS_ALLOWED
from qlearn.envs.finite import FiniteEnv
from qlearn.envs.kernels import World, world_arrays
from qlearn.envs.registry import load_world
from qlearn.exact import PolicyReturn, Solution, evaluate_policy, policy_return, solve
from qlearn.judge import greedy_returns
from qlearn.mdp import FiniteMDP
from qlearn.tabular.loop import (
    RunArrays,
    Settings,
    advance,
    fresh_arrays,
)
from qlearn.tabular.rules import ALGO_CODES


@dataclass(frozen=True)
class TabularRun:
    """The result of training: per-seed tables, per-episode metrics, and the exact answer.

    ``q`` is the mean table over seeds; ``q_per_seed`` keeps each seed's table
    (for double Q-learning, the average of its two tables).
    """

    config: TabularConfig
    mdp: FiniteMDP
    solution: Solution
    arrays: RunArrays
    train_seconds: float
    compile_seconds: float = 0.0

    @property
    def gamma(self) -> float:
        return self.solution.gamma

    @cached_property
    def q_per_seed(self) -> np.ndarray:
        if self.config.algo == "double-q":
            return (self.arrays.q + self.arrays.q2) / 2
        return self.arrays.q

    @property
    def q(self) -> np.ndarray:
        """(S, A) mean table over seeds."""
        return self.q_per_seed.mean(axis=0)

    @property
    def v(self) -> np.ndarray:
        """(S,) state values: TD(0)'s estimate, or max_a Q for the control algorithms."""
        if self.config.algo == "td0":
            return self.arrays.v.mean(axis=0)
        return np.where(self.mdp.legal, self.q, -np.inf).max(axis=1)

    @property
    def policy(self) -> np.ndarray:
        """(S,) greedy action of the mean table (lowest index among ties)."""
        return np.argmax(np.where(self.mdp.legal, self.q, -np.inf), axis=1)

    @cached_property
    def v_reference(self) -> np.ndarray:
        """What TD(0) should converge to (V of the evaluated policy); V* otherwise."""
        if self.config.algo == "td0":
            return evaluate_policy(
                self.mdp, fixed_policy(self.mdp, self.config, self.solution), self.gamma
            )
        return self.solution.v

    @cached_property
    def greedy_returns(self) -> list[PolicyReturn]:
        """Per seed: exact return of acting greedily on the learned table from the start."""
        if self.config.algo == "td0":
            pol = fixed_policy(self.mdp, self.config, self.solution)
            return [policy_return(self.mdp, pol, self.gamma)] * self.config.seeds
        return greedy_returns(self.mdp, self.q_per_seed, self.gamma)

    @property
    def env_steps(self) -> int:
        return int(self.arrays.steps.sum())

    @property
    def seeds(self) -> list[int]:
        return [self.config.seed + k for k in range(self.config.seeds)]

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """One row per (seed, episode): return, length, gap to the exact values, ..."""
        a = self.arrays
        n, e = a.returns.shape
        return pd.DataFrame(
            {
                "seed": np.repeat(self.seeds, e),
                "episode": np.tile(np.arange(1, e + 1), n),
                "return": a.returns.ravel(),
                "length": a.lengths.ravel(),
                "gap": a.gaps.ravel(),
                "optimal_share": a.shares.ravel(),
                "epsilon"
                if self.config.explore == "epsilon-greedy"
                else "temperature": a.explore_value.ravel(),
                "first_action": a.first_action.ravel(),
            }
        )

    @property
    def curve(self) -> np.ndarray:
        """(E,) mean return per episode over seeds."""
        return self.arrays.returns.mean(axis=0)

    def snapshot(self, episode: int) -> np.ndarray:
        """(N, S, A) the tables right after ``episode`` (must be in config.snapshots)."""
        order = sorted(set(self.config.snapshots))
        return self.arrays.snapshots[:, order.index(episode)]


def fixed_policy(mdp: FiniteMDP, cfg: TabularConfig, solution: Solution) -> np.ndarray:
    """(S, A) probabilities of the policy TD(0) evaluates."""
    if cfg.policy == "optimal":
        opt = solution.policy.astype(float)
        return opt / opt.sum(axis=1, keepdims=True)
    legal = mdp.legal.astype(float)
    return legal / legal.sum(axis=1, keepdims=True)


def world_of(cfg: TabularConfig) -> FiniteMDP:
    """The MDP a config names, with its gamma and grid overrides applied."""
    return load_world(
        cfg.world if cfg.map_file is None else None,
        map_file=cfg.map_file,
        gamma=cfg.gamma,
        step_reward=cfg.step_reward,
        slip=cfg.slip,
    )


class Prepared(NamedTuple):
    """A config made concrete: its world, the exact answer, and the loop's inputs."""

    config: TabularConfig
    mdp: FiniteMDP
    solution: Solution
    world: World
    settings: Settings


def prepare(cfg: TabularConfig, mdp: FiniteMDP | None = None) -> Prepared:
    """Load the world a config names (or use ``mdp``), solve it, and build the loop's inputs."""
    mdp = world_of(cfg) if mdp is None else mdp.with_gamma(cfg.gamma)
    solution = solve(mdp)
    lr = cfg.learning_rate
    pol = fixed_policy(mdp, cfg, solution)
    v_ref = evaluate_policy(mdp, pol, solution.gamma) if cfg.algo == "td0" else solution.v
    settings = Settings(
        algo=ALGO_CODES[cfg.algo],
        explore=EXPLORATIONS_ALLOWED.index(cfg.explore),
        eps_spec=cfg.epsilon_schedule().as_array(),
        temp_spec=cfg.temperature_schedule().as_array(),
        alpha=float(lr.alpha),
        omega=-1.0 if lr.omega is None else float(lr.omega),
        gamma=float(solution.gamma),
        max_steps=int(cfg.max_steps or mdp.max_steps),
        snapshot_at=np.array(sorted(set(cfg.snapshots)), dtype=np.int64),
        q_ref=np.nan_to_num(solution.q, neginf=0.0),
        opt=solution.policy,
        v_ref=np.nan_to_num(v_ref),
        policy=pol,
        lam=cfg.trace_lambda,
        replacing=cfg.replacing_traces,
    )
    return Prepared(cfg, mdp, solution, world_arrays(mdp), settings)


def fresh_runs(prep: Prepared) -> RunArrays:
    """Untrained runs for every seed of the config (run k uses seed ``seed + k``)."""
    cfg, mdp = prep.config, prep.mdp
    seeds = np.arange(cfg.seed, cfg.seed + cfg.seeds, dtype=np.int64)
    n_snap = len(prep.settings.snapshot_at)
    return fresh_arrays(seeds, mdp.n_states, mdp.n_actions, cfg.episodes, n_snap, cfg.q_init)


def check_layout(saved: RunArrays, cfg: TabularConfig) -> RunArrays:
    """``saved`` (from a checkpoint) if every array has the shape and type a fresh run of
    ``cfg`` has: the compiled loop trusts them, so saved runs of another config are
    refused before it sees them."""
    fresh = fresh_runs(prepare(cfg))
    for name, want in fresh._asdict().items():
        got = np.asarray(getattr(saved, name))
        if got.shape != want.shape or got.dtype != want.dtype:
            raise QlearnError(
                f"the checkpoint does not match this config: {name} is {got.dtype}{got.shape}, "
                f"expected {want.dtype}{want.shape}"
            )
    return saved


#: Called after every chunk of episodes with (episodes done, the runs so far).
ChunkCallback = Callable[[int, RunArrays], None]


def run_config(
    cfg: TabularConfig,
    mdp: FiniteMDP | None = None,
    *,
    runs: RunArrays | None = None,
    start: int = 0,
    stops: Iterable[int] | None = None,
    on_chunk: ChunkCallback | None = None,
) -> TabularRun:
    """Train every seed of ``cfg`` at once, pausing after each episode count in ``stops``.

    ``runs`` and ``start`` continue runs saved after ``start`` episodes. The numbers are
    the same however the episodes are cut into chunks.
    """
    prep = prepare(cfg, mdp)
    runs = fresh_runs(prep) if runs is None else runs
    # A call with no episodes loads (or compiles) the loop, so train_seconds is training.
    started = time.perf_counter()
    advance(prep.world, prep.settings, runs, start, start)
    compile_seconds = time.perf_counter() - started
    train_seconds = 0.0
    for stop in sorted({*(stops or ()), cfg.episodes}):
        if stop <= start:
            continue
        stop = min(stop, cfg.episodes)
        began = time.perf_counter()
        advance(prep.world, prep.settings, runs, start, stop)
        train_seconds += time.perf_counter() - began
        start = stop
        if on_chunk is not None:
            on_chunk(stop, runs)
    return TabularRun(cfg, prep.mdp, prep.solution, runs, train_seconds, compile_seconds)


def train(
    env: FiniteEnv | FiniteMDP | str | None = None,
    *,
    algo: str = "q-learning",
    alpha: float | str = 0.5,
    epsilon: float | str = "1:0.05",
    **options,
) -> TabularRun:
    """Train a tabular learner and return its tables and metrics.

    ``env`` is a world name, a :class:`FiniteEnv` from :func:`qlearn.make`, or a
    :class:`FiniteMDP`. Other options are the fields of :class:`TabularConfig`
    (``episodes``, ``seeds``, ``seed``, ``gamma``, ``q_init``, ...).
    """
    mdp = None
    world = options.pop("world", None)
    if isinstance(env, FiniteEnv):
        mdp = env.mdp
    elif isinstance(env, FiniteMDP):
        mdp = env
    elif isinstance(env, str):
        world = env
    known = {f.name for f in dataclasses.fields(TabularConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise QlearnError(
            f"unknown option {unknown[0]!r} for tabular training; known: {', '.join(sorted(known))}"
        )
    if "snapshots" in options:
        options["snapshots"] = tuple(options["snapshots"])
    name = mdp.name if mdp is not None else world
    cfg = TabularConfig(world=name, algo=algo, alpha=str(alpha), epsilon=str(epsilon), **options)
    return run_config(cfg, mdp)
