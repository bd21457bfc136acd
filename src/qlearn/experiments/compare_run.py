"""A comparison's run folder: what ran, the numbers, the figure and the report.

``config.yaml`` (kind: compare), ``summary.json`` (the object ``compare --json``
prints), ``curves.csv`` (per arm and episode: mean return, its SE, left share),
``tables.npz`` (per arm: returns, first actions and final tables of every seed),
``compare.png`` and ``report.html``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.core.errors import QlearnError
from qlearn.core.stats import standard_error
from qlearn.core.version import __version__
from qlearn.experiments.compare import Comparison, left_shares, optimal_left_share
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    dump_json,
    dump_yaml,
    load_npz,
    read_config,
    read_summary,
    read_table,
    reading,
    save_npz,
    write_run_dir,
)
from qlearn.viz.compare_figure import ComparisonPictures


def comparison_config(cmp: Comparison) -> dict[str, Any]:
    cfg = cmp.arms[0].run.config
    return {
        "kind": "compare",
        "world": cfg.world,
        "map_file": cfg.map_file,
        "arms": [
            {
                "label": a.label,
                "algo": a.run.config.algo,
                "alpha": a.run.config.alpha,
                "epsilon": a.run.config.epsilon,
            }
            for a in cmp.arms
        ],
        "episodes": cfg.episodes,
        "seeds": cfg.seeds,
        "seed": cfg.seed,
        "window": list(cmp.window),
        "gamma": cfg.gamma,
        "max_steps": cfg.max_steps,
        "step_reward": cfg.step_reward,
        "slip": cfg.slip,
        "qlearn_version": __version__,
    }


def comparison_pictures(cmp: Comparison) -> ComparisonPictures:
    return ComparisonPictures(
        mdp=cmp.mdp,
        returns={a.label: a.run.arrays.returns for a in cmp.arms},
        lengths={a.label: a.run.arrays.lengths for a in cmp.arms},
        q_per_seed={a.label: a.run.q_per_seed for a in cmp.arms},
        first_action={a.label: a.run.arrays.first_action for a in cmp.arms},
        window=cmp.window,
        optimal_left=optimal_left_share(cmp),
    )


def curves_table(cmp: Comparison) -> pd.DataFrame:
    """Per arm and episode: mean return over seeds, its SE, and the left share if any."""
    frames = []
    for arm in cmp.arms:
        returns = arm.run.arrays.returns
        frame = pd.DataFrame(
            {
                "arm": arm.label,
                "episode": np.arange(1, returns.shape[1] + 1),
                "mean return": returns.mean(axis=0),
                "SE": standard_error(returns, axis=0),
                "mean steps": arm.run.arrays.lengths.mean(axis=0),
            }
        )
        shares = left_shares(cmp.mdp, arm.run.arrays.first_action)
        if shares is not None:
            frame["left share"] = shares.mean(axis=0)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def comparison_png(pictures: ComparisonPictures) -> bytes:
    from qlearn.viz.compare_figure import comparison_figure
    from qlearn.viz.png import figure_png

    return figure_png(comparison_figure(pictures))


def comparison_rows(info: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The comparison table (as in the terminal): one row per arm."""
    lo, hi = info["window"]
    discounted = info["gamma"] < 1
    header = [
        "learner",
        f"mean reward/episode {lo}-{hi}",
        "SE",
        "mean steps/episode (SE)",
        "greedy return from start" + (" (discounted)" if discounted else ""),
        "never reaches a terminal",
        "greedy policy optimal",
    ]
    has_left = any("left_share" in a for a in info["algos"].values())
    if has_left:
        header.append(f"left share {lo}-{hi} (SE)")
    rows = []
    for label, arm in info["algos"].items():
        counts = arm["greedy_discounted_return_counts" if discounted else "greedy_return_counts"]
        dist = ", ".join(count_text(c) for c in counts[:4]) + (", ..." if len(counts) > 4 else "")
        n = len(arm["greedy_returns"])
        steps = f"{arm['window_steps_mean']:.4g} ({arm['window_steps_se']:.3g})"
        row = [
            label,
            arm["window_mean"],
            arm["window_se"],
            steps,
            dist,
            f"{arm['never_terminates']}/{n} ({arm['never_share']:.0%})",
            f"{arm['greedy_optimal']}/{n} ({arm['greedy_optimal_share']:.0%})",
        ]
        if has_left:
            row.append(f"{arm['left_share_window_mean']:.3f} ({arm['left_share_window_se']:.3f})")
        rows.append(row)
    return header, rows


def count_text(count: dict[str, Any]) -> str:
    """``-13 x100`` or ``never x8``."""
    value = "never" if count["return"] is None else f"{count['return']:.4g}"
    return f"{value} x{count['seeds']}"


def comparison_report(
    info: dict[str, Any], config: dict[str, Any], curves: pd.DataFrame, png: bytes
) -> str:
    from qlearn.viz import html

    header, rows = comparison_rows(info)
    names = ", ".join(info["algos"])
    return html.page(
        f"qlearn: compare {names} on {info['world']}",
        f"run folder {info.get('run_dir', '')}; {info['episodes']} episodes x {info['seeds']} "
        f"seeds (seed {info['seed']} on); qlearn {info['qlearn_version']}",
        [
            html.section("Headline numbers", html.table(header, rows, "headline")),
            html.figures_section("Figure", {"compare.png": png}, html.CAPTIONS),
            html.section("Configuration", html.key_values(config)),
            html.section("Per episode (over seeds)", html.frame_table(curves, 5000)),
        ],
    )


def fill_comparison_run(cmp: Comparison, folder: Path, info: dict[str, Any]) -> bytes:
    """Write a comparison's files into an existing (temporary) folder; returns the figure."""
    config = comparison_config(cmp)
    atomic_write_text(folder / "config.yaml", dump_yaml(config))
    atomic_write_text(folder / "summary.json", dump_json(info))
    curves = curves_table(cmp)
    curves.to_csv(folder / "curves.csv", index=False, float_format="%.10g")
    arrays: dict[str, np.ndarray] = {"labels": np.asarray([a.label for a in cmp.arms])}
    for i, arm in enumerate(cmp.arms):
        arrays[f"returns_{i}"] = arm.run.arrays.returns
        arrays[f"lengths_{i}"] = arm.run.arrays.lengths
        arrays[f"first_action_{i}"] = arm.run.arrays.first_action
        arrays[f"q_{i}"] = arm.run.q_per_seed
    save_npz(folder / "tables.npz", arrays)
    png = comparison_png(comparison_pictures(cmp))
    atomic_write_bytes(folder / "compare.png", png)
    atomic_write_text(folder / "report.html", comparison_report(info, config, curves, png))
    return png


def write_comparison_run(cmp: Comparison, out: Path, info: dict[str, Any]) -> Path:
    """Write the comparison's run folder atomically and return its path."""
    return write_run_dir(out, lambda tmp: fill_comparison_run(cmp, tmp, info))


def load_comparison(run_dir: Path) -> tuple[ComparisonPictures, dict, dict, pd.DataFrame]:
    """Pictures, summary, config and curves of a saved comparison folder (no training)."""
    from qlearn.envs.registry import load_world

    run_dir = Path(run_dir)
    config = read_config(run_dir)
    if config.get("kind") != "compare":
        raise QlearnError(f"{run_dir} is not a compare run folder")
    with reading(run_dir / "config.yaml", "rerun the comparison to draw it"):
        mdp = load_world(
            config["world"] if not config.get("map_file") else None,
            map_file=config.get("map_file"),
            gamma=config.get("gamma"),
            step_reward=config.get("step_reward"),
            slip=config.get("slip"),
        )
    use = "rerun the comparison to draw it"
    tables = load_npz(run_dir / "tables.npz", ("labels",), use=use)
    info = read_summary(run_dir)
    curves = read_table(run_dir / "curves.csv", ("episode", "mean return"), use=use)
    with reading(run_dir / "tables.npz", use):
        labels = [str(x) for x in tables["labels"]]
        pictures = ComparisonPictures(
            mdp=mdp,
            returns={k: tables[f"returns_{i}"] for i, k in enumerate(labels)},
            lengths={k: tables[f"lengths_{i}"] for i, k in enumerate(labels)},
            q_per_seed={k: tables[f"q_{i}"] for i, k in enumerate(labels)},
            first_action={k: tables[f"first_action_{i}"] for i, k in enumerate(labels)},
            window=tuple(config["window"]),
            optimal_left=info.get("optimal_left_share"),
        )
        rows = sum(r.shape[1] for r in pictures.returns.values())
    if len(curves) != rows:
        raise QlearnError(
            f"curves.csv is truncated or damaged: it has {len(curves)} rows, tables.npz has "
            f"{rows} episodes over its arms ({run_dir / 'curves.csv'})"
        )
    return pictures, info, config, curves
