"""``qlearn text compare``: every method on the same logged walks and seeds, timed, and
(with ``--out``) written as a folder: ``summary.json``, ``compare.png``, ``report.html``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from qlearn.configs.text_config import TextConfig
from qlearn.runs.folder import atomic_write_text, dump_json, write_figures, write_run_dir
from qlearn.runs.text_results import figures, read_walks, report_html
from qlearn.text.pipeline import (
    TextComparison,
    check_methods,
    evaluate_run,
    logged_walks,
    task_of,
    train_run,
)


def text_compare(cfg: TextConfig, methods: tuple[str, ...], data: str | Path | None = None,
                 progress=None) -> tuple[TextComparison, dict[str, Any]]:  # fmt: skip
    """Train what ``methods`` need and evaluate them all; returns the comparison and its
    summary (the issue's JSON object plus the full records, the timings, the check of
    best-of-n's success against ``1 - (1 - p)^n`` and its KL bound)."""
    from qlearn.text.text_metrics import best_of_n_bound

    methods = check_methods(methods)
    task = task_of(cfg)
    walks = read_walks(data, task) if data else logged_walks(cfg, task)
    started = time.perf_counter()
    run = train_run(cfg, task, walks, methods, progress=progress)
    trained = time.perf_counter()
    comparison = evaluate_run(run, methods)
    finished = time.perf_counter()
    checks = []
    for r in comparison.records:
        if r["method"] != "best-of-n":
            continue
        n = int(r["setting"].split(",")[0].split("=")[1])
        entry = {"setting": r["setting"], "kl": r["kl"], "kl_bound": best_of_n_bound(n)}
        if r["predicted_success"] is not None:
            lo, hi = r["success_ci"]
            entry.update(predicted_success=r["predicted_success"], success_ci=[lo, hi])
        checks.append(entry)
    info = {
        **comparison.to_json(),
        "records": comparison.records,
        "best_of_n_checks": checks,
        "task_info": task.describe(),
        "logged": {
            "walks": int(len(walks.rewards)),
            "mean_optimality": float(walks.rewards.mean()),
            "success_rate": float((walks.rewards > 0).mean()),
        },
        "seeds": cfg.seeds,
        "train_seconds": round(trained - started, 3),
        "eval_seconds": round(finished - trained, 3),
    }
    return comparison, info


def write_compare(comparison: TextComparison, info: dict[str, Any], out: Path,
                  plot: bool = True) -> Path:  # fmt: skip
    """The comparison as a new folder (created atomically)."""

    def fill(folder: Path) -> None:
        pngs = figures(comparison, {})
        pngs.pop("loss.png", None)
        write_figures(folder, pngs, plot)
        atomic_write_text(folder / "report.html", report_html({**info, "run_dir": str(out)}, pngs))
        atomic_write_text(folder / "summary.json", dump_json({**info, "run_dir": str(out)}))

    return write_run_dir(Path(out), fill)
