"""Train tabular learners: config in, a :class:`TabularRun` (tables and metrics) out."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from qlearn.envs.finite import FiniteEnv
from qlearn.envs.registry import load_world
from qlearn.errors import QlearnError
from qlearn.experiment.config import TabularConfig
from qlearn.explore import EXPLORATIONS_ALLOWED
from qlearn.mdp import (
    FiniteMDP,
    PolicyReturn,
    Solution,
    evaluate_policy,
    policy_return,
    solve,
    tie_policy,
)
from qlearn.tabular.loop import (
    ALGOS,
    RunArrays,
    empty_arrays,
    outcomes,
    run_one,
    run_parallel,
)


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
        return [
            policy_return(self.mdp, tie_policy(q, self.mdp.legal), self.gamma)
            for q in self.q_per_seed
        ]

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


def _loop_args(cfg: TabularConfig, mdp: FiniteMDP, solution: Solution, episodes: int) -> tuple:
    """The compiled loop's arguments after the seed, in its order."""
    lr = cfg.learning_rate
    pol = fixed_policy(mdp, cfg, solution)
    v_ref = evaluate_policy(mdp, pol, solution.gamma) if cfg.algo == "td0" else solution.v
    return (
        ALGOS.index(cfg.algo),
        EXPLORATIONS_ALLOWED.index(cfg.explore),
        cfg.epsilon_schedule().as_array(),
        cfg.temperature_schedule().as_array(),
        lr.alpha,
        -1.0 if lr.omega is None else lr.omega,
        float(cfg.q_init),
        *outcomes(mdp),
        mdp.terminal,
        mdp.legal,
        float(solution.gamma),
        episodes,
        cfg.max_steps or mdp.max_steps,
        np.nan_to_num(solution.q, neginf=0.0),
        solution.policy,
        np.nan_to_num(v_ref),
        pol,
        np.array(sorted(set(cfg.snapshots)), dtype=np.int64),
    )


def _run(seeds: np.ndarray, args: tuple, arrays: RunArrays) -> None:
    if seeds.size == 1:
        # One run goes faster outside the parallel wrapper.
        arrays.steps[0] = run_one(seeds[0], *args, *(x[0] for x in arrays[:-1]))
    else:
        run_parallel(seeds, *args, *arrays)


def run_config(
    cfg: TabularConfig, mdp: FiniteMDP | None = None, trace_steps: int = 0
) -> TabularRun:
    """Train every seed of ``cfg`` in one compiled call.

    ``trace_steps`` > 0 keeps each seed's first transitions in ``arrays.trace`` (see
    :data:`qlearn.tabular.loop.TRACE_FIELDS`), which ``qlearn explain`` narrates.
    """
    mdp = world_of(cfg) if mdp is None else mdp.with_gamma(cfg.gamma)
    solution = solve(mdp)
    seeds = np.arange(cfg.seed, cfg.seed + cfg.seeds, dtype=np.int64)
    n_snap = len(set(cfg.snapshots))
    # A zero-episode call loads (or compiles) the loop, so that train_seconds is training.
    started = time.perf_counter()
    _run(
        seeds,
        _loop_args(cfg, mdp, solution, 0),
        empty_arrays(cfg.seeds, mdp.n_states, mdp.n_actions, 0, n_snap),
    )
    compiled = time.perf_counter()
    arrays = empty_arrays(cfg.seeds, mdp.n_states, mdp.n_actions, cfg.episodes, n_snap, trace_steps)
    _run(seeds, _loop_args(cfg, mdp, solution, cfg.episodes), arrays)
    done = time.perf_counter()
    return TabularRun(cfg, mdp, solution, arrays, done - compiled, compiled - started)


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
