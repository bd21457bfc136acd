"""What a tabular run reports: the headline summary and its run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import qlearn
from qlearn.experiment.runs import atomic_write_text, save_npz
from qlearn.experiment.tensorboard import write_scalars
from qlearn.mdp import greedy_ties
from qlearn.tabular.train import TabularRun
from qlearn.textview import _number, policy_dict, q_dict, v_dict


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
            "final_gap": _number(a.gaps[k, -1]),
            "optimal_share": _number(a.shares[k, -1]),
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
        out["q"] = q_dict(mdp, run.q)
        out["v"] = v_dict(mdp, run.v)
        out["policy"] = policy_dict(mdp, greedy_ties(run.q, mdp.legal, atol=0.0))
    out.update(
        {
            "final_gap_mean": _number(a.gaps[:, -1].mean()),
            "optimal_share_mean": _number(a.shares[:, -1].mean()),
            "v_star_start": _number(float(mdp.start @ run.solution.v)),
            "per_seed": per_seed,
            "curve": [_number(x) for x in run.curve],
            "env_steps": run.env_steps,
            "train_seconds": round(run.train_seconds, 6),
            "qlearn_version": qlearn.__version__,
        }
    )
    return out


def _maybe(x: float | None) -> float | None:
    return None if x is None else _number(x)


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


def write_tabular_results(run: TabularRun, run_dir: Path) -> None:
    """Write a finished run's metrics, tables and TensorBoard events into ``run_dir``.

    Every file is written atomically; the caller writes ``summary.json`` last.
    """
    mdp = run.mdp
    csv = run.metrics.to_csv(index=False, float_format="%.10g")
    atomic_write_text(run_dir / "metrics.csv", csv)
    arrays = {
        "q": run.q_per_seed,
        "q_star": run.solution.q,
        "v_star": run.solution.v,
        "seeds": np.asarray(run.seeds),
        "state_names": np.asarray(mdp.state_names),
        "action_names": np.asarray(mdp.action_names),
    }
    if run.config.algo == "td0":
        arrays["v"] = run.arrays.v
        arrays["v_true"] = run.v_reference
    for i, ep in enumerate(sorted(set(run.config.snapshots))):
        arrays[f"snapshot_{ep}"] = run.arrays.snapshots[:, i]
    save_npz(run_dir / "tables.npz", arrays)
    write_scalars(run_dir, tensorboard_series(run))
