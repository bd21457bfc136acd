"""The commands: parse the options, call one library function, hand the result to
:mod:`qlearn.cli.show`.

Heavy modules (NumPy kernels, Numba, JAX) are imported inside the commands, so that
``qlearn --help`` starts fast and each command loads only its own half of the library.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

# Typer 0.29 vendors Click; its exceptions live here (the version is pinned).
from typer._click.exceptions import ClickException, UsageError

import qlearn.cli.options as opt
import qlearn.cli.show as show
from qlearn.cli.progress import Status, episode_bar, step_bar
from qlearn.cli.text_commands import text_app
from qlearn.core.errors import Interrupted, QlearnError

app = typer.Typer(
    help="Value-based reinforcement learning: exact solutions, tabular Q-learning, DQN.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(text_app, name="text")


@app.command()
def envs(json_out: opt.Json = False) -> None:
    """List the worlds and environments qlearn can use."""
    from qlearn.envs.registry import GYMNAX_ENVS, builtin_worlds, toy_text_ids

    worlds, gym_ids, compiled = builtin_worlds(), toy_text_ids(), list(GYMNAX_ENVS)
    show.either(
        json_out,
        {"worlds": worlds, "gymnasium_finite": gym_ids, "dqn_compiled": compiled},
        lambda: show.print_envs(worlds, gym_ids, compiled),
    )


@app.command()
def solve(
    world: opt.WorldArg = None,
    map_file: opt.Map = None,
    gamma: opt.Gamma = None,
    step_reward: opt.StepReward = None,
    slip: opt.Slip = None,
    env_arg: opt.EnvArg = None,
    tol: opt.Tol = 1e-10,
    method: opt.SolveMethod = "auto",
    plot: opt.Plot = False,
    out_dir: opt.SolveOutDir = None,
    runs_root: opt.SolveRuns = Path("runs"),
    json_out: opt.Json = False,
) -> None:
    """Solve a finite world exactly: Q*, V* and every optimal action.

    With --out or --plot it also writes a run folder (report.html, tables, and with
    --plot the figures as PNG files).
    """
    from qlearn.envs.registry import load_world
    from qlearn.exact import solve as solve_mdp
    from qlearn.runs.folder import new_run_dir
    from qlearn.runs.solution import solution_summary, write_solution_run

    if not tol > 0:
        raise QlearnError(f"--tol must be above 0, got {tol}")
    kwargs = opt.env_kwargs(env_arg)
    mdp = load_world(world, map_file=map_file, gamma=gamma, step_reward=step_reward, slip=slip,
                     env_kwargs=kwargs)  # fmt: skip
    sol = solve_mdp(mdp, tol=tol, method=method)
    info = solution_summary(mdp, sol)
    if out_dir or plot:
        target = out_dir or new_run_dir(runs_root, f"{mdp.name}-solve")
        info["run_dir"] = str(target)
        config = {"world": world, "map_file": str(map_file) if map_file else None,
                  "gamma": gamma, "step_reward": step_reward, "slip": slip,
                  "env_kwargs": kwargs, "tol": tol, "method": method}  # fmt: skip
        with Status("drawing figures", quiet=json_out):
            write_solution_run(mdp, sol, target, info, config, plot=plot)
    show.either(json_out, info, lambda: show.print_solution(mdp, sol, info))


@app.command()
def train(
    ctx: typer.Context,
    world: opt.WorldArg = None,
    map_file: opt.Map = None,
    algo: opt.TrainAlgo = "q-learning",
    episodes: opt.TrainEpisodes = 500,
    alpha: opt.TrainAlpha = "0.5",
    gamma: opt.Gamma = None,
    epsilon: opt.TrainEpsilon = "1:0.05",
    decay: opt.Decay = "linear",
    decay_unit: opt.DecayUnit = "episodes",
    explore: opt.Explore = "epsilon-greedy",
    temperature: opt.Temperature = "1",
    q_init: opt.QInit = 0.0,
    seeds: opt.TrainSeeds = 1,
    seed: opt.TrainSeed = 0,
    max_steps: opt.MaxSteps = None,
    policy: opt.TrainPolicy = "random",
    step_reward: opt.StepReward = None,
    slip: opt.Slip = None,
    double: opt.Double = False,
    dueling: opt.Dueling = False,
    n_step: opt.NStep = None,
    per: opt.Per = False,
    per_alpha: opt.PerAlpha = None,
    per_beta: opt.PerBeta = None,
    steps: opt.TrainSteps = None,
    num_envs: opt.NumEnvs = None,
    lr: opt.Lr = None,
    lr_end: opt.LrEnd = None,
    batch_size: opt.BatchSize = None,
    buffer_size: opt.BufferSize = None,
    learning_starts: opt.LearningStarts = None,
    target_update: opt.TargetUpdate = None,
    tau: opt.Tau = None,
    train_freq: opt.TrainFreq = None,
    gradient_steps: opt.GradientSteps = None,
    exploration_fraction: opt.ExplorationFraction = None,
    start_eps: opt.StartEps = None,
    final_eps: opt.FinalEps = None,
    net: opt.Net = None,
    loss: opt.Loss = None,
    max_grad_norm: opt.MaxGradNorm = None,
    eval_every: opt.EvalEvery = None,
    eval_episodes: opt.EvalEpisodes = None,
    eval_epsilon: opt.EvalEpsilon = None,
    backend: opt.Backend = None,
    distributional: opt.Distributional = None,
    atoms: opt.Atoms = None,
    v_min: opt.VMin = None,
    v_max: opt.VMax = None,
    quantiles: opt.Quantiles = None,
    noisy: opt.Noisy = False,
    munchausen: opt.Munchausen = False,
    rainbow: opt.Rainbow = False,
    n_step_correction: opt.NStepCorrection = None,
    lam: opt.Lam = None,
    traces: opt.Traces = None,
    config: opt.Config = None,
    resume: opt.Resume = None,
    checkpoint_every: opt.CheckpointEvery = None,
    out_dir: opt.RunDir = None,
    runs_root: opt.Runs = Path("runs"),
    snapshots: opt.Snapshots = None,
    plot: opt.Plot = False,
    from_log: opt.FromLog = None,
    passes: opt.Passes = 10,
    quiet: opt.Quiet = False,
    json_out: opt.Json = False,
) -> None:
    """Train a learner (tabular, or DQN with --algo dqn), print what it learned, and
    write a run folder."""
    from qlearn.runs import job
    from qlearn.runs.folder import saved_config, training_run_dir

    if checkpoint_every is not None and checkpoint_every < 1:
        raise QlearnError(f"--checkpoint-every must be at least 1, got {checkpoint_every}")
    kind = opt.chosen_kind(ctx, config, resume)
    opt.refuse_other_kinds_options(ctx, kind)
    given = opt.given_config_options(ctx, kind)
    if from_log is not None:
        _train_from_log(given, from_log, passes, out_dir, runs_root, json_out)
        return
    if opt.was_given(ctx, "passes"):
        raise QlearnError("--passes only applies with --from-log LOG")
    if "snapshots" in given:
        given["snapshots"] = opt.episode_list(snapshots, "--snapshots")
    if "net" in given:
        given["net"] = opt.net_widths(given["net"])
    if resume is not None:
        opt.refuse_with_resume(given, config, resume)
        run_dir = resume
        cfg = saved_config(run_dir, kind)
    else:
        cfg = opt.training_config(kind, given, config)
        if plot and kind == "tabular" and not cfg.snapshots:  # the glow spreading back
            cfg = cfg.replace(snapshots=tuple(e for e in (1, 50, 500) if e <= cfg.episodes))
        run_dir = out_dir or training_run_dir(runs_root, cfg)
        job.start(cfg, run_dir)
    show.print_estimate(job.work_estimate(cfg))
    bar = episode_bar if kind == "tabular" else step_bar
    with bar(enabled=not (quiet or json_out)) as progress:
        run = job.train(cfg, run_dir, checkpoint_every=checkpoint_every, progress=progress,
                        resume=resume is not None)  # fmt: skip
    info = job.finish(run, run_dir, plot=plot)
    show.either(
        json_out,
        info,
        lambda: (show.print_tabular if kind == "tabular" else show.print_dqn)(run, info),
    )


def _train_from_log(
    given: dict[str, Any], log_path: Path, passes: int, out_dir: Path | None, runs_root: Path,
    json_out: bool,
) -> None:  # fmt: skip
    """``train --from-log``: learn a table from logged transitions alone."""
    from qlearn.runs.logs import learn_from_log_file

    allowed = {"world", "map_file", "algo", "alpha", "gamma", "q_init", "seed"}
    extra = sorted(set(given) - allowed)
    if extra:
        raise QlearnError(
            f"{opt.flag(extra[0])} does not apply with --from-log "
            "(it takes --algo, --alpha, --gamma, --q-init, --seed, --passes)"
        )
    cfg = opt.training_config("tabular", given, None)
    with Status("learning from the log", quiet=json_out):
        run, info = learn_from_log_file(
            cfg, log_path, passes, out_dir or runs_root, out_dir is None
        )
    show.either(json_out, info, lambda: show.print_offline(run, info, cfg.alpha))


@app.command()
def collect(
    world: opt.WorldArg = None,
    map_file: opt.Map = None,
    policy: opt.CollectPolicy = "random",
    episodes: opt.CollectEpisodes = 100,
    seed: opt.CollectSeed = 0,
    gamma: opt.Gamma = None,
    max_steps: opt.MaxSteps = None,
    out_file: opt.OutFile = Path("log.csv"),
    json_out: opt.Json = False,
) -> None:
    """Play a fixed policy and log its transitions (s, a, r, s', done) for offline learning."""
    from qlearn.envs.registry import load_world
    from qlearn.runs.logs import behaviour_policy, check_log_path, write_log
    from qlearn.tabular.offline import collect as roll_out

    check_log_path(out_file)
    mdp = load_world(None if map_file else world, map_file=map_file, gamma=gamma)
    log = roll_out(mdp, behaviour_policy(mdp, policy), episodes, seed, max_steps)
    write_log(log, out_file)
    info = {"world": mdp.name, "policy": policy, "episodes": episodes,
            "transitions": len(log), "out": str(out_file)}  # fmt: skip
    show.either(json_out, info, lambda: show.print_collected(info))


@app.command()
def explain(
    world: opt.WorldArg = "classic",
    map_file: opt.Map = None,
    algo: opt.ExplainAlgo = "q-learning",
    alpha: opt.ExplainAlpha = 0.5,
    gamma: opt.Gamma = None,
    steps: opt.ExplainSteps = None,
    episodes: opt.ExplainEpisodes = None,
    epsilon: opt.ExplainEpsilon = "0.1",
    seed: opt.ExplainSeed = 0,
    max_steps: opt.MaxSteps = None,
    step_reward: opt.StepReward = None,
    slip: opt.Slip = None,
    lam: opt.Lam = None,
    traces: opt.Traces = None,
    full: opt.Full = False,
    json_out: opt.Json = False,
) -> None:
    """Narrate each update with its arithmetic: target, prediction, TD error, new value."""
    from qlearn.envs.registry import load_world
    from qlearn.tabular.explain import explain as narrate

    mdp = load_world(
        None if map_file else world, map_file=map_file, step_reward=step_reward, slip=slip
    )
    narration = narrate(mdp, steps=steps, episodes=episodes, algo=algo, alpha=alpha, gamma=gamma,
                        epsilon=epsilon, seed=seed, max_steps=max_steps, lam=lam,
                        traces=traces)  # fmt: skip
    show.either(json_out, narration.to_dict(), lambda: show.print_narration(narration, full=full))


@app.command()
def compare(
    world: opt.WorldArg = None,
    map_file: opt.Map = None,
    algos: opt.Algos = "q-learning,sarsa",
    episodes: opt.CompareEpisodes = 500,
    seeds: opt.CompareSeeds = 100,
    seed: opt.CompareSeed = 0,
    alpha: opt.CompareAlpha = "0.5",
    epsilon: opt.CompareEpsilon = "0.1",
    window: opt.Window = None,
    gamma: opt.Gamma = None,
    max_steps: opt.MaxSteps = None,
    step_reward: opt.StepReward = None,
    slip: opt.Slip = None,
    lam: opt.Lam = None,
    traces: opt.Traces = None,
    out_dir: opt.RunDir = None,
    runs_root: opt.Runs = Path("runs"),
    json_out: opt.Json = False,
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
    with Status("training", quiet=json_out):
        cmp = run_comparison(
            None if map_file else world, map_file=str(map_file) if map_file else None,
            algos=algos, episodes=episodes, seeds=seeds, seed=seed, alpha=alpha, epsilon=epsilon,
            window=window, gamma=gamma, max_steps=max_steps, step_reward=step_reward, slip=slip,
            lam=lam, traces=traces,
        )  # fmt: skip
    info = comparison_summary(cmp)
    target = out_dir or new_run_dir(runs_root, f"compare-{cmp.mdp.name}")
    info["run_dir"] = str(target)
    info["figure"] = str(target / "compare.png")
    with Status("drawing figures", quiet=json_out):
        write_comparison_run(cmp, target, info)
    show.either(json_out, info, lambda: show.print_comparison(info))


@app.command()
def plot(run_dir: opt.PlotRunDirArg, json_out: opt.Json = False) -> None:
    """Draw a saved run's figures (PNG) and report.html again, from its files alone."""
    from qlearn.experiments.replot import replot

    written = replot(run_dir)
    show.either(
        json_out,
        {"run_dir": str(run_dir), "files": [str(p) for p in written]},
        lambda: show.print_paths(written),
    )


@app.command()
def plan(
    world: opt.WorldArg = None,
    map_file: opt.Map = None,
    planner: opt.Planner = "greedy,mcts",
    simulations: opt.Simulations = "16",
    from_run: opt.FromRun = None,
    q: opt.QSource = None,
    prior: opt.Prior = "learned",
    leaf: opt.Leaf = "learned",
    temperature: opt.PriorTemperature = 1.0,
    episodes: opt.PlanEpisodes = 1,
    seeds: opt.PlanSeeds = 1,
    seed: opt.PlanSeed = 0,
    start: opt.Start = None,
    max_steps: opt.PlanMaxSteps = None,
    gamma: opt.Gamma = None,
    step_reward: opt.StepReward = None,
    slip: opt.Slip = None,
    out_dir: opt.RunDir = None,
    runs_root: opt.Runs = Path("runs"),
    json_out: opt.Json = False,
) -> None:
    """Plan with a value table (MCTS, Gumbel MuZero, A*, Q* search) from every start
    state, judged by its regret against the exact optimum."""
    from qlearn.envs.registry import load_world
    from qlearn.experiments.plan import PlanSettings, plan_summary, plan_with, run_label
    from qlearn.experiments.plan_run import write_plan_run
    from qlearn.runs.folder import new_run_dir

    source = opt.value_source(from_run, q)
    settings = PlanSettings(
        planners=tuple(p.strip() for p in planner.split(",") if p.strip()),
        simulations=opt.int_list(simulations, "--simulations"), episodes=episodes, seeds=seeds,
        seed=seed, prior=prior, leaf=leaf, temperature=temperature, horizon=max_steps,
        start=start,
    )  # fmt: skip
    mdp = load_world(world, map_file=map_file, gamma=gamma, step_reward=step_reward, slip=slip)
    with Status("planning", quiet=json_out):
        result = plan_with(mdp, source, settings)
    target = out_dir or new_run_dir(runs_root, f"{mdp.name.replace(':', '-')}-plan")
    info = {**plan_summary(result), "value_label": run_label(source), "run_dir": str(target)}
    world_record = {"world": world, "map_file": str(map_file) if map_file else None,
                    "gamma": gamma, "step_reward": step_reward, "slip": slip}  # fmt: skip
    write_plan_run(result, target, info, world_record)
    show.either(json_out, info, lambda: show.print_plan(info))


@app.command(name="eval")
def eval_run(
    run_dir: opt.EvaluateRunDirArg,
    episodes: opt.EvaluateEpisodes = None,
    epsilon: opt.EvaluateEpsilon = None,
    seed: opt.EvaluateSeed = 0,
    best: opt.EvaluateBest = False,
    json_out: opt.Json = False,
) -> None:
    """Evaluate a saved run's policy on fresh episodes (greedy unless --epsilon)."""
    from qlearn.experiments.evaluate import evaluate_run

    with Status("evaluating", quiet=json_out):
        info = evaluate_run(run_dir, episodes, epsilon, seed, best)
    show.either(json_out, info, lambda: show.print_evaluation(info))


@app.command()
def tour(
    out_dir: opt.TourOutDir = None,
    runs_root: opt.Runs = Path("runs"),
    seed: opt.TourSeed = 0,
    json_out: opt.Json = False,
) -> None:
    """The whole tutorial in one command: solve, narrate, train, greedy trap, cliff."""
    from qlearn.runs.folder import new_run_dir
    from qlearn.tour import TourSettings, run_tour

    if seed < 0:
        raise QlearnError(f"seed must be at least 0, got {seed}; pass e.g. --seed 0")
    target = out_dir or new_run_dir(runs_root, "tour")
    say = (lambda _msg: None) if json_out else show.say
    results = run_tour(target, TourSettings(seed=seed), progress=say)
    show.either(json_out, results, lambda: show.print_tour(target))


@app.command()
def sweep(
    spec_file: opt.SpecFileArg,
    ray: opt.Ray = None,
    workers: opt.Workers = None,
    out_dir: opt.SweepOutDir = None,
    sweeps_root: opt.SweepsRoot = Path("sweeps"),
    json_out: opt.Json = False,
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
    total, where = len(spec.configurations), "on Ray" if ray is not None else "locally"
    show.print_error(f"sweep {spec.name}: {total:,} configurations x {spec.seeds:,} seeds")
    with Status(f"sweeping {where}: 0/{total} configurations", quiet=json_out) as status:
        done = []

        def progress(result) -> None:
            done.append(result.config_id)
            status.update(f"sweeping {where}: {len(done)}/{total} configurations")

        result = run_sweep(spec, ray=ray, workers=workers, on_result=progress)
    info = {**result.summary(), "sweep_dir": str(target), "figure": str(target / "sweep.png")}
    write_sweep(result, target, info)
    show.either(json_out, info, lambda: show.print_sweep(result, info))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning bad input into one line and exit status 2."""
    argv = opt.optional_ray_address(sys.argv[1:] if argv is None else list(argv))
    show.print_warnings_as_lines()
    try:
        code = app(args=argv, prog_name="qlearn", standalone_mode=False)
    except QlearnError as exc:
        show.print_error(f"error: {exc}")
        sys.exit(2)
    except UsageError as exc:
        see = (
            f"qlearn {exc.ctx.info_name} --help" if exc.ctx and exc.ctx.parent else "qlearn --help"
        )
        show.print_error(f"error: {exc.format_message()} (see: {see})")
        sys.exit(2)
    except Interrupted as exc:
        show.print_error(str(exc))
        sys.exit(130)
    except (typer.Abort, KeyboardInterrupt):
        show.print_error("interrupted")
        sys.exit(130)
    except ClickException as exc:
        show.print_error(f"error: {exc.format_message()}")
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
