"""What a DQN run reports: the headline summary (``--json``) and its run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.core.version import __version__
from qlearn.deep.flat import flatten
from qlearn.deep.train import DQNRun
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    config_record,
    csv_bytes,
    save_npz,
    table_arrays,
    write_figures,
)
from qlearn.textview import json_number, q_dict, table_dicts


def reward_threshold(world: str | None) -> float | None:
    """The return at which Gymnasium calls an environment solved (CartPole-v1: 475)."""
    import gymnasium as gym

    try:
        spec = gym.spec(str(world))
    except Exception:  # not a Gymnasium id (a qlearn world, MinAtar)
        return None
    return spec.reward_threshold


def variant_name(cfg) -> str:
    """``dqn``, or e.g. ``double dueling 3-step PER dqn``, ``noisy c51 dqn``, ``pqn``."""
    if cfg.algo == "pqn":
        return "pqn"
    parts = [name for name, on in (("double", cfg.double), ("dueling", cfg.dueling)) if on]
    if cfg.n_step > 1:
        parts.append(f"{cfg.n_step}-step")
        if cfg.n_step_correction != "none":
            parts.append(f"{cfg.n_step_correction}({cfg.lam:g})")
    if cfg.per:
        parts.append("PER")
    parts += [name for name, on in (("noisy", cfg.noisy), ("munchausen", cfg.munchausen)) if on]
    if cfg.distributional:
        parts.append({"c51": f"c51({cfg.atoms})", "qr": f"qr({cfg.quantiles})"}[cfg.distributional])
    return " ".join([*parts, "dqn"])


#: Steps of the exact return distribution: training bootstraps through time limits, so
#: the learnt distribution is the whole episode's; mass still walking after this many
#: steps (far below 1e-9 on the built-in worlds' greedy policies) is counted at its return.
DISTRIBUTION_HORIZON = 1000


def start_distribution_pairs(run: DQNRun) -> list | None:
    """For a distributional head on a finite world, per seed: the learnt return
    distribution at the start and the exact one of that seed's own greedy policy, as
    (learnt, exact) :class:`~qlearn.returns.ReturnDistribution` pairs. None otherwise."""
    from qlearn.deep.train import start_distributions
    from qlearn.returns import merged, return_distribution

    learned = start_distributions(run.config, run.target, run.params)
    if learned is None:
        return None
    mdp = run.target.mdp
    pairs = []
    for q, (values, probs) in zip(run.q_per_seed, learned, strict=True):
        policy = np.where(mdp.legal, q, -np.inf).argmax(axis=1)
        exact = return_distribution(
            mdp, policy, gamma=run.config.discount, max_steps=DISTRIBUTION_HORIZON
        )
        pairs.append((merged(values, probs), exact))
    return pairs


def distribution_report(pairs: list) -> dict[str, Any]:
    """The distances of each seed's (learnt, exact) start distributions (W1, Cramer) and
    their means; the atoms themselves go to ``distribution.npz``, not the summary."""
    from qlearn.returns import cramer
    from qlearn.returns import wasserstein_1 as w1

    per_seed = [
        {
            "w1": json_number(w1(mine, exact)),
            "cramer": json_number(cramer(mine, exact)),
            "learned_mean": json_number(mine.mean),
            "exact_mean": json_number(exact.mean),
            "exact": exact.exact,
            "learned_atoms": int(mine.values.size),
            "exact_atoms": int(exact.values.size),
        }
        for mine, exact in pairs
    ]
    return {"horizon": DISTRIBUTION_HORIZON, "atoms_file": "distribution.npz", "per_seed": per_seed}


def distribution_arrays(seeds: list[int], pairs: list) -> dict[str, np.ndarray]:
    """distribution.npz: per seed, the learnt and the exact start distribution's atoms
    (``learned_values_K``, ``learned_probs_K``, ``exact_values_K``, ``exact_probs_K``)."""
    arrays = {}
    for seed, (mine, exact) in zip(seeds, pairs, strict=True):
        for name, dist in (("learned", mine), ("exact", exact)):
            arrays[f"{name}_values_{seed}"] = dist.values
            arrays[f"{name}_probs_{seed}"] = dist.probs
    return arrays


def distribution_png(run: DQNRun, pairs: list, report: dict[str, Any]) -> bytes:
    """distribution.png: the first seed's exact CDF and every seed's learnt one."""
    from qlearn.viz.distribution_figure import distribution_figure
    from qlearn.viz.png import figure_png

    exact = (pairs[0][1].values, pairs[0][1].probs)
    learned = {
        f"seed {seed} (W1 {p['w1']:.3g})": (mine.values, mine.probs)
        for seed, p, (mine, _) in zip(run.seeds, report["per_seed"], pairs, strict=True)
    }
    title = f"{variant_name(run.config)} on {run.target.name}: return from the start"
    note = "exact: seed " + str(run.seeds[0]) + "'s greedy policy"
    return figure_png(distribution_figure(exact, learned, title, note))


def finite_report(run: DQNRun) -> dict[str, Any]:
    """On a finite world: the learned Q (mean over seeds) against the exact Q*."""
    from qlearn.judge import judge

    mdp, sol = run.target.mdp, run.solution
    per_seed = []
    for q in run.q_per_seed:
        verdict = judge(mdp, sol, q)
        ret = verdict.greedy
        per_seed.append(
            {
                "gap": json_number(verdict.gap),
                "optimal_share": json_number(verdict.optimal_share),
                "greedy_return": None
                if ret.undiscounted is None
                else json_number(ret.undiscounted),
                "q": q_dict(mdp, q),
            }
        )
    q = run.q
    return {
        **table_dicts(mdp, q),
        "q_star": q_dict(mdp, sol.q),
        "v_star_start": json_number(float(mdp.start @ sol.v)),
        "per_seed_finite": per_seed,
    }


def summary(run: DQNRun) -> dict[str, Any]:
    """The headline numbers of a run: the object ``qlearn train --algo dqn --json`` prints."""
    cfg = run.config
    final = run.final_eval  # (N, M)
    threshold = reward_threshold(cfg.world) if run.target.mdp is None else None
    per_seed = []
    for k, seed in enumerate(run.seeds):
        means = run.eval_returns[k].mean(axis=1)
        entry = {
            "seed": seed,
            "eval_mean": json_number(float(final[k].mean())),
            "eval_std": json_number(float(final[k].std())),
            "start_value": json_number(float(run.start_values[k, -1])),
            "best_eval_mean": json_number(float(run.best_eval[0][k])),
            "best_step": int(run.best_eval[1][k]),
            "env_steps": run.env_steps,
        }
        if threshold is not None:
            solved = np.flatnonzero(means >= threshold)
            entry["first_solved_step"] = int(run.eval_steps[solved[0]]) if solved.size else None
        per_seed.append(entry)
    out: dict[str, Any] = {
        "kind": "dqn",
        "world": run.target.name,
        "algo": cfg.algo,
        "variant": variant_name(cfg),
        "backend": run.target.backend,
        "gamma": cfg.discount,
        "steps": cfg.steps,
        "seeds": cfg.seeds,
        "seed": cfg.seed,
        "eval_episodes": cfg.eval_episodes,
        "eval_epsilon": cfg.eval_epsilon,
        "eval_mean": json_number(float(final.mean())),
        "eval_steps": [int(s) for s in run.eval_steps],
        "eval_seconds": [round(float(t), 3) for t in run.history.arrays["eval_seconds"]],
        "curve": [json_number(float(x)) for x in run.curve],
        "start_value_curve": [json_number(float(x)) for x in run.start_values.mean(axis=0)],
        "per_seed": per_seed,
    }
    if threshold is not None:
        out["reward_threshold"] = threshold
        out["solved_seeds"] = int(sum(final.mean(axis=1) >= threshold))
    if run.target.mdp is not None:
        finite = finite_report(run)
        for k, entry in enumerate(finite.pop("per_seed_finite")):
            per_seed[k].update(entry)
        out.update(finite)
        pairs = start_distribution_pairs(run)
        if pairs is not None:
            dist = distribution_report(pairs)
            for k, entry in enumerate(dist["per_seed"]):
                per_seed[k].update({f"start_{key}": entry[key] for key in ("w1", "cramer")})
            out["start_distribution"] = dist
    out.update(
        {
            "env_steps": run.env_steps * cfg.seeds,
            "train_seconds": round(run.train_seconds, 6),
            "compile_seconds": round(run.compile_seconds, 6),
            "steps_per_second": round(run.env_steps * cfg.seeds / max(run.train_seconds, 1e-9)),
            "qlearn_version": __version__,
        }
    )
    return out


def evaluations(run: DQNRun) -> pd.DataFrame:
    """One row per evaluation episode: seed, step, episode, return, length."""
    ret, length = run.eval_returns, run.history.arrays["eval_length"]
    n, k, m = ret.shape
    return pd.DataFrame(
        {
            "seed": np.repeat(run.seeds, k * m),
            "step": np.tile(np.repeat(run.eval_steps, m), n),
            "episode": np.tile(np.arange(1, m + 1), n * k),
            "return": ret.ravel(),
            "length": length.ravel(),
        }
    )


def tensorboard_series(run: DQNRun) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Curves (mean over seeds) against environment steps, for TensorBoard."""
    a = run.history.arrays
    n_iter = a["loss"].shape[1]
    per_iteration = run.env_steps // max(1, n_iter)
    it_steps = (np.arange(n_iter) + 1) * per_iteration
    loss = np.where(a["trained"][None], a["loss"], np.nan)
    series = {
        "eval/return": (run.eval_steps, run.curve),
        "train/loss": (it_steps, column_nanmean(loss)),
        "train/q_mean": (it_steps, column_nanmean(a["q_mean"])),
        "train/epsilon": (it_steps, a["epsilon"].mean(axis=0)),
        "train/learning_rate": (it_steps, learning_rates(run, n_iter)),
    }
    episodes = run.episodes.sort_values("step")
    if len(episodes):
        grouped = episodes.groupby("step")
        series["episode/return"] = (
            grouped.size().index.to_numpy(),
            grouped["return"].mean().to_numpy(),
        )
        series["episode/length"] = (
            grouped.size().index.to_numpy(),
            grouped["length"].mean().to_numpy(),
        )
    return series


def column_nanmean(x: np.ndarray) -> np.ndarray:
    """Mean over seeds (rows) of the finite entries of each column; NaN where none."""
    finite = np.isfinite(x)
    counts = finite.sum(axis=0)
    sums = np.where(finite, x, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def learning_rates(run: DQNRun, n_iter: int) -> np.ndarray:
    """The learning rate in force at each iteration (constant, or decaying linearly)."""
    cfg = run.config
    if cfg.lr_end is None:
        return np.full(n_iter, cfg.lr)
    a = run.history.arrays
    updates = np.cumsum(a["trained"]) * cfg.gradient_steps
    total = max(1, int(updates[-1])) if n_iter else 1
    frac = np.clip(updates / total, 0, 1)
    return cfg.lr + frac * (cfg.lr_end - cfg.lr)


@dataclass(frozen=True)
class DQNPictures:
    """What a DQN run's figures are drawn from (from a fresh run or its saved files)."""

    label: str
    world: str
    eval_steps: np.ndarray  # (K,)
    eval_means: np.ndarray  # (N, K) mean return of each evaluation, per seed
    eval_episodes: int
    eval_epsilon: float
    threshold: float | None
    mdp: Any = None
    q: np.ndarray | None = None  # (S, A) the network's table, mean over seeds
    q_star: np.ndarray | None = None


def pictures_of(run: DQNRun) -> DQNPictures:
    cfg = run.config
    mdp = run.target.mdp
    return DQNPictures(
        label=variant_name(cfg),
        world=run.target.name,
        eval_steps=run.eval_steps,
        eval_means=run.eval_returns.mean(axis=2),
        eval_episodes=cfg.eval_episodes,
        eval_epsilon=cfg.eval_epsilon,
        threshold=reward_threshold(cfg.world) if mdp is None else None,
        mdp=mdp,
        q=None if mdp is None else np.where(mdp.legal, run.q, -np.inf),
        q_star=None if mdp is None else run.solution.q,
    )


def load_pictures(run_dir: Path) -> DQNPictures:
    """The pictures of a saved DQN run folder, from its files alone (nothing trains)."""
    from qlearn.deep.train import resolve_target
    from qlearn.runs.folder import load_npz, read_table, reading, saved_config

    run_dir = Path(run_dir)
    cfg = saved_config(run_dir, "dqn")
    evals = read_table(run_dir / "evals.csv", ("seed", "step", "return"))
    groups = evals.groupby(["seed", "step"])["return"]
    means = groups.mean().unstack("step")
    whole = (groups.size() == cfg.eval_episodes).all() and not means.isna().to_numpy().any()
    if not whole or len(means) != cfg.seeds:
        where = run_dir / "evals.csv"
        raise QlearnError(f"evals.csv is truncated or damaged: evaluations are missing ({where})")
    target = resolve_target(cfg)
    q = q_star = None
    if target.mdp is not None:
        path = run_dir / "tables.npz"
        tables = load_npz(path, ("q", "q_star"), use="rerun the training to draw this run")
        with reading(path):
            shape = (target.mdp.n_states, target.mdp.n_actions)
            if tables["q"].shape[1:] != shape or tables["q_star"].shape != shape:
                raise QlearnError(f"{path.name} is damaged: its tables do not fit {target.name}")
            q = np.where(target.mdp.legal, tables["q"].mean(axis=0), -np.inf)
            q_star = tables["q_star"]
    return DQNPictures(
        label=variant_name(cfg),
        world=target.name,
        eval_steps=means.columns.to_numpy(),
        eval_means=means.to_numpy(),
        eval_episodes=cfg.eval_episodes,
        eval_epsilon=cfg.eval_epsilon,
        threshold=reward_threshold(cfg.world) if target.mdp is None else None,
        mdp=target.mdp,
        q=q,
        q_star=q_star,
    )


def render_figures(p: DQNPictures) -> dict[str, bytes]:
    """The run's figures as PNG bytes: the evaluation curve, and on finite worlds the
    network's values next to the exact ones."""
    from qlearn.viz.curves import eval_curve_figure
    from qlearn.viz.png import figure_png

    how = "greedy" if p.eval_epsilon == 0 else f"epsilon {p.eval_epsilon:g}"
    title = f"{p.label} on {p.world}: {p.eval_episodes} evaluation episodes ({how})"
    curve = eval_curve_figure(p.eval_steps, {p.label: p.eval_means}, title, p.threshold)
    pngs = {"curve.png": figure_png(curve)}
    if p.mdp is not None and p.mdp.layout is not None:
        from qlearn.viz.grid_figures import q_figure, value_figure

        tables = {"learned (DQN)": p.q, "Q*": p.q_star}
        pngs["values.png"] = figure_png(value_figure(p.mdp, tables))
        pngs["q_values.png"] = figure_png(q_figure(p.mdp, {"learned (DQN)": p.q}))
    return pngs


def figures(run: DQNRun) -> dict[str, bytes]:
    return render_figures(pictures_of(run))


CAPTIONS = {
    "curve.png": "Greedy evaluation return at each evaluation: mean over seeds with a 95% "
    "band (mean +- 1.96 SE); the dashed line is the return Gymnasium calls solved.",
    "values.png": "Brightness = value of the best action (max over the network's outputs); "
    "arrows = greedy actions; the network next to the exact answer.",
    "q_values.png": "The network's Q value of each door, in its triangle; bold = greedy.",
    "distribution.png": "CDF of the discounted return from the start: the network's "
    "distribution for its greedy action, per seed, and the exact one of the first seed's greedy "
    "policy; the area between two curves is their Wasserstein-1 distance.",
}


def headline(info: dict[str, Any]) -> dict[str, Any]:
    out = {
        "environment": info["world"],
        "algorithm": info["variant"],
        "backend": info["backend"],
        "steps x seeds": f"{info['steps']} x {info['seeds']}",
        "final evaluation return (mean over seeds)": info["eval_mean"],
    }
    if "solved_seeds" in info:
        out[f"seeds solved (>= {info['reward_threshold']:g})"] = (
            f"{info['solved_seeds']}/{info['seeds']}"
        )
    if "q" in info:
        out["max |Q - Q*| per seed"] = ", ".join(f"{p['gap']:.3g}" for p in info["per_seed"])
        out["V*(start)"] = info["v_star_start"]
    if "start_distribution" in info:
        out["W1 learnt vs exact return distribution at the start, per seed"] = ", ".join(
            f"{p['start_w1']:.3g}" for p in info["per_seed"]
        )
        out["Cramer distance, per seed"] = ", ".join(
            f"{p['start_cramer']:.3g}" for p in info["per_seed"]
        )
    out["environment steps (all seeds)"] = info["env_steps"]
    out["training seconds"] = info["train_seconds"]
    out["compile seconds"] = info["compile_seconds"]
    return out


def dqn_report(info: dict[str, Any], config: dict[str, Any], metrics: pd.DataFrame,
               pngs: dict[str, bytes]) -> str:  # fmt: skip
    """report.html: headline numbers, figures, configuration, per-evaluation table."""
    from qlearn.viz import html

    per_eval = metrics.groupby("step", as_index=False)[
        ["eval_mean", "eval_std", "train_return", "train_episodes", "loss", "q_mean", "epsilon"]
    ].mean()
    return html.page(
        f"qlearn: {info['variant']} on {info['world']}",
        f"run folder {info.get('run_dir', '')}; qlearn {info['qlearn_version']}",
        [
            html.section("Headline numbers", html.key_values(headline(info), "headline")),
            html.figures_section("Figures", pngs, CAPTIONS),
            html.section("Configuration", html.key_values(config)),
            html.section("Per evaluation (mean over seeds)", html.frame_table(per_eval)),
        ],
    )


def params_arrays(run: DQNRun, best: bool = False) -> dict[str, np.ndarray]:
    """The final (or best-evaluated) online parameters of every seed (leading axis:
    seed), by leaf path."""
    params = run.best_params if best else run.params
    return {**flatten(params, prefix="online/"), "seeds": np.asarray(run.seeds)}


def import_writers() -> None:
    """Import what :func:`write_dqn_results` loads on first use (matplotlib and the
    figure code, tensorboardX without torch), ahead of time: a DQN job calls it while
    its training program compiles, so the run folder is written as soon as training ends."""
    import qlearn.viz.curves  # noqa: F401  (matplotlib and the figure code)
    import qlearn.viz.grid_figures  # noqa: F401
    from qlearn.runs.tensorboard import summary_writer_class

    summary_writer_class()


def write_results(run: DQNRun, folder: Path, info: dict[str, Any],
                  plot: bool = False) -> dict[str, bytes]:  # fmt: skip
    """Write a finished run's tables, parameters, TensorBoard events, figures (PNG files
    with ``plot``) and report.html into ``folder``; the caller writes summary.json last."""
    from qlearn.runs.tensorboard import write_scalars_at

    folder = Path(folder)
    atomic_write_bytes(folder / "metrics.csv", csv_bytes(run.metrics))
    atomic_write_bytes(folder / "episodes.csv", csv_bytes(run.episodes))
    atomic_write_bytes(folder / "evals.csv", csv_bytes(evaluations(run)))
    save_npz(folder / "params.npz", params_arrays(run))
    save_npz(folder / "best.npz", params_arrays(run, best=True))
    if run.q_per_seed is not None:
        arrays = table_arrays(run.q_per_seed, run.target.mdp, run.solution, run.seeds)
        save_npz(folder / "tables.npz", arrays)
    write_scalars_at(folder, tensorboard_series(run))
    pngs = figures(run)
    write_figures(folder, pngs, plot)
    pairs = start_distribution_pairs(run) if "start_distribution" in info else None
    if pairs is not None:
        save_npz(folder / "distribution.npz", distribution_arrays(run.seeds, pairs))
        distribution = {
            "distribution.png": distribution_png(run, pairs, info["start_distribution"])
        }
        write_figures(folder, distribution)  # always: the picture the distances measure
        pngs.update(distribution)
    config = config_record("dqn", run.config.to_dict())
    atomic_write_text(folder / "report.html", dqn_report(info, config, run.metrics, pngs))
    return pngs
