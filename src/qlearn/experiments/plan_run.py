"""The run folder of ``qlearn plan``: config.yaml, summary.json, results.csv (one row per
planner and budget), per_state.csv (each start state's mean regret), plan.png and
report.html, written atomically as one folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from qlearn.experiments.plan import PlanResult, run_label
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    config_record,
    dump_json,
    dump_yaml,
    write_run_dir,
)


def plan_config(result: PlanResult, world: dict[str, Any]) -> dict[str, Any]:
    """What ``config.yaml`` records: the world, the value source and every setting."""
    settings = dataclasses.asdict(result.settings)
    settings["planners"] = list(settings["planners"])
    settings["simulations"] = list(settings["simulations"])
    return config_record("plan", {**world, "value_source": result.value_source, **settings})


def plan_png(rows: list[dict[str, Any]], world: str, value_source: str) -> bytes:
    """plan.png: regret against the simulation budget (:func:`plan_figure`)."""
    from qlearn.viz.plan_figure import plan_figure
    from qlearn.viz.png import figure_png

    return figure_png(plan_figure(rows, f"{world}, guided by {run_label(value_source)}"))


def per_state_table(result: PlanResult) -> pd.DataFrame:
    names = [result.mdp.state_names[s] for s in result.starts]
    return pd.DataFrame({"state": names, **result.per_state})


def plan_report(info: dict[str, Any], config: dict[str, Any], table: pd.DataFrame,
                per_state: pd.DataFrame, png: bytes) -> str:  # fmt: skip
    from qlearn.viz import html

    return html.page(
        f"qlearn: plan on {info['world']}",
        f"run folder {info.get('run_dir', '')}; guided by {run_label(info['value_source'])}; "
        f"{info['start_states']} start states x {info['episodes']} episodes x {info['seeds']} "
        "seeds",
        [
            html.section("Regret, success and speed", html.frame_table(table)),
            html.figures_section("Figure", {"plan.png": png}, {"plan.png": _CAPTION}),
            html.section("Mean regret per start state", html.frame_table(per_state)),
            html.section("Configuration", html.key_values(config)),
        ],
    )


_CAPTION = (
    "Normalised regret (V*(s) - G(s)) / (V*(s) - V_min(s)) against simulations per decision, "
    "mean over start states with a 95% bootstrap interval; flat lines take no budget."
)


def write_plan_run(result: PlanResult, out: Path, info: dict[str, Any],
                   world: dict[str, Any]) -> Path:  # fmt: skip
    """Write the plan's run folder atomically at ``out`` and return its path."""
    config = plan_config(result, world)
    table = result.table
    per_state = per_state_table(result)
    png = plan_png(result.rows, result.mdp.name, result.value_source)

    def fill(folder: Path) -> None:
        atomic_write_text(folder / "config.yaml", dump_yaml(config))
        atomic_write_text(folder / "results.csv", table.to_csv(index=False, float_format="%.10g"))
        atomic_write_text(folder / "per_state.csv", per_state.to_csv(index=False))
        atomic_write_bytes(folder / "plan.png", png)
        atomic_write_text(folder / "report.html", plan_report(info, config, table, per_state, png))
        atomic_write_text(folder / "summary.json", dump_json(info))

    return write_run_dir(Path(out), fill)


def redraw_plan(run_dir: Path) -> tuple[dict[str, bytes], str]:
    """plan.png and report.html of a saved plan folder, from its files alone."""
    from qlearn.runs.folder import read_config, read_summary, read_table, reading

    info, config = read_summary(run_dir), read_config(run_dir)
    table = read_table(run_dir / "results.csv", ("regret_mean",), "plan again to draw it")
    per_state = read_table(run_dir / "per_state.csv", (), "plan again to draw it")
    with reading(run_dir / "summary.json", "plan again to draw it"):
        png = plan_png(info["results"], info["world"], info["value_source"])
        report = plan_report(info, config, table, per_state, png)
    return {"plan.png": png}, report
