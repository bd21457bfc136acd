"""What a tabular run reports: the headline summary and its run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.core.version import __version__
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    config_record,
    csv_bytes,
    load_npz,
    read_config,
    read_table,
    reading,
    save_npz,
    table_arrays,
    write_figures,
)
from qlearn.runs.tensorboard import write_scalars
from qlearn.tabular.train import TabularRun
from qlearn.textview import json_number, q_dict, table_dicts, v_dict
from qlearn.viz.run_figures import RunPictures


def summary(run: TabularRun) -> dict[str, Any]:
    """The headline numbers of a run: the object ``qlearn train --json`` prints."""
    cfg, mdp, a = run.config, run.mdp, run.arrays
    per_seed = []
    for k, seed in enumerate(run.seeds):
        ret = run.greedy_returns[k]
        entry: dict[str, Any] = {
            "seed": seed,
            "greedy_return": _maybe(ret.undiscounted),
            "greedy_discounted_return": _maybe(ret.discounted),
            "final_gap": json_number(a.gaps[k, -1]),
            "optimal_share": json_number(a.shares[k, -1]),
            "env_steps": int(a.steps[k]),
        }
        if cfg.algo == "td0":
            entry["v"] = v_dict(mdp, a.v[k])
        else:
            entry["q"] = q_dict(mdp, run.q_per_seed[k])
        per_seed.append(entry)
    out: dict[str, Any] = {
        "world": mdp.name,
        "algo": cfg.algo,
        "gamma": run.gamma,
        "episodes": cfg.episodes,
        "seeds": cfg.seeds,
        "seed": cfg.seed,
    }
    if cfg.algo == "td0":
        out["v"] = v_dict(mdp, run.v)
        out["v_true"] = v_dict(mdp, run.v_reference)
    else:
        out.update(table_dicts(mdp, run.q))
    out.update(
        {
            "final_gap_mean": json_number(a.gaps[:, -1].mean()),
            "optimal_share_mean": json_number(a.shares[:, -1].mean()),
            "v_star_start": json_number(float(mdp.start @ run.solution.v)),
            "per_seed": per_seed,
            "curve": [json_number(x) for x in run.curve],
            "env_steps": run.env_steps,
            "train_seconds": round(run.train_seconds, 6),
            "qlearn_version": __version__,
        }
    )
    return out


def _maybe(x: float | None) -> float | None:
    return None if x is None else json_number(x)


def per_episode(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per episode, over seeds: mean return and its SE, length, gap, optimal share."""
    grouped = metrics.groupby("episode")
    n = grouped["return"].count()
    table = pd.DataFrame(
        {
            "episode": grouped["return"].mean().index,
            "mean return": grouped["return"].mean().to_numpy(),
            "SE": (grouped["return"].std(ddof=1) / np.sqrt(n)).to_numpy(),
            "mean length": grouped["length"].mean().to_numpy(),
            "mean gap": grouped["gap"].mean().to_numpy(),
            "optimal share": grouped["optimal_share"].mean().to_numpy(),
            "epsilon": grouped["epsilon"].mean().to_numpy(),
        }
    )
    return table


def pictures_of(run: TabularRun) -> RunPictures:
    """What the figures of a freshly trained run are drawn from."""
    a = run.arrays
    td0 = run.config.algo == "td0"
    n_a = run.mdp.n_actions
    return RunPictures(
        mdp=run.mdp,
        algo=run.config.algo,
        seeds=run.seeds,
        q_per_seed=np.repeat(a.v[:, :, None], n_a, axis=2) if td0 else run.q_per_seed,
        q_star=np.repeat(run.v_reference[:, None], n_a, axis=1) if td0 else run.solution.q,
        snapshots={ep: run.snapshot(ep) for ep in sorted(set(run.config.snapshots))},
        returns=a.returns,
        gaps=a.gaps,
        first_action=a.first_action,
    )


def load_pictures(run_dir: Path) -> RunPictures:
    """What the figures of a saved tabular run folder are drawn from (no training)."""
    from qlearn.configs.fields import config_from_mapping
    from qlearn.configs.tabular_config import TabularConfig
    from qlearn.tabular.train import world_of

    run_dir = Path(run_dir)
    raw = read_config(run_dir)
    if raw.get("kind") != "tabular":
        raise QlearnError(f"{run_dir} is a {raw.get('kind', 'unknown')!r} run, not a tabular one")
    cfg = config_from_mapping(TabularConfig, raw, f"{run_dir}/config.yaml")
    mdp = world_of(cfg)
    td0 = cfg.algo == "td0"
    snaps = sorted(set(cfg.snapshots))
    needed = ("seeds", *(("v", "v_true") if td0 else ("q", "q_star")))
    tables = load_npz(run_dir / "tables.npz", (*needed, *(f"snapshot_{ep}" for ep in snaps)))
    metrics = read_metrics(run_dir)
    with reading(run_dir / "tables.npz"):
        seeds = [int(s) for s in tables["seeds"]]
    _check_rows(metrics, len(seeds), cfg.episodes, run_dir / "metrics.csv")
    by_seed = metrics.sort_values(["seed", "episode"])

    def column(name: str) -> np.ndarray:
        return by_seed[name].to_numpy().reshape(len(seeds), cfg.episodes)

    n_a = mdp.n_actions
    with reading(run_dir / "tables.npz", "or it does not fit config.yaml"):
        pictures = RunPictures(
            mdp=mdp,
            algo=cfg.algo,
            seeds=seeds,
            q_per_seed=np.repeat(tables["v"][:, :, None], n_a, axis=2) if td0 else tables["q"],
            q_star=np.repeat(tables["v_true"][:, None], n_a, axis=1) if td0 else tables["q_star"],
            snapshots={ep: tables[f"snapshot_{ep}"] for ep in snaps},
            returns=column("return"),
            gaps=column("gap"),
            first_action=column("first_action"),
        )
        _check_tables(pictures, mdp, run_dir / "tables.npz")
    return pictures


#: The columns of a tabular run's metrics.csv that its figures and report read.
METRIC_COLUMNS = ("seed", "episode", "return", "length", "gap", "optimal_share", "epsilon")


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """A tabular run folder's ``metrics.csv``, checked (:func:`qlearn.runs.folder.read_table`)."""
    use = "rerun the training to draw this run"
    return read_table(Path(run_dir) / "metrics.csv", METRIC_COLUMNS, use)


def _check_rows(metrics: pd.DataFrame, seeds: int, episodes: int, path: Path) -> None:
    """One row per seed and episode: a truncated file has fewer."""
    counts = metrics.groupby("seed").size()
    if len(metrics) != seeds * episodes or len(counts) != seeds or (counts != episodes).any():
        raise QlearnError(
            f"{path.name} is truncated or damaged: it has {len(metrics)} rows, config.yaml "
            f"expects {seeds} seeds x {episodes} episodes = {seeds * episodes} ({path})"
        )


def _check_tables(p: RunPictures, mdp: Any, path: Path) -> None:
    """The tables have one (S, A) table per seed of this world."""
    shape = (mdp.n_states, mdp.n_actions)
    if p.q_per_seed.shape != (len(p.seeds), *shape) or p.q_star.shape != shape:
        raise QlearnError(
            f"{path.name} does not fit config.yaml: its tables have shape "
            f"{p.q_per_seed.shape}, expected {(len(p.seeds), *shape)}; one of them is damaged "
            f"({path})"
        )


def render_figures(pictures: RunPictures) -> dict[str, bytes]:
    """Every figure of a run as PNG bytes, by file name."""
    from qlearn.viz.png import figure_png
    from qlearn.viz.run_figures import run_figures

    return {name: figure_png(fig) for name, fig in run_figures(pictures).items()}


def headline(info: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader looks at first, from the run's summary."""
    returns = [p["greedy_return"] for p in info["per_seed"]]
    finite = [r for r in returns if r is not None]
    out: dict[str, Any] = {
        "world": info["world"],
        "algorithm": info["algo"],
        "episodes x seeds": f"{info['episodes']} x {info['seeds']}",
        "gamma": info["gamma"],
        "final max |Q - Q*| (mean over seeds)": info["final_gap_mean"],
    }
    if info["algo"] != "td0":
        out["states acted optimally (mean share)"] = info["optimal_share_mean"]
        out["greedy return from the start (mean)"] = sum(finite) / len(finite) if finite else None
        out["seeds whose greedy policy never ends"] = f"{len(returns) - len(finite)}/{len(returns)}"
        out["V*(start)"] = info["v_star_start"]
    out["environment steps"] = info["env_steps"]
    out["training seconds"] = info["train_seconds"]
    return out


def tabular_report(
    info: dict[str, Any], config: dict[str, Any], metrics: pd.DataFrame, pngs: dict[str, bytes]
) -> str:
    """The run's report.html: config, headline numbers, figures, per-episode table."""
    from qlearn.viz import html

    title = f"qlearn: {info['algo']} on {info['world']}"
    return html.page(
        title,
        f"run folder {info.get('run_dir', '')}; qlearn {info['qlearn_version']}",
        [
            html.section("Headline numbers", html.key_values(headline(info), "headline")),
            html.figures_section("Figures", pngs, html.CAPTIONS),
            html.section("Configuration", html.key_values(config)),
            html.section("Per episode (over seeds)", html.frame_table(per_episode(metrics))),
        ],
    )


def tensorboard_series(run: TabularRun) -> dict[str, np.ndarray]:
    """Per-episode curves (mean over seeds) for TensorBoard."""
    a = run.arrays
    series = {
        "episode/return": a.returns.mean(axis=0),
        "episode/length": a.lengths.mean(axis=0),
        "episode/gap_to_exact": a.gaps.mean(axis=0),
        "episode/optimal_share": a.shares.mean(axis=0),
        f"episode/{'epsilon' if run.config.explore == 'epsilon-greedy' else 'temperature'}": (
            a.explore_value.mean(axis=0)
        ),
    }
    if run.config.learning_rate.omega is None:
        series["episode/alpha"] = np.full(run.config.episodes, run.config.learning_rate.alpha)
    return series


def _config(run: TabularRun) -> dict[str, Any]:
    return config_record("tabular", run.config.to_dict())


def write_results(
    run: TabularRun, folder: Path, info: dict[str, Any], plot: bool = False
) -> dict[str, bytes]:
    """Write a finished run's metrics, tables, TensorBoard events, figures (PNG files when
    ``plot``) and ``report.html`` into ``folder``; returns the figures.

    Every file is written atomically; the caller writes ``summary.json`` last.
    """
    folder = Path(folder)
    atomic_write_bytes(folder / "metrics.csv", csv_bytes(run.metrics))
    arrays = table_arrays(run.q_per_seed, run.mdp, run.solution, run.seeds)
    if run.config.algo == "td0":
        arrays["v"] = run.arrays.v
        arrays["v_true"] = run.v_reference
    for i, ep in enumerate(sorted(set(run.config.snapshots))):
        arrays[f"snapshot_{ep}"] = run.arrays.snapshots[:, i]
    save_npz(folder / "tables.npz", arrays)
    write_scalars(folder, tensorboard_series(run))
    pngs = render_figures(pictures_of(run))
    write_figures(folder, pngs, plot)
    report = tabular_report(info, _config(run), run.metrics, pngs)
    atomic_write_text(folder / "report.html", report)
    return pngs
