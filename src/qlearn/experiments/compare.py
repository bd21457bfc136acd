"""Compare learners on the same world and the same seeds, with honest statistics.

Each *arm* is one configuration (an algorithm, possibly with its own alpha or epsilon);
every arm trains the same seeds. Per arm we report the mean reward per episode over a
window of episodes with its standard error across seeds, the exact return of each
seed's greedy policy (``None`` where it never reaches a terminal: reported, not
hidden), and on worlds with a ``left`` action at the start (maxbias) the share of seeds
choosing it in each episode.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from qlearn.configs.tabular_config import TABULAR_ALGOS, TRACE_ALGOS, TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.core.stats import mean_se, window_means
from qlearn.core.version import __version__
from qlearn.judge import start_optimal
from qlearn.mdp import FiniteMDP
from qlearn.tabular.train import TabularRun, run_config, world_of
from qlearn.textview import json_number


@dataclass(frozen=True)
class Arm:
    """One configuration in a comparison and its run over all seeds."""

    label: str
    run: TabularRun


@dataclass(frozen=True)
class Comparison:
    """Several arms trained on the same world and seeds."""

    mdp: FiniteMDP
    arms: tuple[Arm, ...]
    window: tuple[int, int]  # episodes averaged, 1-based and inclusive

    @property
    def episodes(self) -> int:
        return self.arms[0].run.config.episodes

    @property
    def seeds(self) -> list[int]:
        return self.arms[0].run.seeds


def split_list(value: str | float | list | tuple, name: str) -> list[str]:
    """``"a,b"`` (or a list) as a list of non-empty strings."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    items = [str(x).strip() for x in items if str(x).strip()]
    if not items:
        raise QlearnError(f"--{name} is empty; give one value or several separated by commas")
    if len(set(items)) != len(items):
        raise QlearnError(f"--{name} lists a value twice: {','.join(items)}")
    return items


def parse_window(text: str | tuple[int, int] | None, episodes: int) -> tuple[int, int]:
    """``"FROM:TO"`` (1-based, inclusive) checked against the run; default: the second half."""
    if text is None:
        return (episodes // 2 + 1, episodes)
    if isinstance(text, tuple):
        lo, hi = text
    else:
        parts = str(text).split(":")
        try:
            lo, hi = (int(p) for p in parts)
        except ValueError:
            raise QlearnError(
                f"cannot read --window {text!r}; write FROM:TO in episodes, e.g. 251:500"
            ) from None
    if not 1 <= lo <= hi <= episodes:
        raise QlearnError(
            f"--window {lo}:{hi} must satisfy 1 <= FROM <= TO <= {episodes} (the episodes run)"
        )
    return (lo, hi)


def _label(algo: str, alpha: str, epsilon: str, vary_alpha: bool, vary_eps: bool) -> str:
    parts = [algo]
    if vary_alpha:
        parts.append(f"alpha={alpha}")
    if vary_eps:
        parts.append(f"epsilon={epsilon}")
    return " ".join(parts)


def compare(
    world: str | FiniteMDP | None = "cliff",
    *,
    algos: str | list[str] = "q-learning,sarsa",
    episodes: int = 500,
    seeds: int = 100,
    seed: int = 0,
    alpha: str | float | list = "0.5",
    epsilon: str | float | list = "0.1",
    window: str | tuple[int, int] | None = None,
    gamma: float | None = None,
    map_file: str | None = None,
    max_steps: int | None = None,
    step_reward: float | None = None,
    slip: str | None = None,
    lam: float | None = None,
    traces: str | None = None,
) -> Comparison:
    """Train every combination of ``algos`` x ``alpha`` x ``epsilon`` on the same seeds.

    Each of ``algos``, ``alpha`` and ``epsilon`` is one value or a comma-separated list;
    ``window`` is ``"FROM:TO"`` (default: the second half of the episodes). ``lam`` and
    ``traces`` apply to the learners with eligibility traces (q-lambda, sarsa-lambda).
    """
    algo_list = split_list(algos, "algos")
    for algo in algo_list:
        if algo not in TABULAR_ALGOS or algo == "td0":
            raise QlearnError(
                f"cannot compare {algo!r}; choose control algorithms among "
                f"{', '.join(a for a in TABULAR_ALGOS if a != 'td0')}"
            )
    trace_options = {k: v for k, v in (("lam", lam), ("traces", traces)) if v is not None}
    if trace_options and not set(algo_list) & set(TRACE_ALGOS):
        flag = "--lambda" if lam is not None else "--traces"
        raise QlearnError(
            f"{flag} applies to learners with eligibility traces ({', '.join(TRACE_ALGOS)}); "
            "none of --algos has them"
        )
    alphas, epsilons = split_list(alpha, "alpha"), split_list(epsilon, "epsilon")
    combos = list(itertools.product(algo_list, alphas, epsilons))
    if len(combos) < 2:
        raise QlearnError("a comparison needs two arms or more, e.g. --algos q-learning,sarsa")
    base = TabularConfig(
        world=None if map_file or isinstance(world, FiniteMDP) else world,
        map_file=map_file,
        episodes=episodes,
        seeds=seeds,
        seed=seed,
        gamma=gamma,
        max_steps=max_steps,
        step_reward=step_reward,
        slip=slip,
    )
    if isinstance(world, FiniteMDP):
        mdp = world.with_gamma(gamma)
        base = base.replace(world=mdp.name)
    else:
        mdp = world_of(base)
    win = parse_window(window, episodes)
    arms = []
    for algo, a, e in combos:
        cfg = base.replace(algo=algo, alpha=a, epsilon=e)
        if algo in TRACE_ALGOS:
            cfg = cfg.replace(**trace_options)
        label = _label(algo, a, e, len(alphas) > 1, len(epsilons) > 1)
        arms.append(Arm(label, run_config(cfg, mdp)))
    return Comparison(mdp, tuple(arms), win)


# --- statistics --------------------------------------------------------------------


def optimal_left_share(cmp: Comparison) -> float | None:
    """The share of left an optimal epsilon-greedy learner shows in A: it picks left only
    when exploring, epsilon / (actions in A). Defined when every arm explores with the same
    constant epsilon on a world with a left action at the start."""
    if left_shares(cmp.mdp, np.zeros((1, 1), dtype=np.int64)) is None:
        return None
    epsilons = {a.run.config.epsilon_schedule() for a in cmp.arms}
    if len(epsilons) != 1:
        return None
    schedule = epsilons.pop()
    if schedule.kind != "constant":
        return None
    start = int(np.argmax(cmp.mdp.start))
    return schedule.start / int(cmp.mdp.legal[start].sum())


def left_shares(mdp: FiniteMDP, first_action: np.ndarray) -> np.ndarray | None:
    """(N, E) whether each seed chose ``left`` at the start in each episode (maxbias)."""
    from qlearn.viz.run_figures import left_action

    left = left_action(mdp)
    return None if left is None else first_action == left


def return_counts(returns: list[float | None]) -> list[dict[str, Any]]:
    """How many seeds got each greedy return (``None``: never reaches a terminal),
    most common first."""
    counts: dict[float | None, int] = {}
    for r in returns:
        key = None if r is None else round(r, 9)
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or 0.0))
    return [{"return": k, "seeds": n} for k, n in ranked]


def arm_summary(arm: Arm, mdp: FiniteMDP, window: tuple[int, int]) -> dict[str, Any]:
    """The numbers of one arm, ready for JSON."""
    run = arm.run
    per_seed = window_means(run.arrays.returns, window)
    stats = mean_se(per_seed)
    steps = mean_se(window_means(run.arrays.lengths, window))
    greedy = [
        None if r.undiscounted is None else json_number(r.undiscounted) for r in run.greedy_returns
    ]
    discounted = [
        None if r.discounted is None else json_number(r.discounted) for r in run.greedy_returns
    ]
    never = sum(r is None for r in greedy)
    optimal = [start_optimal(mdp, run.solution, r) for r in run.greedy_returns]
    optimal_share = mean_se(np.array(optimal, dtype=float))
    out: dict[str, Any] = {
        "label": arm.label,
        "algo": run.config.algo,
        "alpha": run.config.alpha,
        "epsilon": run.config.epsilon,
        "lambda": run.config.trace_lambda if run.config.traced else None,
        "curve": [json_number(x) for x in run.curve],
        "window_mean": json_number(stats.mean),
        "window_se": json_number(stats.se),
        "window_steps_mean": json_number(steps.mean),
        "window_steps_se": json_number(steps.se),
        "greedy_returns": greedy,
        "greedy_discounted_returns": discounted,
        "greedy_return_counts": return_counts(greedy),
        "greedy_discounted_return_counts": return_counts(discounted),
        "never_terminates": never,
        "never_share": never / len(greedy),
        "greedy_optimal": int(sum(optimal)),
        "greedy_optimal_share": json_number(optimal_share.mean),
        "greedy_optimal_share_se": json_number(optimal_share.se),
        "final_gap_mean": json_number(run.arrays.gaps[:, -1].mean()),
    }
    shares = left_shares(mdp, run.arrays.first_action)
    if shares is not None:
        in_window = mean_se(window_means(shares, window))
        out["left_share"] = [json_number(x) for x in shares.mean(axis=0)]
        out["left_share_window_mean"] = json_number(in_window.mean)
        out["left_share_window_se"] = json_number(in_window.se)
    if mdp.layout is not None:
        from qlearn.viz.grid_figures import common_paths

        out["greedy_paths"] = [
            {"cells": [mdp.state_names[s] for s in path], "ends": ends, "seeds": count}
            for path, ends, count in common_paths(mdp, run.q_per_seed)
        ]
    return out


def comparison_summary(cmp: Comparison) -> dict[str, Any]:
    """The object ``qlearn compare --json`` prints: shared settings, then per-arm numbers
    under ``"algos"`` keyed by arm label."""

    return {
        "world": cmp.mdp.name,
        "gamma": cmp.arms[0].run.gamma,
        "episodes": cmp.episodes,
        "seeds": len(cmp.seeds),
        "seed": cmp.seeds[0],
        "window": list(cmp.window),
        "v_star_start": json_number(float(cmp.mdp.start @ cmp.arms[0].run.solution.v)),
        "optimal_left_share": optimal_left_share(cmp),
        "algos": {arm.label: arm_summary(arm, cmp.mdp, cmp.window) for arm in cmp.arms},
        "qlearn_version": __version__,
    }


def difference(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """Difference of two arms' window means and its standard error sqrt(se_a^2 + se_b^2).

    The arms use the same seed numbers, but their random streams part at the first
    step where they act differently, so their results are treated as independent.
    """
    return a["window_mean"] - b["window_mean"], float(np.hypot(a["window_se"], b["window_se"]))
