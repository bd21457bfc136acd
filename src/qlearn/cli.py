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
from typer._click.core import ParameterSource
from typer._click.exceptions import ClickException, UsageError

from qlearn.core.errors import Interrupted, QlearnError

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
PlotOpt = Annotated[bool, typer.Option("--plot", help="Also write the figures as PNG files.")]


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


def _episode_list(text: str | None, option: str) -> tuple[int, ...]:
    """``"1,50,500"`` as a tuple of episodes (empty when not given)."""
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise QlearnError(f"cannot read {option} {text!r}; write episodes like 1,50,500") from None


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
    from qlearn.envs.registry import GYMNAX_ENVS, builtin_worlds, toy_text_ids

    worlds = builtin_worlds()
    gym_ids = toy_text_ids()
    compiled = list(GYMNAX_ENVS)
    if json_out:
        _print_json({"worlds": worlds, "gymnasium_finite": gym_ids, "dqn_compiled": compiled})
        return
    out.print("Built-in worlds (solve, train, explain; also --map FILE):")
    for name, description in worlds.items():
        out.print(f"  {name:<15} {description}")
    out.print("\nGymnasium worlds read as finite MDPs through env.P:")
    out.print("  " + ", ".join(gym_ids))
    out.print("\nDeep Q-networks (qlearn train ENV; --algo dqn on the worlds above):")
    out.print("  compiled end to end (gymnax): " + ", ".join(compiled))
    out.print(
        "  host loop: any Gymnasium id with discrete actions, e.g. CartPole-v1 or "
        "MountainCar-v0 with --backend gymnasium, ALE/Pong-v5 (Atari wrappers)"
    )


@app.command()
def solve(
    world: WorldArg = None,
    map_file: MapOpt = None,
    gamma: GammaOpt = None,
    step_reward: StepRewardOpt = None,
    slip: SlipOpt = None,
    env_arg: EnvArgOpt = None,
    tol: Annotated[float, typer.Option(help="Value-iteration tolerance on V*.")] = 1e-10,
    plot: PlotOpt = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write a run folder here (report, tables).")
    ] = None,
    runs_root: Annotated[
        Path, typer.Option("--runs", help="Where --plot puts a new folder without --out.")
    ] = Path("runs"),
    json_out: JsonOpt = False,
) -> None:
    """Solve a finite world exactly: Q*, V* and every optimal action.

    With --out or --plot it also writes a run folder (report.html, tables, and with
    --plot the figures as PNG files).
    """
    from qlearn.envs.registry import load_world
    from qlearn.mdp import solve as solve_mdp
    from qlearn.runs.folder import new_run_dir
    from qlearn.runs.solution import solution_summary, write_solution_run
    from qlearn.textview import policy_grid, q_rows, value_grid

    if not tol > 0:
        raise QlearnError(f"--tol must be above 0, got {tol}")
    env_kwargs = _env_kwargs(env_arg)
    mdp = load_world(
        world,
        map_file=map_file,
        gamma=gamma,
        step_reward=step_reward,
        slip=slip,
        env_kwargs=env_kwargs,
    )
    sol = solve_mdp(mdp, tol=tol)
    info = solution_summary(mdp, sol)
    if out_dir or plot:
        target = out_dir or new_run_dir(runs_root, f"{mdp.name}-solve")
        info["run_dir"] = str(target)
        config = {
            "world": world,
            "map_file": str(map_file) if map_file else None,
            "gamma": gamma,
            "step_reward": step_reward,
            "slip": slip,
            "env_kwargs": env_kwargs,
            "tol": tol,
        }
        with _status("drawing figures", quiet=json_out):
            write_solution_run(mdp, sol, target, info, config, plot=plot)
    if json_out:
        _print_json(info)
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
    if "run_dir" in info:
        out.print(f"run folder: {info['run_dir']}")


#: train's options that are fields of the tabular config (the rest steer the command).
CONFIG_OPTIONS = (
    "world", "map_file", "algo", "episodes", "alpha", "gamma", "epsilon", "decay",
    "decay_unit", "explore", "temperature", "q_init", "seeds", "seed", "max_steps",
    "policy", "step_reward", "slip", "snapshots",
)  # fmt: skip
#: train's options that are fields of the DQN config.
DQN_OPTIONS = (
    "world", "map_file", "algo", "double", "dueling", "n_step", "per", "per_alpha",
    "per_beta", "steps", "seeds", "seed", "num_envs", "lr", "lr_end", "batch_size",
    "buffer_size", "learning_starts", "target_update", "tau", "train_freq", "gradient_steps",
    "exploration_fraction", "start_eps", "final_eps", "net", "loss", "max_grad_norm", "gamma",
    "eval_every", "eval_episodes", "eval_epsilon", "max_steps", "backend",
)  # fmt: skip
TABULAR_ONLY = sorted(set(CONFIG_OPTIONS) - set(DQN_OPTIONS)) + ["from_log", "passes"]
DQN_ONLY = sorted(set(DQN_OPTIONS) - set(CONFIG_OPTIONS))


@app.command()
def train(
    ctx: typer.Context,
    world: WorldArg = None,
    map_file: MapOpt = None,
    algo: Annotated[
        str,
        typer.Option(
            help="q-learning, sarsa, expected-sarsa, double-q, td0, or dqn (the default for "
            "environments that are not finite worlds)."
        ),
    ] = "q-learning",
    episodes: Annotated[int, typer.Option(help="Tabular: episodes per seed.")] = 500,
    alpha: Annotated[str, typer.Option(help="Tabular: learning rate in (0, 1], or 1/n^W.")] = "0.5",
    gamma: GammaOpt = None,
    epsilon: Annotated[
        str, typer.Option(help="Tabular: START[:END[:N]], decaying over N units.")
    ] = "1:0.05",
    decay: Annotated[str, typer.Option(help="Tabular: linear or exponential.")] = "linear",
    decay_unit: Annotated[str, typer.Option(help="Tabular: episodes or steps.")] = "episodes",
    explore: Annotated[
        str, typer.Option(help="Tabular: epsilon-greedy or boltzmann.")
    ] = "epsilon-greedy",
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
    double: Annotated[bool, typer.Option("--double", help="DQN: Double DQN target.")] = False,
    dueling: Annotated[bool, typer.Option("--dueling", help="DQN: dueling head.")] = False,
    n_step: Annotated[int | None, typer.Option(help="DQN: n-step returns.")] = None,
    per: Annotated[bool, typer.Option("--per", help="DQN: prioritized replay.")] = False,
    per_alpha: Annotated[float | None, typer.Option(help="DQN: PER priority exponent.")] = None,
    per_beta: Annotated[float | None, typer.Option(help="DQN: PER initial beta (to 1).")] = None,
    steps: Annotated[int | None, typer.Option(help="DQN: environment steps per seed.")] = None,
    num_envs: Annotated[int | None, typer.Option(help="DQN: environments per seed.")] = None,
    lr: Annotated[float | None, typer.Option(help="DQN: Adam learning rate.")] = None,
    lr_end: Annotated[float | None, typer.Option(help="DQN: decay the rate to this.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="DQN: minibatch size.")] = None,
    buffer_size: Annotated[int | None, typer.Option(help="DQN: replay capacity.")] = None,
    learning_starts: Annotated[int | None, typer.Option(help="DQN: steps before learning.")] = None,
    target_update: Annotated[
        int | None, typer.Option(help="DQN: environment steps between target updates.")
    ] = None,
    tau: Annotated[float | None, typer.Option(help="DQN: target update rate (1: copy).")] = None,
    train_freq: Annotated[int | None, typer.Option(help="DQN: vector steps per round.")] = None,
    gradient_steps: Annotated[int | None, typer.Option(help="DQN: updates per round.")] = None,
    exploration_fraction: Annotated[
        float | None, typer.Option(help="DQN: share of the run over which epsilon decays.")
    ] = None,
    start_eps: Annotated[float | None, typer.Option(help="DQN: initial epsilon.")] = None,
    final_eps: Annotated[float | None, typer.Option(help="DQN: final epsilon.")] = None,
    net: Annotated[str | None, typer.Option(help="DQN: hidden layers, e.g. 256,256.")] = None,
    loss: Annotated[str | None, typer.Option(help="DQN: huber or mse.")] = None,
    max_grad_norm: Annotated[float | None, typer.Option(help="DQN: clip (0: off).")] = None,
    eval_every: Annotated[int | None, typer.Option(help="DQN: steps between evaluations.")] = None,
    eval_episodes: Annotated[int | None, typer.Option(help="DQN: episodes per evaluation.")] = None,
    eval_epsilon: Annotated[
        float | None, typer.Option(help="DQN: epsilon when evaluating.")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="DQN: auto, compiled (JAX) or gymnasium (host loop).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML file of options (flags given here override it).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue an interrupted run folder from its checkpoint.")
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(help="Save a resumable checkpoint every N episodes (DQN: N steps)."),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder to create.")] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run folders go.")] = Path(
        "runs"
    ),
    snapshots: Annotated[
        str | None, typer.Option(help="Keep the table after these episodes, e.g. 1,50,500.")
    ] = None,
    plot: PlotOpt = False,
    from_log: Annotated[
        Path | None, typer.Option(help="Learn only from logged transitions (CSV or Parquet).")
    ] = None,
    passes: Annotated[int, typer.Option(help="--from-log: sweeps through the log.")] = 10,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Train a learner (tabular, or DQN with --algo dqn), print what it learned, and
    write a run folder."""
    if checkpoint_every is not None and checkpoint_every < 1:
        raise QlearnError(f"--checkpoint-every must be at least 1, got {checkpoint_every}")
    kind = _training_kind(ctx, config, resume)
    if kind == "dqn":
        _train_dqn(ctx, config, resume, checkpoint_every, out_dir, runs_root, plot, quiet, json_out)
        return
    from qlearn.runs import job

    extra = [name for name in DQN_ONLY if _given(ctx, name)]
    if extra:
        raise QlearnError(
            f"--{extra[0].replace('_', '-')} is a DQN option; add --algo dqn "
            "(tabular learners take --episodes, --alpha, --epsilon, ...)"
        )
    given = {name: ctx.params[name] for name in CONFIG_OPTIONS if _given(ctx, name)}
    if from_log is not None:
        _train_from_log(given, from_log, passes, out_dir, runs_root, json_out)
        return
    if _given(ctx, "passes"):
        raise QlearnError("--passes only applies with --from-log LOG")
    if "snapshots" in given:
        given["snapshots"] = _episode_list(snapshots, "--snapshots")
    if resume is not None:
        _refuse_with_resume(given, config, resume)
        run_dir = resume
        cfg = job.resume_config(run_dir, "tabular")
    else:
        cfg = _training_config(given, config)
        if plot and not cfg.snapshots:  # the glow spreading back: after 1, 50 and 500 episodes
            cfg = cfg.replace(snapshots=tuple(e for e in (1, 50, 500) if e <= cfg.episodes))
        run_dir = out_dir or _new_run_dir(runs_root, cfg)
        job.start(cfg, run_dir)
    with _progress_bar(enabled=not (quiet or json_out)) as progress:
        run = job.train(
            cfg,
            run_dir,
            checkpoint_every=checkpoint_every,
            progress=progress,
            resume=resume is not None,
        )
    info = job.finish(run, run_dir, plot=plot)
    if json_out:
        _print_json(info)
        return
    _print_tabular(run, info)


def _refuse_with_resume(given: dict[str, Any], config: Path | None, run_dir: Path) -> None:
    """--resume takes no other options, and only an unfinished run folder."""
    if given or config is not None:
        raise QlearnError(
            "--resume continues a run exactly as it was configured; drop "
            + ", ".join(f"--{k.replace('_', '-')}" for k in given or ["config"])
        )
    if (Path(run_dir) / "summary.json").exists():
        raise QlearnError(f"{run_dir} already finished; nothing to resume")


def _training_kind(ctx: typer.Context, config: Path | None, resume: Path | None) -> str:
    """tabular or dqn: from the run being resumed, --algo, the config file, or (with no
    algorithm named anywhere) the environment: finite worlds train tabular learners."""
    from qlearn.configs.kind import training_kind
    from qlearn.configs.tabular_config import load_config_file
    from qlearn.runs.folder import read_config

    if resume is not None:
        return "dqn" if read_config(resume).get("kind") == "dqn" else "tabular"
    options = load_config_file(config) if config else {}
    algo = ctx.params["algo"] if _given(ctx, "algo") else options.get("algo")
    if algo is None and any(_given(ctx, name) for name in DQN_ONLY):
        return "dqn"
    world = ctx.params["world"] if _given(ctx, "world") else options.get("world")
    map_file = ctx.params["map_file"] if _given(ctx, "map_file") else options.get("map_file")
    return training_kind(algo, world, map_file)


def _net_widths(text: str) -> list[int]:
    try:
        widths = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise QlearnError(f"cannot read --net {text!r}; write layer widths like 64,64") from None
    if not widths:
        raise QlearnError("--net needs at least one layer width, e.g. 64,64")
    return widths


def _train_dqn(
    ctx: typer.Context, config: Path | None, resume: Path | None, checkpoint_every: int | None,
    out_dir: Path | None, runs_root: Path, plot: bool, quiet: bool, json_out: bool,
) -> None:  # fmt: skip
    """``train --algo dqn``: resolve the configuration, train chunk by chunk, report."""
    from qlearn.deep.train import resolve_config
    from qlearn.runs import job

    extra = [name for name in TABULAR_ONLY if _given(ctx, name)]
    if extra:
        raise QlearnError(
            f"--{extra[0].replace('_', '-')} does not apply to dqn "
            "(it takes --steps, --lr, --final-eps, ...; see qlearn train --help)"
        )
    given = {name: ctx.params[name] for name in DQN_OPTIONS if _given(ctx, name)}
    if "net" in given:
        given["net"] = _net_widths(given["net"])
    if resume is not None:
        _refuse_with_resume(given, config, resume)
        run_dir = resume
        cfg = job.resume_config(run_dir, "dqn")
    else:
        from qlearn.configs.tabular_config import load_config_file

        options = load_config_file(config) if config else {}
        if "map_file" in given:
            given["map_file"] = str(given["map_file"])
            if "world" in given:
                raise QlearnError("give either a world name or --map FILE, not both")
            options["world"] = None
        elif "world" in given:
            options["map_file"] = None
        options = {**options, **given, "algo": "dqn"}
        source = f"config file {str(config)!r}" if config else "the command line"
        cfg = resolve_config(options, source)
        run_dir = out_dir or _new_run_dir(runs_root, cfg)
        job.start(cfg, run_dir)
    with _dqn_progress_bar(enabled=not (quiet or json_out)) as progress:
        run = job.train(
            cfg, run_dir, checkpoint_every=checkpoint_every, progress=progress,
            resume=resume is not None,
        )  # fmt: skip
    info = job.finish(run, run_dir, plot=plot)
    if json_out:
        _print_json(info)
        return
    _print_dqn(run, info)


def _print_dqn(run, info: dict[str, Any]) -> None:
    cfg = run.config
    net = "x".join(str(w) for w in cfg.net)
    out.print(
        f"[bold]{info['variant']}[/bold] on {info['world']} ({info['backend']}): "
        f"{run.env_steps:,} steps x {cfg.seeds} seed(s), lr {cfg.lr:g}, batch {cfg.batch_size}, "
        f"net {net}, gamma {cfg.discount:g}"
    )
    total = info["env_steps"]
    out.print(
        f"{total:,} environment steps in {info['train_seconds']:.1f} s "
        f"({info['steps_per_second']:,} steps/s), plus {info['compile_seconds']:.1f} s compiling"
    )
    how = "greedy" if cfg.eval_epsilon == 0 else f"epsilon {cfg.eval_epsilon:g}"
    out.print(
        f"\nfinal evaluation ({cfg.eval_episodes} {how} episodes per seed, separate "
        f"environments): mean {info['eval_mean']:.4g}"
    )
    header = ["seed", "eval mean", "eval std", "best eval"]
    solved = "reward_threshold" in info
    if solved:
        header.append("first solved at step")
    if "q" in info:
        header += ["max |Q - Q*|", "optimal share"]
    rows = []
    for p in info["per_seed"]:
        row = [
            str(p["seed"]),
            f"{p['eval_mean']:.4g}",
            f"{p['eval_std']:.3g}",
            f"{p['best_eval_mean']:.4g}",
        ]
        if solved:
            row.append("-" if p["first_solved_step"] is None else f"{p['first_solved_step']:,}")
        if "q" in info:
            row += [f"{p['gap']:.4f}", f"{p['optimal_share']:.0%}"]
        rows.append(row)
    out.print(_table(header, rows))
    if solved:
        out.print(
            f"{info['solved_seeds']}/{cfg.seeds} seed(s) solved (final evaluation >= "
            f"{info['reward_threshold']:g})"
        )
    if "q" in info:
        from qlearn.mdp import greedy_ties
        from qlearn.textview import policy_grid, q_rows

        mdp = run.target.mdp
        ties = greedy_ties(run.q, mdp.legal, atol=0.0)
        out.print()
        out.print(
            _table(
                *q_rows(mdp, run.q, ties), title="Learned Q (network, mean over seeds; * = greedy)"
            )
        )
        if mdp.layout is not None:
            out.print("\nGreedy policy of the network:")
            out.print(policy_grid(mdp, ties))
        out.print(f"V*(start) = {info['v_star_start']:.4g}")
    out.print(f"run folder: {info['run_dir']}")


class _dqn_progress_bar:
    """A progress bar on stderr over environment steps, with the last evaluation."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and err.is_terminal
        self.bar = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("training"), BarColumn(), TextColumn("{task.completed:,} steps"),
            TimeElapsedColumn(), TextColumn("{task.fields[headline]}"), console=err,
            transient=True,
        )  # fmt: skip
        self.bar.__enter__()
        self.task = self.bar.add_task("train", total=None, headline="compiling")
        return self.update

    def update(self, done: int, total: int, history) -> None:
        evals = history.arrays["eval_return"]
        headline = f"eval mean {evals[:, -1].mean():.4g}" if evals.shape[1] else ""
        self.bar.update(self.task, completed=done, total=total, headline=headline)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _train_from_log(
    given: dict[str, Any], log_path: Path, passes: int, out_dir: Path | None, runs_root: Path,
    json_out: bool,
) -> None:  # fmt: skip
    """``train --from-log``: learn a table from logged transitions alone."""
    from qlearn.runs.folder import new_run_dir
    from qlearn.runs.logs import offline_summary, read_log, write_offline_run
    from qlearn.tabular.offline import check_log, learn_from_log
    from qlearn.tabular.train import world_of

    allowed = {"world", "map_file", "algo", "alpha", "gamma", "q_init", "seed"}
    extra = sorted(set(given) - allowed)
    if extra:
        raise QlearnError(
            f"--{extra[0].replace('_', '-')} does not apply with --from-log "
            "(it takes --algo, --alpha, --gamma, --q-init, --seed, --passes)"
        )
    cfg = _training_config(dict(given), None)
    mdp = world_of(cfg)
    log = check_log(read_log(log_path), mdp, source=str(log_path))
    with _status("learning from the log", quiet=json_out):
        run = learn_from_log(
            mdp,
            log,
            algo=cfg.algo,
            alpha=cfg.alpha,
            passes=passes,
            q_init=cfg.q_init,
            seed=cfg.seed,
        )
    target = out_dir or new_run_dir(runs_root, f"{mdp.name}-{cfg.algo}-offline")
    info = offline_summary(run, str(log_path))
    info["run_dir"] = str(target)
    config = {"world": cfg.world, "map_file": cfg.map_file, "algo": cfg.algo, "alpha": cfg.alpha,
              "gamma": cfg.gamma, "q_init": cfg.q_init, "seed": cfg.seed, "passes": passes,
              "from_log": str(log_path)}  # fmt: skip
    write_offline_run(run, target, info, config)
    if json_out:
        _print_json(info)
        return
    from qlearn.mdp import greedy_ties
    from qlearn.textview import policy_grid, q_rows

    ties = greedy_ties(run.q, mdp.legal, atol=0.0)
    out.print(
        f"[bold]{run.algo}[/bold] on {mdp.name} from {log_path}: {run.transitions:,} "
        f"logged transitions x {passes} passes, alpha {cfg.alpha}, gamma {run.solution.gamma:g}"
    )
    out.print()
    out.print(_table(*q_rows(mdp, run.q, ties), title="Learned Q (* = greedy)"))
    if mdp.layout is not None:
        out.print("\nGreedy policy of the learned table:")
        out.print(policy_grid(mdp, ties))
    out.print(
        f"\nmax |Q - Q*| after the last pass: {run.gaps[-1]:.4f}; greedy actions optimal "
        f"in {run.optimal_share:.0%} of states"
    )
    ret = info["greedy_return"]
    out.print(
        "greedy return from the start: "
        + ("never reaches a terminal" if ret is None else f"{ret:.4g}")
    )
    out.print(f"run folder: {target}")


@app.command()
def collect(
    world: WorldArg = None,
    map_file: MapOpt = None,
    policy: Annotated[
        str,
        typer.Option(help="random, optimal, epsilon:E, greedy-from:RUN or epsilon:E:RUN."),
    ] = "random",
    episodes: Annotated[int, typer.Option(help="Episodes to log.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the logging run.")] = 0,
    gamma: GammaOpt = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on episode length.")] = None,
    out_file: Annotated[Path, typer.Option("--out", help="Log file: .csv or .parquet.")] = Path(
        "log.csv"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Play a fixed policy and log its transitions (s, a, r, s', done) for offline learning."""
    from qlearn.envs.registry import load_world
    from qlearn.runs.logs import behaviour_policy, write_log
    from qlearn.tabular.offline import collect as roll_out

    if out_file.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise QlearnError(f"--out {str(out_file)!r}: use a .csv or .parquet file name")
    if max_steps is not None and max_steps < 1:
        raise QlearnError(f"--max-steps must be at least 1, got {max_steps}")
    if seed < 0:
        raise QlearnError(f"--seed must be at least 0, got {seed}")
    mdp = load_world(None if map_file else world, map_file=map_file, gamma=gamma)
    log = roll_out(mdp, behaviour_policy(mdp, policy), episodes, seed, max_steps)
    write_log(log, out_file)
    info = {"world": mdp.name, "policy": policy, "episodes": episodes,
            "transitions": len(log), "out": str(out_file)}  # fmt: skip
    if json_out:
        _print_json(info)
        return
    out.print(
        f"logged {len(log):,} transitions from {episodes} episodes of the {policy} "
        f"policy on {mdp.name} to {out_file}"
    )


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed this option (rather than it taking its default)."""
    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


def _training_config(given: dict[str, Any], config_file: Path | None):
    """The validated config: the file's options, overridden by the flags given."""
    from qlearn.configs.tabular_config import TabularConfig, config_from_mapping, load_config_file
    from qlearn.tabular.train import world_of

    options = load_config_file(config_file) if config_file else {}
    if "map_file" in given:
        given["map_file"] = str(given["map_file"])
        if "world" in given:
            raise QlearnError("give either a world name or --map FILE, not both")
        options["world"] = None
    elif "world" in given:
        options["map_file"] = None
    source = f"config file {str(config_file)!r}" if config_file else "the command line"
    cfg = config_from_mapping(TabularConfig, {**options, **given}, source)
    world_of(cfg)  # refuse an unknown world before creating the run folder
    return cfg


def _new_run_dir(root: Path, cfg) -> Path:
    from qlearn.runs.folder import new_run_dir

    name = Path(cfg.map_file).stem if cfg.map_file else str(cfg.world).replace("/", "-")
    return new_run_dir(root, f"{name}-{cfg.algo}")


class _progress_bar:
    """A progress bar on stderr with the live mean return and gap (terminals only)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and err.is_terminal
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("training"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[headline]}"),
            console=err, transient=True,
        )  # fmt: skip
        self.bar.__enter__()
        self.task = self.bar.add_task("train", total=None, headline="")
        return self.update

    def update(self, done: int, total: int, runs) -> None:
        import numpy as np

        recent = runs.returns[:, max(0, done - max(1, total // 100)) : done]
        headline = f"mean return {np.mean(recent):.3g}"
        gap = runs.gaps[:, done - 1]
        if np.isfinite(gap).all():
            headline += f"  |Q-Q*| {np.mean(gap):.3g}"
        self.bar.update(self.task, completed=done, total=total, headline=headline)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


@app.command()
def explain(
    world: WorldArg = "classic",
    map_file: MapOpt = None,
    algo: Annotated[str, typer.Option(help="q-learning, sarsa or expected-sarsa.")] = "q-learning",
    alpha: Annotated[float, typer.Option(help="Learning rate in (0, 1].")] = 0.5,
    gamma: GammaOpt = None,
    steps: Annotated[
        str | None, typer.Option(help='Scripted moves, e.g. "(3,3)E x4, (3,2)N".')
    ] = None,
    episodes: Annotated[
        int | None, typer.Option(help="Narrate K real epsilon-greedy episodes instead.")
    ] = None,
    epsilon: Annotated[str, typer.Option(help="Exploration while narrating episodes.")] = "0.1",
    seed: Annotated[int, typer.Option(help="Seed of the episodes (same as train's).")] = 0,
    max_steps: Annotated[int | None, typer.Option(help="Cap on episode length.")] = None,
    step_reward: StepRewardOpt = None,
    slip: SlipOpt = None,
    full: Annotated[bool, typer.Option(help="Print updates that change nothing too.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Narrate each update with its arithmetic: target, prediction, TD error, new value."""
    from qlearn.envs.registry import load_world
    from qlearn.tabular.explain import changed_entries, narration_lines
    from qlearn.tabular.explain import explain as narrate

    mdp = load_world(
        None if map_file else world, map_file=map_file, step_reward=step_reward, slip=slip
    )
    narration = narrate(
        mdp,
        steps=steps,
        episodes=episodes,
        algo=algo,
        alpha=alpha,
        gamma=gamma,
        epsilon=epsilon,
        seed=seed,
        max_steps=max_steps,
    )
    if json_out:
        _print_json(narration.to_dict())
        return
    for line in narration_lines(narration, full=full):
        out.print(line, markup=False)
    moved = changed_entries(narration)
    out.print("\nTable entries that moved: " + ("; ".join(moved) if moved else "none"))


@app.command()
def compare(
    world: WorldArg = None,
    map_file: MapOpt = None,
    algos: Annotated[
        str, typer.Option(help="Comma-separated, e.g. q-learning,sarsa or q-learning,double-q.")
    ] = "q-learning,sarsa",
    episodes: Annotated[int, typer.Option(help="Episodes per seed.")] = 500,
    seeds: Annotated[int, typer.Option(help="Seeds per learner (the same for every one).")] = 100,
    seed: Annotated[int, typer.Option(help="First seed.")] = 0,
    alpha: Annotated[str, typer.Option(help="Learning rate; several: 0.1,0.5.")] = "0.5",
    epsilon: Annotated[str, typer.Option(help="Exploration; several: 0,0.1.")] = "0.1",
    window: Annotated[
        str | None, typer.Option(help="Episodes FROM:TO to average (default: second half).")
    ] = None,
    gamma: GammaOpt = None,
    max_steps: Annotated[int | None, typer.Option(help="Cap on episode length.")] = None,
    step_reward: StepRewardOpt = None,
    slip: SlipOpt = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder to create.")] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run folders go.")] = Path(
        "runs"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Train several learners on the same seeds; compare online reward and greedy returns."""
    from qlearn.experiments.compare import compare as run_comparison
    from qlearn.experiments.compare import comparison_summary
    from qlearn.experiments.compare_run import write_comparison_run
    from qlearn.runs.folder import new_run_dir

    if map_file and world:
        raise QlearnError("give either a world name or --map FILE, not both")
    if not (world or map_file):
        raise QlearnError("name a world to compare on, e.g. `qlearn compare cliff`")
    with _status("training", quiet=json_out):
        cmp = run_comparison(
            None if map_file else world,
            map_file=str(map_file) if map_file else None,
            algos=algos,
            episodes=episodes,
            seeds=seeds,
            seed=seed,
            alpha=alpha,
            epsilon=epsilon,
            window=window,
            gamma=gamma,
            max_steps=max_steps,
            step_reward=step_reward,
            slip=slip,
        )
    info = comparison_summary(cmp)
    target = out_dir or new_run_dir(runs_root, f"compare-{cmp.mdp.name}")
    info["run_dir"] = str(target)
    info["figure"] = str(target / "compare.png")
    with _status("drawing figures", quiet=json_out):
        write_comparison_run(cmp, target, info)
    if json_out:
        _print_json(info)
        return
    _print_comparison(info)


def _print_comparison(info: dict[str, Any]) -> None:
    from qlearn.experiments.compare import difference
    from qlearn.experiments.compare_run import comparison_rows

    out.print(
        f"[bold]{info['world']}[/bold]: {info['episodes']} episodes x {info['seeds']} seeds "
        f"(seeds {info['seed']}-{info['seed'] + info['seeds'] - 1}, the same for every learner)"
    )
    header, rows = comparison_rows(info)
    text_rows = [[r[0], f"{r[1]:.4g}", f"{r[2]:.3g}", *map(str, r[3:])] for r in rows]
    out.print(_table(header, text_rows))
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


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by qlearn.")],
    json_out: JsonOpt = False,
) -> None:
    """Draw a saved run's figures (PNG) and report.html again, from its files alone."""
    from qlearn.experiments.replot import replot

    written = replot(run_dir)
    if json_out:
        _print_json({"run_dir": str(run_dir), "files": [str(p) for p in written]})
        return
    for path in written:
        out.print(str(path), markup=False)


@app.command(name="eval")
def eval_run(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by qlearn train.")],
    episodes: Annotated[
        int | None, typer.Option(help="Episodes per seed (default: the run's own).")
    ] = None,
    epsilon: Annotated[
        float | None, typer.Option(help="Exploration while evaluating (default: greedy).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the evaluation episodes.")] = 0,
    best: Annotated[
        bool, typer.Option("--best", help="DQN: the parameters of the best evaluation.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a saved run's policy on fresh episodes (greedy unless --epsilon)."""
    from qlearn.experiments.evaluate import evaluate_run

    with _status("evaluating", quiet=json_out):
        info = evaluate_run(run_dir, episodes, epsilon, seed, best)
    if json_out:
        _print_json(info)
        return
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
    out.print(_table(header, rows))
    out.print(f"mean over seeds: {info['eval_mean']:.4g}")


@app.command()
def tour(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Tour folder to create.")] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run folders go.")] = Path(
        "runs"
    ),
    seed: Annotated[int, typer.Option(help="First seed of every run.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """The whole tutorial in one command: solve, narrate, train, greedy trap, cliff."""
    from qlearn.runs.folder import new_run_dir
    from qlearn.tour import TourSettings, run_tour

    if seed < 0:
        raise QlearnError(f"seed must be at least 0, got {seed}; pass e.g. --seed 0")
    target = out_dir or new_run_dir(runs_root, "tour")
    say = (lambda _msg: None) if json_out else (lambda msg: out.print(msg, markup=False))
    results = run_tour(target, TourSettings(seed=seed), progress=say)
    if json_out:
        _print_json(results)
        return
    out.print(f"\nreport: {target / 'report.html'}")
    out.print(f"run folder: {target}")


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
    from qlearn.experiments.sweep import load_spec, run_sweep, write_sweep
    from qlearn.runs.folder import new_run_dir

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
    except Interrupted as exc:
        err.print(str(exc), markup=False, soft_wrap=True)
        sys.exit(130)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted", markup=False)
        sys.exit(130)
    except ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
