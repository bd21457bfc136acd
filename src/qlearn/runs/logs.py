"""Logged data on disk: log files (CSV or Parquet), behaviour policies read from saved
runs, and the run folder of learning from a log (:mod:`qlearn.tabular.offline` learns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.exact import Solution, greedy_ties, policy_return, solve, tie_policy
from qlearn.mdp import FiniteMDP
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    config_record,
    dump_json,
    dump_yaml,
    learned_table,
    new_run_dir,
    save_npz,
    table_arrays,
    write_run_dir,
)
from qlearn.tabular.offline import OfflineRun


def behaviour_policy(mdp: FiniteMDP, spec: str, solution: Solution | None = None) -> np.ndarray:
    """(S, A) action probabilities named by ``spec``.

    ``random`` (uniform over legal actions), ``optimal`` (uniform over optimal actions),
    ``epsilon:E`` (epsilon-greedy around the optimal policy), ``greedy-from:RUN`` and
    ``epsilon:E:RUN`` (greedy, or epsilon-greedy, on the mean table of a saved run).
    """
    legal = mdp.legal.astype(float)
    uniform_legal = legal / legal.sum(axis=1, keepdims=True)
    parts = spec.split(":", 2)
    kind = parts[0]
    if kind == "random" and len(parts) == 1:
        return uniform_legal
    if kind == "optimal" and len(parts) == 1:
        return _greedy(solve(mdp).q if solution is None else solution.q, mdp)
    if kind == "greedy-from" and len(parts) >= 2:
        return _greedy(learned_table(spec.split(":", 1)[1], mdp), mdp)
    if kind == "epsilon" and len(parts) >= 2:
        try:
            eps = float(parts[1])
        except ValueError:
            eps = -1.0
        if not 0 <= eps <= 1:
            raise QlearnError(f"--policy {spec!r}: epsilon must be in [0, 1], e.g. epsilon:0.2")
        q = learned_table(parts[2], mdp) if len(parts) == 3 else solve(mdp).q
        return (1 - eps) * _greedy(q, mdp) + eps * uniform_legal
    raise QlearnError(
        f"unknown --policy {spec!r}; use random, optimal, epsilon:E, greedy-from:RUN "
        "or epsilon:E:RUN"
    )


def _greedy(q: np.ndarray, mdp: FiniteMDP) -> np.ndarray:
    pol = tie_policy(q, mdp.legal)
    pol[mdp.terminal] = mdp.legal[mdp.terminal] / mdp.legal[mdp.terminal].sum(1, keepdims=True)
    return pol


def check_log_path(path: str | Path) -> Path:
    """``path`` as a Path, refused unless it names a CSV or Parquet file: callers check
    before rolling anything out, so a bad name costs no work."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise QlearnError(f"--out {str(path)!r}: use a .csv or .parquet file name")
    return path


def write_log(log: pd.DataFrame, path: str | Path) -> Path:
    """Write a log as CSV or Parquet (by extension), atomically."""
    path = check_log_path(path)
    if path.suffix.lower() == ".csv":
        data = log.to_csv(index=False, float_format="%.17g").encode()
    else:
        import io

        buf = io.BytesIO()
        log.to_parquet(buf, index=False)
        data = buf.getvalue()
    atomic_write_bytes(path, data)
    return path


def read_log(path: str | Path) -> pd.DataFrame:
    """A log file (CSV or Parquet) as a table of text and numbers."""
    path = Path(path)
    if not path.is_file():
        raise QlearnError(f"log file {str(path)!r} not found; check the path")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file to the user
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise QlearnError(f"cannot read log {str(path)!r}: {first}") from None


def offline_summary(run: OfflineRun, log_path: str) -> dict[str, Any]:
    """The ``--json`` object of learning from a log (same ``q``/``v``/``policy`` layout)."""
    from qlearn.textview import json_number, policy_dict, q_dict, v_dict

    mdp = run.mdp
    ret = policy_return(mdp, tie_policy(run.q, mdp.legal), run.solution.gamma)
    v = np.where(mdp.legal, run.q, -np.inf).max(axis=1)
    return {
        "world": mdp.name,
        "algo": run.algo,
        "from_log": log_path,
        "transitions": run.transitions,
        "passes": run.passes,
        "gamma": run.solution.gamma,
        "q": q_dict(mdp, run.q),
        "v": v_dict(mdp, v),
        "policy": policy_dict(mdp, greedy_ties(run.q, mdp.legal, atol=0.0)),
        "final_gap": json_number(run.gaps[-1]),
        "gap_per_pass": [json_number(g) for g in run.gaps],
        "optimal_share": run.optimal_share,
        "greedy_return": None if ret.undiscounted is None else json_number(ret.undiscounted),
        "greedy_discounted_return": None if ret.discounted is None else json_number(ret.discounted),
        "v_star_start": json_number(float(mdp.start @ run.solution.v)),
        "train_seconds": round(run.train_seconds, 6),
    }


def offline_report(run: OfflineRun, info: dict[str, Any], config: dict[str, Any],
                   pngs: dict[str, bytes]) -> str:  # fmt: skip
    """report.html of learning from a log: headline, learned values, gap per pass."""
    from qlearn.textview import policy_grid, q_rows, value_grid
    from qlearn.viz import html

    mdp = run.mdp
    ties = greedy_ties(run.q, mdp.legal, atol=0.0)
    header, rows = q_rows(mdp, run.q, ties)
    v = np.where(mdp.legal, run.q, -np.inf).max(axis=1)
    headline = {k: info[k] for k in ("world", "algo", "from_log", "transitions", "passes",
                                      "final_gap", "optimal_share", "greedy_return")}  # fmt: skip
    per_pass = pd.DataFrame({"pass": np.arange(1, run.passes + 1), "max |Q - Q*|": run.gaps})
    grids = value_grid(mdp, v) + "\n\n" + policy_grid(mdp, ties) if mdp.layout else ""
    return html.page(
        f"qlearn: {run.algo} on {mdp.name} from a log",
        f"run folder {info.get('run_dir', '')}",
        [
            html.section("Headline numbers", html.key_values(headline, "headline")),
            html.section("Learned values and greedy actions", html.pre(grids)),
            html.figures_section("Figures", pngs, html.CAPTIONS),
            html.section("Learned Q (* = greedy)", html.table(header, rows)),
            html.section("Gap to Q* after each pass", html.frame_table(per_pass)),
            html.section("Configuration", html.key_values(config)),
        ],
    )


def write_offline_run(run: OfflineRun, out: Path, info: dict[str, Any],
                      config: dict[str, Any]) -> Path:  # fmt: skip
    """Write the run folder of learning from a log, atomically."""
    from qlearn.viz.png import figure_png
    from qlearn.viz.run_figures import finite_table, solution_figures

    def fill(folder: Path) -> None:
        cfg = config_record("offline", config)
        atomic_write_text(folder / "config.yaml", dump_yaml(cfg))
        per_pass = pd.DataFrame({"pass": np.arange(1, run.passes + 1), "gap": run.gaps})
        atomic_write_text(folder / "metrics.csv", per_pass.to_csv(index=False))
        save_npz(folder / "tables.npz", table_arrays(run.q[None], run.mdp, run.solution))
        figures = solution_figures(run.mdp, finite_table(run.q))
        pngs = {name: figure_png(fig) for name, fig in figures.items()}
        atomic_write_text(folder / "report.html", offline_report(run, info, cfg, pngs))
        atomic_write_text(folder / "summary.json", dump_json(info))

    return write_run_dir(out, fill)


def learn_from_log_file(cfg: TabularConfig, log_path: Path, passes: int, out: Path,
                        new_folder: bool = False) -> tuple[OfflineRun, dict[str, Any]]:  # fmt: skip
    """``qlearn train --from-log``: read and check the log against ``cfg``'s world, learn
    from it alone, and write the run folder at ``out`` (with ``new_folder``: a new folder
    under ``out``). Returns the run and its summary."""
    from qlearn.tabular.offline import check_log, learn_from_log
    from qlearn.tabular.train import world_of

    mdp = world_of(cfg)
    log = check_log(read_log(log_path), mdp, source=str(log_path))
    run = learn_from_log(mdp, log, algo=cfg.algo, alpha=cfg.alpha, passes=passes,
                         q_init=cfg.q_init, seed=cfg.seed)  # fmt: skip
    target = new_run_dir(out, f"{mdp.name}-{cfg.algo}-offline") if new_folder else out
    info = {**offline_summary(run, str(log_path)), "run_dir": str(target)}
    config = {"world": cfg.world, "map_file": cfg.map_file, "algo": cfg.algo, "alpha": cfg.alpha,
              "gamma": cfg.gamma, "q_init": cfg.q_init, "seed": cfg.seed, "passes": passes,
              "from_log": str(log_path)}  # fmt: skip
    write_offline_run(run, target, info, config)
    return run, info
