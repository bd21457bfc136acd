"""A run folder for an exact solution (``qlearn solve --out/--plot``).

It holds ``config.yaml`` (which world, at which discount), ``summary.json`` (the
object ``solve --json`` prints), ``tables.npz`` (Q* and V*), ``report.html`` and,
when asked, the figures as PNG files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.core.version import __version__
from qlearn.exact import Solution, greedy_ties, max_legal
from qlearn.mdp import FiniteMDP
from qlearn.runs.folder import (
    atomic_write_bytes,
    atomic_write_text,
    dump_json,
    dump_yaml,
    load_npz,
    read_config,
    read_summary,
    reading,
    save_npz,
    write_run_dir,
)
from qlearn.textview import policy_dict, q_dict, too_big_to_show, v_dict, value_summary


def solution_summary(mdp: FiniteMDP, sol: Solution) -> dict[str, Any]:
    """The object ``qlearn solve --json`` prints (a large world's tables summarised)."""
    head = {"world": mdp.name, "gamma": sol.gamma, "method": sol.method, "sweeps": sol.sweeps}
    if too_big_to_show(mdp):
        return {**head, "tables": "summarised", **value_summary(mdp, sol.v)}
    return {
        **head,
        "q": q_dict(mdp, sol.q),
        "v": v_dict(mdp, sol.v),
        "policy": policy_dict(mdp, sol.policy),
    }


def solution_pngs(mdp: FiniteMDP, q_star: np.ndarray) -> dict[str, bytes]:
    from qlearn.viz.png import figure_png
    from qlearn.viz.run_figures import solution_figures

    return {name: figure_png(fig) for name, fig in solution_figures(mdp, q_star).items()}


def solution_report(
    mdp: FiniteMDP,
    q_star: np.ndarray,
    info: dict[str, Any],
    config: dict[str, Any],
    pngs: dict[str, bytes],
) -> str:
    """report.html of a solution: V*, the optimal actions, Q* as a table, figures."""
    from qlearn.textview import policy_grid, q_rows, value_grid
    from qlearn.viz import html

    v = np.where(mdp.terminal, 0.0, max_legal(q_star, mdp.legal))
    ties = greedy_ties(q_star, mdp.legal)
    header, rows = q_rows(mdp, q_star, ties)
    start = float(mdp.start @ v)
    return html.page(
        f"qlearn: exact solution of {mdp.name}",
        f"run folder {info.get('run_dir', '')}; qlearn {__version__}",
        [
            html.section(
                "Headline numbers",
                html.key_values(
                    {
                        "world": mdp.name,
                        "gamma": info["gamma"],
                        "V*(start)": start,
                        "method": info.get("method", "value iteration"),
                        "sweeps (value iteration) or evaluations (policy iteration)": info[
                            "sweeps"
                        ],
                    },
                    "headline",
                ),
            ),
            html.section(
                "V* and the optimal actions",
                html.pre(value_grid(mdp, v) + "\n\n" + policy_grid(mdp, ties)),
            ),
            html.figures_section("Figures", pngs, html.CAPTIONS),
            html.section("Q* (* = optimal)", html.table(header, rows)),
            html.section("Configuration", html.key_values(config)),
        ],
    )


def fill_solution_run(
    mdp: FiniteMDP,
    sol: Solution,
    folder: Path,
    info: dict[str, Any],
    config: dict[str, Any],
    plot: bool = False,
) -> dict[str, bytes]:
    """Write a solution's files into an existing (temporary) folder; returns the figures."""
    cfg = {"kind": "solve", **config, "qlearn_version": __version__}
    atomic_write_text(folder / "config.yaml", dump_yaml(cfg))
    atomic_write_text(folder / "summary.json", dump_json(info))
    tables = {"q_star": sol.q, "v_star": sol.v, "state_names": np.asarray(mdp.state_names)}
    save_npz(folder / "tables.npz", tables)
    pngs = solution_pngs(mdp, sol.q)
    if plot:
        for name, data in pngs.items():
            atomic_write_bytes(folder / name, data)
    atomic_write_text(folder / "report.html", solution_report(mdp, sol.q, info, cfg, pngs))
    return pngs


def write_solution_run(
    mdp: FiniteMDP,
    sol: Solution,
    out: Path,
    info: dict[str, Any],
    config: dict[str, Any],
    plot: bool = False,
) -> Path:
    """Write the solution's run folder atomically and return its path."""
    return write_run_dir(out, lambda tmp: fill_solution_run(mdp, sol, tmp, info, config, plot))


def load_solution(run_dir: Path) -> tuple[FiniteMDP, np.ndarray, dict[str, Any], dict[str, Any]]:
    """The world, Q*, summary and config of a saved solution folder."""
    from qlearn.envs.registry import load_world

    config = read_config(run_dir)
    if config.get("kind") != "solve":
        raise QlearnError(f"{run_dir} is not a solve run folder")
    with reading(Path(run_dir) / "config.yaml", "solve the world again"):
        mdp = load_world(
            config.get("world") if not config.get("map_file") else None,
            map_file=config.get("map_file"),
            gamma=config.get("gamma"),
            step_reward=config.get("step_reward"),
            slip=config.get("slip"),
            env_kwargs=config.get("env_kwargs"),
        )
    path = Path(run_dir) / "tables.npz"
    q_star = load_npz(path, ("q_star",), use="solve the world again")["q_star"]
    if q_star.shape != (mdp.n_states, mdp.n_actions):
        raise QlearnError(f"{path.name} is damaged: Q* has shape {q_star.shape} ({path})")
    return mdp, q_star, read_summary(run_dir), config
