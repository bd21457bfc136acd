"""The qlearn command line: one thin function per command.

Errors in the user's input print one line on stderr and exit with status 2.
``--json`` prints exactly one JSON object on stdout and nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# Typer 0.29 vendors Click; its exceptions live here (the version is pinned).
from typer._click.exceptions import ClickException, UsageError

from qlearn.errors import QlearnError

app = typer.Typer(
    help="Value-based reinforcement learning: exact solutions, tabular Q-learning, DQN.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, emoji=False)

WorldArg = Annotated[
    str | None, typer.Argument(help="A built-in world (see `qlearn envs`) or a Gymnasium id.")
]
MapOpt = Annotated[Path | None, typer.Option("--map", help="A map file to use instead.")]
GammaOpt = Annotated[float | None, typer.Option(help="Discount in [0, 1] (default: the world's).")]
StepRewardOpt = Annotated[float | None, typer.Option(help="Grid worlds: reward of a step.")]
SlipOpt = Annotated[str | None, typer.Option(help="Grid worlds: slip probability on ice (2/3).")]
EnvArgOpt = Annotated[
    list[str] | None,
    typer.Option("--env-arg", help="KEY=VALUE for a Gymnasium world, e.g. map_name=8x8."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")]


def _env_kwargs(pairs: list[str] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    kwargs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise QlearnError(f"--env-arg {pair!r} must look like KEY=VALUE, e.g. map_name=8x8")
        try:
            kwargs[key] = json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    return kwargs


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, allow_nan=False) + "\n")


def _table(header: list[str], rows: list[list[str]], title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


@app.command()
def envs(json_out: JsonOpt = False) -> None:
    """List the worlds and environments qlearn can use."""
    from qlearn.envs.registry import builtin_worlds, toy_text_ids

    worlds = builtin_worlds()
    gym_ids = toy_text_ids()
    if json_out:
        _print_json({"worlds": worlds, "gymnasium_finite": gym_ids})
        return
    out.print("Built-in worlds (solve, train, explain; also --map FILE):")
    for name, description in worlds.items():
        out.print(f"  {name:<15} {description}")
    out.print("\nGymnasium worlds read as finite MDPs through env.P:")
    out.print("  " + ", ".join(gym_ids))


@app.command()
def solve(
    world: WorldArg = None,
    map_file: MapOpt = None,
    gamma: GammaOpt = None,
    step_reward: StepRewardOpt = None,
    slip: SlipOpt = None,
    env_arg: EnvArgOpt = None,
    tol: Annotated[float, typer.Option(help="Value-iteration tolerance on V*.")] = 1e-10,
    json_out: JsonOpt = False,
) -> None:
    """Solve a finite world exactly: Q*, V* and every optimal action."""
    from qlearn.envs.registry import load_world
    from qlearn.mdp import solve as solve_mdp
    from qlearn.textview import policy_dict, policy_grid, q_dict, q_rows, v_dict, value_grid

    if not tol > 0:
        raise QlearnError(f"--tol must be above 0, got {tol}")
    mdp = load_world(
        world,
        map_file=map_file,
        gamma=gamma,
        step_reward=step_reward,
        slip=slip,
        env_kwargs=_env_kwargs(env_arg),
    )
    sol = solve_mdp(mdp, tol=tol)
    if json_out:
        _print_json(
            {
                "world": mdp.name,
                "gamma": sol.gamma,
                "sweeps": sol.sweeps,
                "q": q_dict(mdp, sol.q),
                "v": v_dict(mdp, sol.v),
                "policy": policy_dict(mdp, sol.policy),
            }
        )
        return
    out.print(
        f"[bold]{mdp.name}[/bold]: gamma {sol.gamma:g}, value iteration converged in "
        f"{sol.sweeps} sweeps (then polished exactly by policy evaluation)"
    )
    out.print("\nV* (terminals show the reward they pay):")
    out.print(value_grid(mdp, sol.v))
    out.print("\nOptimal actions (all ties):")
    out.print(policy_grid(mdp, sol.policy))
    out.print()
    out.print(_table(*q_rows(mdp, sol.q, sol.policy), title="Q* (* = optimal)"))


@app.command()
def train(
    world: WorldArg = None,
    map_file: MapOpt = None,
    algo: Annotated[
        str, typer.Option(help="q-learning, sarsa, expected-sarsa, double-q, td0.")
    ] = "q-learning",
    episodes: Annotated[int, typer.Option(help="Episodes per seed.")] = 500,
    alpha: Annotated[str, typer.Option(help="Learning rate in (0, 1], or 1/n^W.")] = "0.5",
    gamma: GammaOpt = None,
    epsilon: Annotated[
        str, typer.Option(help="START[:END[:N]], decaying over N units.")
    ] = "1:0.05",
    decay: Annotated[str, typer.Option(help="linear or exponential.")] = "linear",
    decay_unit: Annotated[str, typer.Option(help="episodes or steps.")] = "episodes",
    explore: Annotated[str, typer.Option(help="epsilon-greedy or boltzmann.")] = "epsilon-greedy",
    temperature: Annotated[str, typer.Option(help="Boltzmann temperature START[:END[:N]].")] = "1",
    q_init: Annotated[float, typer.Option(help="Initial table value (optimism explores).")] = 0.0,
    seeds: Annotated[int, typer.Option(help="Independent runs, trained at once.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the first run (run k: seed + k).")] = 0,
    max_steps: Annotated[int | None, typer.Option(help="Cap on episode length.")] = None,
    policy: Annotated[
        str, typer.Option(help="td0: the policy evaluated (random, optimal).")
    ] = "random",
    step_reward: StepRewardOpt = None,
    slip: SlipOpt = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder to create.")] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run folders go.")] = Path(
        "runs"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Train a tabular learner, print what it learned, and write a run folder."""
    from qlearn.experiment.config import TabularConfig
    from qlearn.experiment.runs import new_run_dir
    from qlearn.tabular.report import summary, write_tabular_run
    from qlearn.tabular.train import run_config

    cfg = TabularConfig(
        world=None if map_file else world,
        map_file=str(map_file) if map_file else None,
        algo=algo,
        episodes=episodes,
        alpha=alpha,
        gamma=gamma,
        epsilon=epsilon,
        decay=decay,
        decay_unit=decay_unit,
        explore=explore,
        temperature=temperature,
        q_init=q_init,
        seeds=seeds,
        seed=seed,
        max_steps=max_steps,
        policy=policy,
        step_reward=step_reward,
        slip=slip,
    )
    if map_file and world:
        raise QlearnError("give either a world name or --map FILE, not both")
    with _status("training", quiet=json_out):
        run = run_config(cfg)
    target = out_dir or new_run_dir(runs_root, f"{run.mdp.name}-{cfg.algo}")
    info = summary(run)
    info["run_dir"] = str(target)
    write_tabular_run(run, target, info)
    if json_out:
        _print_json(info)
        return
    _print_tabular(run, info)


def _print_tabular(run, info: dict[str, Any]) -> None:
    from qlearn.mdp import greedy_ties
    from qlearn.textview import policy_grid, q_rows, value_grid

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
        out.print(
            _table(
                *q_rows(mdp, run.q, greedy_ties(run.q, mdp.legal, atol=0.0)),
                title=f"Learned Q ({mean_of}; * = greedy)",
            )
        )
        out.print("\nGreedy policy of the learned table:")
        out.print(policy_grid(mdp, greedy_ties(run.q, mdp.legal, atol=0.0)))
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


RAY_LOCAL = "local"


@app.command()
def sweep(
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC", help="The sweep spec (YAML).")],
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run as Ray Tune trials: alone, on a Ray instance on this machine; with "
            "HEAD:6379 (or auto), on that cluster.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local processes, each on cores/N Numba threads (default 1, see README)."
        ),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Sweep folder to create.")] = None,
    sweeps_root: Annotated[
        Path, typer.Option("--sweeps", help="Where new sweep folders go.")
    ] = Path("sweeps"),
    json_out: JsonOpt = False,
) -> None:
    """Run a grid or random search over configurations x seeds and rank the configurations."""
    from qlearn.experiment.runs import new_run_dir
    from qlearn.experiment.sweep import load_spec, run_sweep, write_sweep

    spec = load_spec(spec_file)
    if workers is not None and workers < 1:
        raise QlearnError(f"--workers must be at least 1, got {workers}")
    if ray is not None and workers is not None:
        raise QlearnError("--workers is for local sweeps; Ray places trials by itself")
    target = out_dir or new_run_dir(sweeps_root, spec.name)
    if target.exists():
        raise QlearnError(f"{target} already exists; choose another --out or remove it")
    total = len(spec.configurations)
    where = "on Ray" if ray is not None else "locally"
    with _status(f"sweeping {where}: 0/{total} configurations", quiet=json_out) as status:
        done = []

        def progress(result) -> None:
            done.append(result.config_id)
            status.update(f"sweeping {where}: {len(done)}/{total} configurations")

        result = run_sweep(spec, ray=ray, workers=workers, on_result=progress)
    info = result.summary()
    info["sweep_dir"] = str(target)
    info["figure"] = str(target / "sweep.png")
    write_sweep(result, target, info)
    if json_out:
        _print_json(info)
        return
    _print_sweep(result, info)


def _print_sweep(result, info: dict[str, Any]) -> None:
    from qlearn.experiment.sweep import rank_statistic_name

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
        row = [str(c.id), *(_cell(c.params[k]) for k in spec.swept_keys)]
        row += [_num(c.mean), _ci(c.mean_ci), _num(c.iqm), _ci(c.iqm_ci)]
        if show_unfinished:
            row.append(str(c.greedy_unfinished))
        rows.append(row)
    table = _table(
        header,
        rows,
        title=f"ranked by {stat} (best first; {pct} percentile bootstrap CI, "
        f"{spec.bootstrap} resamples)",
    )
    out.print()
    _print_unwrapped(table)
    best = result.best
    params = ", ".join(f"{k}={_cell(v)}" for k, v in best.params.items()) or "(fixed options)"
    value = best.iqm if spec.rank_by == "iqm" else best.mean
    ci = best.iqm_ci if spec.rank_by == "iqm" else best.mean_ci
    out.print(f"\nbest: #{best.id} {params}: {stat} {_num(value)} {_ci(ci)}")
    if show_unfinished:
        out.print(
            "unfinished: seeds whose greedy policy may never reach a terminal; they score "
            "the return of an episode capped at max_steps"
        )
    out.print(f"figure: {info['figure']}")
    out.print(f"sweep folder: {info['sweep_dir']}")


def _print_unwrapped(table: Table) -> None:
    """Print a table at its natural width: rows stay on one line even on a narrow console."""
    from rich.measure import Measurement

    needed = Measurement.get(out, out.options.update_width(1000), table).maximum
    if needed <= out.width:
        out.print(table)
        return
    wide = Console(highlight=False, emoji=False, width=needed, file=out.file)
    wide.print(table)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _ci(ci) -> str:
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, str):
        try:
            return f"{float(value):.4g}"
        except ValueError:
            return value
    return str(value)


class _status:
    """A spinner on stderr while compiled work runs (silent when not a terminal)."""

    def __init__(self, what: str, quiet: bool = False):
        self.what = what
        self.active = not quiet and err.is_terminal
        self._status = None

    def __enter__(self):
        if self.active:
            self._status = err.status(self.what + "...")
            self._status.__enter__()
        return self

    def update(self, what: str) -> None:
        if self._status is not None:
            self._status.update(what + "...")

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.__exit__(*exc)
        return False


def _optional_ray_address(argv: list[str]) -> list[str]:
    """Let ``--ray`` stand alone (a local Ray instance): the bundled Click has no options
    with optional values, so a bare ``--ray`` gets the value ``local`` here."""
    out = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg == "--ray" and "sweep" in argv[:i]:
            after = argv[i + 1] if i + 1 < len(argv) else None
            if after is None or after.startswith("-") or after.endswith((".yaml", ".yml")):
                out.append(RAY_LOCAL)
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning bad input into one line and exit status 2."""
    argv = _optional_ray_address(sys.argv[1:] if argv is None else list(argv))
    try:
        code = app(args=argv, prog_name="qlearn", standalone_mode=False)
    except QlearnError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    except UsageError as exc:
        hint = (
            f" (see: qlearn {exc.ctx.info_name} --help)"
            if exc.ctx and exc.ctx.parent
            else (" (see: qlearn --help)")
        )
        err.print(f"error: {exc.format_message()}{hint}", markup=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted", markup=False)
        sys.exit(130)
    except ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
