"""What the commands print: one function per kind of result, the tables and number
formats they share, and the two consoles (results on stdout, messages on stderr)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)


def either(json_out: bool, data: Any, print_text: Callable[[], None]) -> None:
    """What every command ends with: exactly one JSON object with ``--json``, otherwise
    the text a person reads."""
    if json_out:
        print_json(data)
    else:
        print_text()


def print_json(data: Any) -> None:
    """``--json``: exactly one JSON object on stdout (NaN refused: it is not JSON)."""
    sys.stdout.write(json.dumps(data, allow_nan=False) + "\n")


def say(text: str) -> None:
    """One line of plain text on stdout (no rich markup)."""
    out.print(text, markup=False)


def table(header: list[str], rows: list[list[str]], title: str | None = None) -> Table:
    """A borderless table: the first column left-aligned, the numbers right-aligned."""
    grid = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for i, h in enumerate(header):
        grid.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        grid.add_row(*row)
    return grid


def print_unwrapped(grid: Table) -> None:
    """Print a table at its natural width: rows stay on one line even on a narrow console."""
    from rich.measure import Measurement

    needed = Measurement.get(out, out.options.update_width(1000), grid).maximum
    if needed <= out.width:
        out.print(grid)
        return
    wide = Console(highlight=False, emoji=False, width=needed, file=out.file)
    wide.print(grid)


def num(x: float) -> str:
    """A statistic to four significant digits."""
    return f"{x:.4g}"


def ci(interval: tuple[float, float]) -> str:
    """A confidence interval as ``[low, high]``."""
    return f"[{interval[0]:.4g}, {interval[1]:.4g}]"


def cell(value: Any) -> str:
    """A configuration's value in a table: numbers (also written as text) to four digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        try:
            return f"{float(value):.4g}"
        except ValueError:
            return value
    return str(value)


def _q_table(mdp, q, title: str) -> Table:
    """A Q table with its greedy actions (ties included) starred."""
    from qlearn.exact import greedy_ties
    from qlearn.textview import q_rows

    return table(*q_rows(mdp, q, greedy_ties(q, mdp.legal, atol=0.0)), title=title)


def _greedy_grid(mdp, q) -> str:
    """The greedy actions of a table (ties included) drawn on the world's grid."""
    from qlearn.exact import greedy_ties
    from qlearn.textview import policy_grid

    return policy_grid(mdp, greedy_ties(q, mdp.legal, atol=0.0))


def print_envs(worlds: dict[str, str], gym_ids: list[str], compiled: list[str]) -> None:
    """``qlearn envs``: the worlds, the finite Gymnasium ids, the compiled DQN envs."""
    out.print("Built-in worlds (solve, train, explain; also --map FILE):")
    for name, description in worlds.items():
        out.print(f"  {name:<15} {description}")
    out.print(
        "  maze:WxH[:seed=K][:slip=P]  A seeded random maze (odd W, H >= 5): -1 per step, "
        "the goal top right ends it."
    )
    out.print("\nGymnasium worlds read as finite MDPs through env.P:")
    out.print("  " + ", ".join(gym_ids))
    out.print("\nDeep Q-networks (qlearn train ENV; --algo dqn on the worlds above):")
    out.print("  compiled end to end (gymnax): " + ", ".join(compiled))
    out.print(
        "  host loop: any Gymnasium id with discrete actions, e.g. CartPole-v1 or "
        "MountainCar-v0 with --backend gymnasium, ALE/Pong-v5 (Atari wrappers)"
    )


def print_solution(mdp, sol, info: dict[str, Any]) -> None:
    """``qlearn solve``: V* on the grid, every optimal action, the Q* table."""
    from qlearn.textview import policy_grid, q_rows, value_grid

    how = (
        f"value iteration converged in {sol.sweeps} sweeps (then polished exactly by policy "
        "evaluation)"
        if sol.method == "value iteration"
        else f"policy iteration, stable after {sol.sweeps} exact (sparse) evaluation"
        + ("s" if sol.sweeps > 1 else "")
    )
    out.print(f"[bold]{mdp.name}[/bold]: gamma {sol.gamma:g}, {how}")
    out.print("\nV* (terminals show the reward they pay):")
    out.print(value_grid(mdp, sol.v))
    out.print("\nOptimal actions (all ties):")
    out.print(policy_grid(mdp, sol.policy))
    out.print()
    out.print(table(*q_rows(mdp, sol.q, sol.policy), title="Q* (* = optimal)"))
    if "run_dir" in info:
        out.print(f"run folder: {info['run_dir']}")


def print_tabular(run, info: dict[str, Any]) -> None:
    """``qlearn train`` (tabular): what was learned, its gap to the exact answer, and the
    greedy policy's return."""
    from qlearn.textview import value_grid

    cfg, mdp = run.config, run.mdp
    rate = run.env_steps / max(run.train_seconds, 1e-9)
    out.print(
        f"[bold]{cfg.algo}[/bold] on {mdp.name}: {cfg.episodes} episodes x {cfg.seeds} "
        f"seed(s), alpha {cfg.learning_rate}, epsilon {cfg.epsilon_schedule()}, "
        f"gamma {run.gamma:g}"
    )
    out.print(
        f"{run.env_steps:,} environment steps in {run.train_seconds:.3f} s ({rate:,.0f} steps/s)"
    )
    mean_of = "mean over seeds" if cfg.seeds > 1 else "one seed"
    if cfg.algo == "td0":
        out.print(f"\nV of the {cfg.policy} policy, learned by TD(0) ({mean_of}):")
        out.print(value_grid(mdp, run.v))
        out.print("\nTrue V of that policy (exact):")
        out.print(value_grid(mdp, run.v_reference))
        out.print(f"\nmax |V - V_true| after the last episode: {info['final_gap_mean']:.4f}")
    else:
        out.print()
        out.print(_q_table(mdp, run.q, f"Learned Q ({mean_of}; * = greedy)"))
        out.print("\nGreedy policy of the learned table:")
        out.print(_greedy_grid(mdp, run.q))
        share = info["optimal_share_mean"]
        full = sum(1 for p in info["per_seed"] if p["optimal_share"] == 1.0)
        out.print(
            f"\nmax |Q - Q*| after the last episode: {info['final_gap_mean']:.4f} "
            f"({mean_of}); greedy actions optimal in {share:.0%} of states; "
            f"{full}/{cfg.seeds} seeds optimal everywhere"
        )
    returns = [p["greedy_return"] for p in info["per_seed"]]
    finite = [r for r in returns if r is not None]
    never = len(returns) - len(finite)
    if finite:
        mean = sum(finite) / len(finite)
        out.print(
            f"greedy return from the start: {mean:.4g} (exact expectation, mean over "
            f"{len(finite)} seed(s)); V*(start) = {info['v_star_start']:.4g}"
        )
    if never:
        out.print(
            f"[yellow]greedy policy never reaches a terminal in {never}/{len(returns)} "
            "seed(s)[/yellow]"
        )
    out.print(f"run folder: {info['run_dir']}")


def print_dqn(run, info: dict[str, Any]) -> None:
    """``qlearn train --algo dqn``: speed, the final evaluation per seed, and on finite
    worlds the network's Q table against Q*."""
    cfg = run.config
    net = "x".join(str(w) for w in cfg.net)
    out.print(
        f"[bold]{info['variant']}[/bold] on {info['world']} ({info['backend']}): "
        f"{run.env_steps:,} steps x {cfg.seeds} seed(s), lr {cfg.lr:g}, batch {cfg.batch_size}, "
        f"net {net}, gamma {cfg.discount:g}"
    )
    out.print(
        f"{info['env_steps']:,} environment steps in {info['train_seconds']:.1f} s "
        f"({info['steps_per_second']:,} steps/s), plus {info['compile_seconds']:.1f} s compiling"
    )
    how = "greedy" if cfg.eval_epsilon == 0 else f"epsilon {cfg.eval_epsilon:g}"
    out.print(
        f"\nfinal evaluation ({cfg.eval_episodes} {how} episodes per seed, separate "
        f"environments): mean {info['eval_mean']:.4g}"
    )
    solved, finite = "reward_threshold" in info, "q" in info
    header = ["seed", "eval mean", "eval std", "best eval"]
    header += ["first solved at step"] if solved else []
    header += ["max |Q - Q*|", "optimal share"] if finite else []
    distributional = "start_distribution" in info
    header += ["start W1", "start Cramer"] if distributional else []
    rows = []
    for p in info["per_seed"]:
        row = [str(p["seed"]), f"{p['eval_mean']:.4g}", f"{p['eval_std']:.3g}",
               f"{p['best_eval_mean']:.4g}"]  # fmt: skip
        if solved:
            row.append("-" if p["first_solved_step"] is None else f"{p['first_solved_step']:,}")
        if finite:
            row += [f"{p['gap']:.4f}", f"{p['optimal_share']:.0%}"]
        if distributional:
            row += [f"{p['start_w1']:.4f}", f"{p['start_cramer']:.4f}"]
        rows.append(row)
    out.print(table(header, rows))
    if solved:
        out.print(
            f"{info['solved_seeds']}/{cfg.seeds} seed(s) solved (final evaluation >= "
            f"{info['reward_threshold']:g})"
        )
    if finite:
        mdp = run.target.mdp
        out.print()
        out.print(_q_table(mdp, run.q, "Learned Q (network, mean over seeds; * = greedy)"))
        if mdp.layout is not None:
            out.print("\nGreedy policy of the network:")
            out.print(_greedy_grid(mdp, run.q))
        out.print(f"V*(start) = {info['v_star_start']:.4g}")
        if distributional:
            out.print("start W1 / Cramer: the learned return distribution at the start against "
                      "the exact one of the greedy policy (distribution.png; the atoms of both: "
                      "distribution.npz)")  # fmt: skip
    out.print(f"run folder: {info['run_dir']}")


def print_offline(run, info: dict[str, Any], alpha: str) -> None:
    """``qlearn train --from-log``: the table learned from the log against Q*."""
    mdp = run.mdp
    out.print(
        f"[bold]{run.algo}[/bold] on {mdp.name} from {info['from_log']}: {run.transitions:,} "
        f"logged transitions x {run.passes} passes, alpha {alpha}, "
        f"gamma {run.solution.gamma:g}"
    )
    out.print()
    out.print(_q_table(mdp, run.q, "Learned Q (* = greedy)"))
    if mdp.layout is not None:
        out.print("\nGreedy policy of the learned table:")
        out.print(_greedy_grid(mdp, run.q))
    out.print(
        f"\nmax |Q - Q*| after the last pass: {run.gaps[-1]:.4f}; greedy actions optimal "
        f"in {run.optimal_share:.0%} of states"
    )
    ret = info["greedy_return"]
    out.print(
        "greedy return from the start: "
        + ("never reaches a terminal" if ret is None else f"{ret:.4g}")
    )
    out.print(f"run folder: {info['run_dir']}")


def print_collected(info: dict[str, Any]) -> None:
    """``qlearn collect``: how much was logged, and where."""
    out.print(
        f"logged {info['transitions']:,} transitions from {info['episodes']} episodes of the "
        f"{info['policy']} policy on {info['world']} to {info['out']}"
    )


def print_narration(narration, full: bool) -> None:
    """``qlearn explain``: each update with its arithmetic, then the entries that moved."""
    from qlearn.tabular.explain import changed_entries, narration_lines

    for line in narration_lines(narration, full=full):
        say(line)
    moved = changed_entries(narration)
    out.print("\nTable entries that moved: " + ("; ".join(moved) if moved else "none"))


def print_comparison(info: dict[str, Any]) -> None:
    """``qlearn compare``: one row per learner and each learner's difference to the first."""
    from qlearn.experiments.compare import difference
    from qlearn.experiments.compare_run import comparison_rows

    out.print(
        f"[bold]{info['world']}[/bold]: {info['episodes']} episodes x {info['seeds']} seeds "
        f"(seeds {info['seed']}-{info['seed'] + info['seeds'] - 1}, the same for every learner)"
    )
    header, rows = comparison_rows(info)
    text_rows = [[r[0], f"{r[1]:.4g}", f"{r[2]:.3g}", *map(str, r[3:])] for r in rows]
    out.print(table(header, text_rows))
    arms = list(info["algos"].values())
    for other in arms[1:]:
        diff, se = difference(other, arms[0])
        z = f", {diff / se:+.1f} SE" if se > 0 else ""
        out.print(
            f"{other['label']} - {arms[0]['label']}: {diff:+.4g} reward/episode (SE {se:.3g}{z})"
        )
    out.print(
        f"V*(start) = {info['v_star_start']:.4g}; greedy returns are exact expectations of "
        "each seed's final greedy policy"
    )
    out.print(f"figure: {info['figure']}")
    out.print(f"run folder: {info['run_dir']}")


def print_plan(info: dict[str, Any]) -> None:
    """``qlearn plan``: one row per planner and budget, regret first."""
    out.print(
        f"[bold]{info['world']}[/bold], guided by {info['value_label']}: "
        f"{info['start_states']} start states x {info['episodes']} episodes x "
        f"{info['seeds']} seeds"
    )
    header = ["planner", "sims", "regret", "95% CI", "success", "return", "decisions/s",
              "expanded", "generated", "optimal paths"]  # fmt: skip
    rows = []
    for r in info["results"]:
        paths = "nodes_expanded" in r
        rows.append([
            r["planner"], str(r["simulations"] or ""), num(r["regret_mean"]), ci(r["regret_ci"]),
            f"{r['success_rate']:.0%}", num(r["mean_return"]), f"{r['decisions_per_s']:,.0f}",
            num(r["nodes_expanded"]) if paths else "", num(r["nodes_generated"]) if paths else "",
            f"{r['optimal_path_share']:.0%}" if paths else "",
        ])  # fmt: skip
    print_unwrapped(table(header, rows))
    out.print("regret: (V*(s) - G(s)) / (V*(s) - V_min(s)), mean over start states (0: optimal)")
    out.print(f"figure: {info['run_dir']}/plan.png")
    out.print(f"run folder: {info['run_dir']}")


def print_paths(paths: list[Path]) -> None:
    """One written file per line."""
    for path in paths:
        say(str(path))


def print_evaluation(info: dict[str, Any]) -> None:
    """``qlearn eval``: fresh episodes per seed, and the exact greedy return when known."""
    how = "greedy" if not info["epsilon"] else f"epsilon {info['epsilon']:g}"
    out.print(
        f"{info['world']}: {info['episodes']} {how} episode(s) per seed with the "
        f"{info['parameters']} of {info['run_dir']} (evaluation seed {info['eval_seed']})"
    )
    header = ["seed", "mean return", "std", "mean length"]
    exact = "exact_greedy_return" in info["per_seed"][0]
    if exact:
        header.append("exact greedy return")
    rows = []
    for p in info["per_seed"]:
        row = [str(p["seed"]), f"{p['eval_mean']:.4g}", f"{p['eval_std']:.3g}",
               f"{p['mean_length']:.4g}"]  # fmt: skip
        if exact:
            value = p["exact_greedy_return"]
            row.append("never ends" if value is None else f"{value:.4g}")
        rows.append(row)
    out.print(table(header, rows))
    out.print(f"mean over seeds: {info['eval_mean']:.4g}")


def print_tour(target: Path) -> None:
    """``qlearn tour``: where its report and folder are (its steps spoke as they ran)."""
    out.print(f"\nreport: {target / 'report.html'}")
    out.print(f"run folder: {target}")


def print_sweep(result, info: dict[str, Any]) -> None:
    """``qlearn sweep``: the configurations ranked, with bootstrap intervals, and the best."""
    from qlearn.experiments.sweep import rank_statistic_name

    spec = result.spec
    stat = rank_statistic_name(spec)
    pct = f"{spec.confidence:.0%}"
    out.print(
        f"[bold]{spec.name}[/bold]: {len(result.configs)} configurations x {spec.seeds} seeds "
        f"({spec.seed}..{spec.seed + spec.seeds - 1}), {result.backend}, "
        f"{result.seconds:.1f} s"
    )
    out.print(f"metric: {spec.metric} = {info['metric_meaning']} ({spec.goal} is better)")
    header = ["#", *spec.swept_keys, "mean", f"{pct} CI", "IQM", f"{pct} CI"]
    show_unfinished = spec.metric == "greedy_return" and any(
        c.greedy_unfinished for c in result.configs
    )
    if show_unfinished:
        header.append("unfinished")
    rows = []
    for c in result.ranked:
        row = [str(c.id), *(cell(c.params[k]) for k in spec.swept_keys)]
        row += [num(c.mean), ci(c.mean_ci), num(c.iqm), ci(c.iqm_ci)]
        if show_unfinished:
            row.append(str(c.greedy_unfinished))
        rows.append(row)
    title = (
        f"ranked by {stat} (best first; {pct} percentile bootstrap CI, {spec.bootstrap} resamples)"
    )
    out.print()
    print_unwrapped(table(header, rows, title=title))
    best = result.best
    params = ", ".join(f"{k}={cell(v)}" for k, v in best.params.items()) or "(fixed options)"
    value = best.iqm if spec.rank_by == "iqm" else best.mean
    interval = best.iqm_ci if spec.rank_by == "iqm" else best.mean_ci
    out.print(f"\nbest: #{best.id} {params}: {stat} {num(value)} {ci(interval)}")
    if show_unfinished:
        out.print(
            "unfinished: seeds whose greedy policy may never reach a terminal; they score "
            "the return of an episode capped at max_steps"
        )
    out.print(f"figure: {info['figure']}")
    out.print(f"sweep folder: {info['sweep_dir']}")


def print_error(text: str) -> None:
    """One line on stderr, printed as is (no markup: the user's input may hold brackets)."""
    err.print(text, markup=False, soft_wrap=True)


def print_warnings_as_lines() -> None:
    """From now on, qlearn's own warnings (an option that does nothing here) print as one
    line on stderr, ``warning: ...``, and the work goes on; other warnings print as before."""
    import warnings

    from qlearn.core.errors import QlearnWarning

    previous = warnings.showwarning

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, QlearnWarning):
            print_error(f"warning: {message}")
        else:
            previous(message, category, filename, lineno, file, line)

    warnings.showwarning = show_warning


def print_estimate(line: str | None) -> None:
    """A long run's estimated work, one line on stderr (even with --quiet)."""
    if line:
        print_error(line)
