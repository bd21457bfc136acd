"""The whole tutorial as one command (``qlearn tour``, ``make demo``).

Six stages, each a run folder inside one tour folder, plus a ``report.html`` that
shows them all:

1. ``1-solve``: the exact Q*, V* and optimal actions of the 4x3 world;
2. ``2-explain``: the tutorial's hand updates, narrated (0.5, 0.225, 0.75, 0.875, 0.9375);
3. ``3-train``: Q-learning over 16 seeds, with snapshots after episodes 1, 50 and 500;
4. ``4-greedy-trap``: on ``detour``, a learner that never explores (epsilon 0) against
   one that explores (epsilon 0.1);
5. ``5-cliff``: Q-learning against SARSA on the cliff (Sutton & Barto, Example 6.6);
6. ``6-dqn``: when the table is replaced by a network: DQN on the same 4x3 world, with
   one-hot observations, held against the exact Q*.

The tour folder is written atomically, like every run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qlearn
from qlearn.runs.dqn_results import CAPTIONS as DQN_CAPTIONS
from qlearn.runs.folder import atomic_write_text, dump_json, dump_yaml, write_run_dir

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TourSettings:
    """Sizes of the tour's runs (the defaults keep it under a minute on two cores)."""

    train_seeds: int = 16
    """Seeds of the Q-learning run on classic."""
    trap_seeds: int = 200
    """Seeds per learner in the greedy trap."""
    cliff_seeds: int = 100
    """Seeds per learner on the cliff."""
    episodes: int = 500
    """Episodes of every learning run."""
    dqn_seeds: int = 2
    """Seeds of the DQN run on classic (the shipped settings for finite worlds)."""
    seed: int = 0
    """First seed of every run."""


def _stage_solve(folder: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    from qlearn.runs.solution import fill_solution_run, solution_summary

    mdp = qlearn.load_world("classic")
    sol = qlearn.solve(mdp)
    info = solution_summary(mdp, sol)
    folder.mkdir()
    pngs = fill_solution_run(mdp, sol, folder, info, {"world": "classic"}, plot=True)
    start = mdp.state_index("(1,1)")
    headline = {
        "V*(1,1)": float(sol.v[start]),
        "Q*((3,2),N)": float(sol.q[mdp.state_index("(3,2)"), mdp.action_index("N")]),
        "optimal actions at (1,1)": info["policy"]["(1,1)"],
        "sweeps": sol.sweeps,
    }
    return headline, pngs


def _stage_explain(folder: Path) -> tuple[dict[str, Any], str]:
    from qlearn.tabular.explain import changed_entries, narration_lines, tutorial_narration

    narration = tutorial_narration(qlearn.load_world("classic"))
    text = "\n".join(narration_lines(narration))
    text += "\n\nTable entries that moved: " + "; ".join(changed_entries(narration))
    folder.mkdir()
    atomic_write_text(folder / "explain.txt", text + "\n")
    atomic_write_text(folder / "explain.json", dump_json(narration.to_dict()))
    headline = {"narrated values": [round(u.new_value, 6) for u in narration.updates]}
    return headline, text


def _stage_train(folder: Path, s: TourSettings) -> tuple[dict[str, Any], dict[str, bytes]]:
    from qlearn.runs.job import write_run

    snapshots = tuple(e for e in (1, 50, 500) if e <= s.episodes) or (s.episodes,)
    run = qlearn.train(
        "classic", seeds=s.train_seeds, seed=s.seed, episodes=s.episodes, snapshots=snapshots
    )
    info, pngs = write_run(run, folder, plot=True)
    full = sum(p["optimal_share"] == 1.0 for p in info["per_seed"])
    headline = {
        "seeds optimal everywhere": f"{full}/{s.train_seeds}",
        "final max |Q - Q*| (mean over seeds)": info["final_gap_mean"],
        "environment steps": info["env_steps"],
    }
    return headline, pngs


def _stage_compare(folder: Path, **options: Any) -> tuple[dict[str, Any], bytes, dict]:
    from qlearn.experiments.compare import compare, comparison_summary
    from qlearn.experiments.compare_run import fill_comparison_run

    cmp = compare(**options)
    info = comparison_summary(cmp)
    info["run_dir"] = str(folder)
    folder.mkdir()
    png = fill_comparison_run(cmp, folder, info)
    headline = {
        label: {
            "window mean reward": arm["window_mean"],
            "SE": arm["window_se"],
            "greedy policy optimal": f"{arm['greedy_optimal']}/{len(arm['greedy_returns'])}",
            "greedy never ends": f"{arm['never_terminates']}/{len(arm['greedy_returns'])}",
        }
        for label, arm in info["algos"].items()
    }
    return headline, png, info


def _stage_dqn(folder: Path, s: TourSettings) -> tuple[dict[str, Any], dict[str, bytes]]:
    from qlearn.deep.train import resolve_config, run
    from qlearn.runs.job import write_run

    cfg = resolve_config({"world": "classic", "seeds": s.dqn_seeds, "seed": s.seed}, "the tour")
    info, pngs = write_run(run(cfg), folder, plot=True)
    optimal = sum(p["optimal_share"] == 1.0 for p in info["per_seed"])
    headline = {
        "seeds optimal everywhere": f"{optimal}/{s.dqn_seeds}",
        "max |Q - Q*| (worst seed)": max(p["gap"] for p in info["per_seed"]),
        "environment steps": info["env_steps"],
    }
    return headline, pngs


def run_tour(out: Path, settings: TourSettings | None = None, progress: Progress = print) -> dict:
    """Run the six stages into the new folder ``out``; returns the tour's summary."""
    s = settings or TourSettings()
    results: dict[str, Any] = {}

    def fill(tmp: Path) -> None:
        progress("[1/6] solve classic exactly")
        solve_head, solve_pngs = _stage_solve(tmp / "1-solve")
        progress(
            f"      V*(1,1) = {solve_head['V*(1,1)']:.4f}; "
            f"Q*((3,2),N) = {solve_head['Q*((3,2),N)']:.4f}"
        )
        progress("[2/6] narrate the tutorial's hand updates")
        explain_head, explain_text = _stage_explain(tmp / "2-explain")
        values = ", ".join(f"{v:g}" for v in explain_head["narrated values"])
        progress(f"      Q values after each update: {values}")
        progress(
            f"[3/6] train Q-learning on classic: {s.episodes} episodes x {s.train_seeds} seeds"
        )
        train_head, train_pngs = _stage_train(tmp / "3-train", s)
        progress(
            f"      {train_head['seeds optimal everywhere']} seeds act optimally everywhere; "
            f"max |Q - Q*| = {train_head['final max |Q - Q*| (mean over seeds)']:.2g}"
        )
        progress(f"[4/6] the greedy trap on detour: epsilon 0 vs 0.1, {s.trap_seeds} seeds")
        trap_head, trap_png, trap_info = _stage_compare(
            tmp / "4-greedy-trap",
            world="detour",
            algos="q-learning",
            epsilon="0,0.1",
            episodes=s.episodes,
            seeds=s.trap_seeds,
            seed=s.seed,
            alpha="0.5",
        )
        for label, h in trap_head.items():
            progress(f"      {label}: greedy policy optimal in {h['greedy policy optimal']} seeds")
        progress(f"[5/6] Q-learning vs SARSA on the cliff: {s.cliff_seeds} seeds")
        cliff_head, cliff_png, cliff_info = _stage_compare(
            tmp / "5-cliff",
            world="cliff",
            algos="q-learning,sarsa",
            epsilon="0.1",
            alpha="0.5",
            episodes=s.episodes,
            seeds=s.cliff_seeds,
            seed=s.seed,
        )
        for label, arm in cliff_info["algos"].items():
            progress(
                f"      {label}: {arm['window_mean']:.1f} +- {arm['window_se']:.1f} reward/episode "
                f"online; greedy return {_counts(arm['greedy_return_counts'])}"
            )
        progress(f"[6/6] DQN on classic: a network in place of the table, {s.dqn_seeds} seeds")
        dqn_head, dqn_pngs = _stage_dqn(tmp / "6-dqn", s)
        progress(
            f"      {dqn_head['seeds optimal everywhere']} seeds act optimally everywhere; "
            f"max |Q - Q*| = {dqn_head['max |Q - Q*| (worst seed)']:.2g}"
        )
        results.update(
            {
                "solve": solve_head,
                "explain": explain_head,
                "train": train_head,
                "greedy_trap": trap_head,
                "cliff": cliff_head,
                "dqn": dqn_head,
                "settings": s.__dict__,
                "qlearn_version": qlearn.__version__,
            }
        )
        atomic_write_text(tmp / "config.yaml", dump_yaml({"kind": "tour", **s.__dict__}))
        atomic_write_text(tmp / "summary.json", dump_json(results))
        page = tour_report(
            results,
            solve_pngs,
            explain_text,
            train_pngs,
            trap_png,
            trap_info,
            cliff_png,
            cliff_info,
            dqn_pngs,
            out,
        )
        atomic_write_text(tmp / "report.html", page)

    write_run_dir(out, fill)
    results["run_dir"] = str(out)
    return results


def _counts(counts: list[dict]) -> str:
    from qlearn.experiments.compare_run import count_text

    return ", ".join(count_text(c) for c in counts[:3])


def tour_report(
    results: dict,
    solve_pngs: dict[str, bytes],
    explain_text: str,
    train_pngs: dict[str, bytes],
    trap_png: bytes,
    trap_info: dict,
    cliff_png: bytes,
    cliff_info: dict,
    dqn_pngs: dict[str, bytes],
    out: Path,
) -> str:
    """The tour's one-page report: every stage's numbers and figures."""
    from qlearn.experiments.compare_run import comparison_rows
    from qlearn.viz import html

    trap_header, trap_rows = comparison_rows(trap_info)
    cliff_header, cliff_rows = comparison_rows(cliff_info)
    return html.page(
        "qlearn tour: Q-learning on a world small enough to check by hand",
        f"tour folder {out}; qlearn {qlearn.__version__}; each stage's own run folder and "
        "report are next to this page",
        [
            html.section(
                "1. The exact answer (1-solve)",
                html.key_values(results["solve"], "headline"),
                html.image(solve_pngs["values.png"], "V*", html.CAPTIONS["values.png"]),
                html.image(solve_pngs["q_values.png"], "Q*", html.CAPTIONS["q_values.png"]),
            ),
            html.section("2. The hand updates, narrated (2-explain)", html.pre(explain_text)),
            html.section(
                "3. Watch the table learn (3-train)",
                html.key_values(results["train"], "headline"),
                *(
                    html.image(train_pngs[n], n, html.CAPTIONS[n])
                    for n in ("snapshots.png", "values.png", "curve.png", "gap.png")
                    if n in train_pngs
                ),
            ),
            html.section(
                "4. The greedy trap (4-greedy-trap)",
                html.table(trap_header, trap_rows, "headline"),
                html.image(trap_png, "greedy trap", html.CAPTIONS["compare.png"]),
            ),
            html.section(
                "5. One symbol, two personalities: the cliff (5-cliff)",
                html.table(cliff_header, cliff_rows, "headline"),
                html.image(cliff_png, "cliff", html.CAPTIONS["compare.png"]),
            ),
            html.section(
                "6. When the table dies: a network learns the same Q* (6-dqn)",
                html.key_values(results["dqn"], "headline"),
                html.image(dqn_pngs["values.png"], "DQN", DQN_CAPTIONS["values.png"]),
            ),
        ],
    )
