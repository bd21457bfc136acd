"""What the commands take: shared option types, the parsers of option text, and how
``train``'s options (with a config file, or a run to resume) become one validated config."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

# Typer 0.29 vendors Click; its exceptions live here (the version is pinned).
from typer._click.core import Command, ParameterSource

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.fields import config_from_mapping, field_values, load_config_file, merge_options
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError

# Shared by several commands
WorldArg = Annotated[
    str | None, typer.Argument(help="A built-in world (see `qlearn envs`) or a Gymnasium id.")
]
Map = Annotated[Path | None, typer.Option("--map", help="A map file to use instead.")]
Gamma = Annotated[float | None, typer.Option(help="Discount in [0, 1] (default: the world's).")]
StepReward = Annotated[float | None, typer.Option(help="Grid worlds: reward of a step.")]
Slip = Annotated[str | None, typer.Option(help="Grid worlds: slip probability on ice (2/3).")]
MaxSteps = Annotated[int | None, typer.Option(help="Cap on episode length.")]
EnvArg = Annotated[
    list[str] | None,
    typer.Option("--env-arg", help="KEY=VALUE for a Gymnasium world, e.g. map_name=8x8."),
]
RunDir = Annotated[Path | None, typer.Option("--out", help="Run folder to create.")]
Runs = Annotated[Path, typer.Option("--runs", help="Where new run folders go.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")]
Plot = Annotated[bool, typer.Option("--plot", help="Also write the figures as PNG files.")]


# Options of solve
Tol = Annotated[float, typer.Option(help="Value-iteration tolerance on V*.")]
SolveMethod = Annotated[
    str,
    typer.Option(
        "--method",
        help="auto (value iteration up to 2,500 states, policy iteration above), "
        "value-iteration or policy-iteration.",
    ),
]
SolveOutDir = Annotated[
    Path | None, typer.Option("--out", help="Write a run folder here (report, tables).")
]
SolveRuns = Annotated[
    Path, typer.Option("--runs", help="Where --plot puts a new folder without --out.")
]

# Options of train
TrainAlgo = Annotated[
    str,
    typer.Option(
        help="q-learning, sarsa, expected-sarsa, double-q, q-lambda, sarsa-lambda, td0, dqn "
        "(the default for environments that are not finite worlds) or pqn (parallel "
        "Q-learning)."
    ),
]
TrainEpisodes = Annotated[int, typer.Option(help="Tabular: episodes per seed.")]
TrainAlpha = Annotated[str, typer.Option(help="Tabular: learning rate in (0, 1], or 1/n^W.")]
TrainEpsilon = Annotated[str, typer.Option(help="Tabular: START[:END[:N]], decaying over N units.")]
Decay = Annotated[str, typer.Option(help="Tabular: linear or exponential.")]
DecayUnit = Annotated[str, typer.Option(help="Tabular: episodes or steps.")]
Explore = Annotated[str, typer.Option(help="Tabular: epsilon-greedy or boltzmann.")]
Temperature = Annotated[str, typer.Option(help="Boltzmann temperature START[:END[:N]].")]
QInit = Annotated[float, typer.Option(help="Initial table value (optimism explores).")]
TrainSeeds = Annotated[int, typer.Option(help="Independent runs, trained at once.")]
TrainSeed = Annotated[int, typer.Option(help="Seed of the first run (run k: seed + k).")]
TrainPolicy = Annotated[str, typer.Option(help="td0: the policy evaluated (random, optimal).")]
Double = Annotated[bool, typer.Option("--double", help="DQN: Double DQN target.")]
Dueling = Annotated[bool, typer.Option("--dueling", help="DQN: dueling head.")]
NStep = Annotated[int | None, typer.Option(help="DQN: n-step returns.")]
Per = Annotated[bool, typer.Option("--per", help="DQN: prioritized replay.")]
PerAlpha = Annotated[float | None, typer.Option(help="DQN: PER priority exponent.")]
PerBeta = Annotated[float | None, typer.Option(help="DQN: PER initial beta (to 1).")]
TrainSteps = Annotated[int | None, typer.Option(help="DQN: environment steps per seed.")]
NumEnvs = Annotated[int | None, typer.Option(help="DQN: environments per seed.")]
Lr = Annotated[float | None, typer.Option(help="DQN: Adam learning rate.")]
LrEnd = Annotated[float | None, typer.Option(help="DQN: decay the rate to this.")]
BatchSize = Annotated[int | None, typer.Option(help="DQN: minibatch size.")]
BufferSize = Annotated[int | None, typer.Option(help="DQN: replay capacity.")]
LearningStarts = Annotated[int | None, typer.Option(help="DQN: steps before learning.")]
TargetUpdate = Annotated[
    int | None, typer.Option(help="DQN: environment steps between target updates.")
]
Tau = Annotated[float | None, typer.Option(help="DQN: target update rate (1: copy).")]
TrainFreq = Annotated[int | None, typer.Option(help="DQN: vector steps per round.")]
GradientSteps = Annotated[int | None, typer.Option(help="DQN: updates per round.")]
ExplorationFraction = Annotated[
    float | None, typer.Option(help="DQN: share of the run over which epsilon decays.")
]
StartEps = Annotated[float | None, typer.Option(help="DQN: initial epsilon.")]
FinalEps = Annotated[float | None, typer.Option(help="DQN: final epsilon.")]
Net = Annotated[str | None, typer.Option(help="DQN: hidden layers, e.g. 256,256.")]
Loss = Annotated[str | None, typer.Option(help="DQN: huber or mse.")]
MaxGradNorm = Annotated[float | None, typer.Option(help="DQN: clip (0: off).")]
EvalEvery = Annotated[int | None, typer.Option(help="DQN: steps between evaluations.")]
EvalEpisodes = Annotated[int | None, typer.Option(help="DQN: episodes per evaluation.")]
EvalEpsilon = Annotated[float | None, typer.Option(help="DQN: epsilon when evaluating.")]
Backend = Annotated[
    str | None, typer.Option(help="DQN: auto, compiled (JAX) or gymnasium (host loop).")
]
Distributional = Annotated[
    str | None, typer.Option(help="DQN: c51 or qr, a return distribution per action.")
]
Atoms = Annotated[int | None, typer.Option(help="C51: atoms of the support (51).")]
VMin = Annotated[float | None, typer.Option(help="C51: lowest atom.")]
VMax = Annotated[float | None, typer.Option(help="C51: highest atom.")]
Quantiles = Annotated[int | None, typer.Option(help="QR-DQN: quantiles per action.")]
Noisy = Annotated[bool, typer.Option("--noisy", help="DQN: noisy layers (epsilon 0 unless given).")]
Munchausen = Annotated[bool, typer.Option("--munchausen", help="DQN: Munchausen targets.")]
Rainbow = Annotated[
    bool, typer.Option("--rainbow", help="DQN: double, dueling, 3-step, PER, C51, noisy.")
]
NStepCorrection = Annotated[
    str | None, typer.Option(help="DQN: none, peng or retrace (off-policy n-step).")
]
Lam = Annotated[
    float | None,
    typer.Option(
        "--lambda",
        help="lambda of the traces, in [0, 1]: tabular q-lambda and sarsa-lambda (default "
        "0.9; 0 is the one-step learner), DQN peng/retrace and pqn.",
    ),
]
Traces = Annotated[
    str | None,
    typer.Option(help="q-lambda, sarsa-lambda: accumulating (default) or replacing traces."),
]
Config = Annotated[
    Path | None, typer.Option(help="YAML file of options (flags given here override it).")
]
Resume = Annotated[
    Path | None, typer.Option(help="Continue an interrupted run folder from its checkpoint.")
]
CheckpointEvery = Annotated[
    int | None,
    typer.Option(help="Save a resumable checkpoint every N episodes (DQN: N steps)."),
]
Snapshots = Annotated[
    str | None, typer.Option(help="Keep the table after these episodes, e.g. 1,50,500.")
]
FromLog = Annotated[
    Path | None, typer.Option(help="Learn only from logged transitions (CSV or Parquet).")
]
Passes = Annotated[int, typer.Option(help="--from-log: sweeps through the log.")]
Quiet = Annotated[bool, typer.Option(help="No progress bar.")]

# Options of collect
CollectPolicy = Annotated[
    str,
    typer.Option(help="random, optimal, epsilon:E, greedy-from:RUN or epsilon:E:RUN."),
]
CollectEpisodes = Annotated[int, typer.Option(help="Episodes to log.")]
CollectSeed = Annotated[int, typer.Option(help="Seed of the logging run.")]
OutFile = Annotated[Path, typer.Option("--out", help="Log file: .csv or .parquet.")]

# Options of explain
ExplainAlgo = Annotated[
    str, typer.Option(help="q-learning, sarsa, expected-sarsa, q-lambda or sarsa-lambda.")
]
ExplainAlpha = Annotated[float, typer.Option(help="Learning rate in (0, 1].")]
ExplainSteps = Annotated[str | None, typer.Option(help='Scripted moves, e.g. "(3,3)E x4, (3,2)N".')]
ExplainEpisodes = Annotated[
    int | None, typer.Option(help="Narrate K real epsilon-greedy episodes instead.")
]
ExplainEpsilon = Annotated[str, typer.Option(help="Exploration while narrating episodes.")]
ExplainSeed = Annotated[int, typer.Option(help="Seed of the episodes (same as train's).")]
Full = Annotated[bool, typer.Option(help="Print updates that change nothing too.")]

# Options of compare
Algos = Annotated[
    str, typer.Option(help="Comma-separated, e.g. q-learning,sarsa or q-learning,double-q.")
]
CompareEpisodes = Annotated[int, typer.Option(help="Episodes per seed.")]
CompareSeeds = Annotated[int, typer.Option(help="Seeds per learner (the same for every one).")]
CompareSeed = Annotated[int, typer.Option(help="First seed.")]
CompareAlpha = Annotated[str, typer.Option(help="Learning rate; several: 0.1,0.5.")]
CompareEpsilon = Annotated[str, typer.Option(help="Exploration; several: 0,0.1.")]
Window = Annotated[
    str | None, typer.Option(help="Episodes FROM:TO to average (default: second half).")
]

# Options of plot
PlotRunDirArg = Annotated[Path, typer.Argument(help="A run folder written by qlearn.")]

# Options of plan
Planner = Annotated[
    str,
    typer.Option(help="greedy, mcts, gumbel, astar, dijkstra or qstar; several: greedy,mcts."),
]
Simulations = Annotated[str, typer.Option(help="MCTS simulations per decision; several: 4,16,64.")]
FromRun = Annotated[
    Path | None, typer.Option("--from", help="A finished run folder: plan with its learned Q.")
]
QSource = Annotated[
    str | None, typer.Option("--q", help="exact (Q*, an upper bound) or zero (no knowledge).")
]
Prior = Annotated[str, typer.Option(help="learned (softmax of Q) or uniform.")]
Leaf = Annotated[str, typer.Option(help="learned (max Q) or zero.")]
PriorTemperature = Annotated[float, typer.Option(help="Temperature of the learned prior.")]
PlanEpisodes = Annotated[int, typer.Option(help="Episodes per start state and seed.")]
PlanSeeds = Annotated[int, typer.Option(help="Independent seeds of the search and the world.")]
PlanSeed = Annotated[int, typer.Option(help="First seed.")]
Start = Annotated[str | None, typer.Option(help="Only this start cell, e.g. (1,1).")]
PlanMaxSteps = Annotated[
    int | None, typer.Option(help="Decisions per episode (default: the world's, <= 4 per state).")
]


def value_source(run: Path | None, q: str | None) -> str:
    """``exact``, ``zero`` or a run folder: exactly one of --from RUN and --q."""
    if (run is None) == (q is None):
        raise QlearnError(
            "give the values to plan with: --from RUN (a finished run), --q exact or --q zero"
        )
    if q is not None and q not in ("exact", "zero"):
        raise QlearnError(f"--q must be exact or zero, got {q!r}; or give --from RUN")
    return str(run) if run is not None else q


def int_list(text: str, option: str) -> tuple[int, ...]:
    """``"4,16,64"`` as whole numbers (refused in one line otherwise)."""
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise QlearnError(
            f"cannot read {option} {text!r}; write whole numbers like 4,16,64"
        ) from None
    if not values:
        raise QlearnError(f"{option} needs at least one number, e.g. 16")
    return values


# Options of eval
EvaluateRunDirArg = Annotated[Path, typer.Argument(help="A run folder written by qlearn train.")]
EvaluateEpisodes = Annotated[
    int | None, typer.Option(help="Episodes per seed (default: the run's own).")
]
EvaluateEpsilon = Annotated[
    float | None, typer.Option(help="Exploration while evaluating (default: greedy).")
]
EvaluateSeed = Annotated[int, typer.Option(help="Seed of the evaluation episodes.")]
EvaluateBest = Annotated[
    bool, typer.Option("--best", help="DQN: the parameters of the best evaluation.")
]

# Options of tour
TourOutDir = Annotated[Path | None, typer.Option("--out", help="Tour folder to create.")]
TourSeed = Annotated[int, typer.Option(help="First seed of every run.")]

# Options of sweep
SpecFileArg = Annotated[Path, typer.Argument(metavar="SPEC", help="The sweep spec (YAML).")]
Ray = Annotated[
    str | None,
    typer.Option(
        "--ray",
        metavar="[ADDRESS]",
        help="Run as Ray Tune trials: alone, on a Ray instance on this machine; with "
        "HEAD:6379 (or auto), on that cluster.",
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(help="Local processes, each on cores/N Numba threads (default 1, see README)."),
]
SweepOutDir = Annotated[Path | None, typer.Option("--out", help="Sweep folder to create.")]
SweepsRoot = Annotated[Path, typer.Option("--sweeps", help="Where new sweep folders go.")]


def flag(name: str) -> str:
    """The option a parameter is typed as: ``max_steps`` -> ``--max-steps``."""
    return "--" + name.replace("_", "-")


def was_given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed this option (rather than it taking its default)."""
    return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE


def config_options(command: Command, config: type) -> tuple[str, ...]:
    """The options of ``command`` that set a field of the ``config`` dataclass, in the order
    ``--help`` lists them: a config field with a flag needs no second list."""
    fields = {field.name for field in dataclasses.fields(config)}
    return tuple(p.name for p in command.params if p.name in fields)


def one_kind_options(command: Command) -> dict[str, list[str]]:
    """The options only one kind of learner takes, by kind: naming one of them picks the
    kind, or contradicts it. Only tabular learners learn from a log."""
    tabular = set(config_options(command, TabularConfig))
    dqn = set(config_options(command, DQNConfig))
    return {"tabular": sorted(tabular - dqn) + ["from_log", "passes"], "dqn": sorted(dqn - tabular)}


def env_kwargs(pairs: list[str] | None) -> dict[str, Any] | None:
    """``--env-arg KEY=VALUE`` pairs as keyword arguments; values are JSON when they parse."""
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


def episode_list(text: str | None, option: str) -> tuple[int, ...]:
    """``"1,50,500"`` as a tuple of episodes (empty when not given)."""
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise QlearnError(f"cannot read {option} {text!r}; write episodes like 1,50,500") from None


def net_widths(text: str) -> list[int]:
    """``--net 64,64`` as the widths of the hidden layers."""
    try:
        widths = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise QlearnError(f"cannot read --net {text!r}; write layer widths like 64,64") from None
    if not widths:
        raise QlearnError("--net needs at least one layer width, e.g. 64,64")
    return widths


def chosen_kind(ctx: typer.Context, config_file: Path | None, resume: Path | None) -> str:
    """tabular or dqn, as the user chose: from the run being resumed, --algo, the config
    file, or (with no algorithm named anywhere) the environment: finite worlds train tabular
    learners."""
    from qlearn.configs.kind import training_kind
    from qlearn.runs.folder import read_config

    if resume is not None:
        return "dqn" if read_config(resume).get("kind") == "dqn" else "tabular"
    options = load_config_file(config_file) if config_file else {}

    def option(name: str) -> Any:
        return ctx.params[name] if was_given(ctx, name) else options.get(name)

    algo = option("algo")
    if algo is None and any(was_given(ctx, n) for n in one_kind_options(ctx.command)["dqn"]):
        return "dqn"
    return training_kind(algo, option("world"), option("map_file"))


def refuse_other_kinds_options(ctx: typer.Context, kind: str) -> None:
    """A DQN option on a tabular run, or a tabular one on a DQN run, is a mistake."""
    other = "dqn" if kind == "tabular" else "tabular"
    wrong = [name for name in one_kind_options(ctx.command)[other] if was_given(ctx, name)]
    if wrong and kind == "tabular":
        raise QlearnError(
            f"{flag(wrong[0])} is a DQN option; add --algo dqn "
            "(tabular learners take --episodes, --alpha, --epsilon, ...)"
        )
    if wrong:
        raise QlearnError(
            f"{flag(wrong[0])} does not apply to dqn "
            "(it takes --steps, --lr, --final-eps, ...; see qlearn train --help)"
        )


def given_config_options(ctx: typer.Context, kind: str) -> dict[str, Any]:
    """The options the user typed that set a field of the ``kind`` of config."""
    config = TabularConfig if kind == "tabular" else DQNConfig
    return {n: ctx.params[n] for n in config_options(ctx.command, config) if was_given(ctx, n)}


def refuse_with_resume(given: dict[str, Any], config_file: Path | None, run_dir: Path) -> None:
    """--resume takes no other options, and only an unfinished run folder."""
    if given or config_file is not None:
        raise QlearnError(
            "--resume continues a run exactly as it was configured; drop "
            + ", ".join(flag(name) for name in given or ["config"])
        )
    if (Path(run_dir) / "summary.json").exists():
        raise QlearnError(f"{run_dir} already finished; nothing to resume")


def training_config(
    kind: str, given: dict[str, Any], config_file: Path | None
) -> TabularConfig | DQNConfig:
    """The validated config of ``kind``: the file's options, overridden by the flags given.
    A world named on the command line replaces the file's map, and the other way round."""
    options = load_config_file(config_file) if config_file else {}
    file_source = f"config file {str(config_file)!r}"
    field_values(TabularConfig if kind == "tabular" else DQNConfig, options, file_source)
    given = dict(given)
    if "map_file" in given:
        given["map_file"] = str(given["map_file"])
    options = merge_options(options, given)
    source = f"config file {str(config_file)!r}" if config_file else "the command line"
    if kind == "dqn":
        from qlearn.deep.train import resolve_config

        return resolve_config({"algo": "dqn", **options}, source)
    from qlearn.tabular.train import world_of

    cfg = config_from_mapping(TabularConfig, options, source)
    world_of(cfg)  # refuse an unknown world before creating the run folder
    return cfg


def optional_ray_address(argv: list[str]) -> list[str]:
    """Let ``--ray`` stand alone (a local Ray instance): the bundled Click has no options
    with optional values, so a bare ``--ray`` gets the value ``local`` here."""
    fixed = []
    for i, arg in enumerate(argv):
        fixed.append(arg)
        if arg == "--ray" and "sweep" in argv[:i]:
            after = argv[i + 1] if i + 1 < len(argv) else None
            if after is None or after.startswith("-") or after.endswith((".yaml", ".yml")):
                fixed.append("local")
    return fixed
