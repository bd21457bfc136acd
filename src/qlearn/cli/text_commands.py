"""``qlearn text ...``: token-level Q on sequence tasks (data, train, decode, compare)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import qlearn.cli.show as show
from qlearn.core.errors import QlearnError

text_app = typer.Typer(
    help="Token-level Q for sequence generation: logged walks, BC, ILQL, value-guided "
    "decoding and best-of-n, held against the exact token-level Q*.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Task = Annotated[
    str, typer.Option(help="The task: graph-walk (trlx's randomwalks) or star-graph (path-star).")
]
Nodes = Annotated[
    int | None,
    typer.Option(help="graph-walk: nodes, node 0 the goal (21); star-graph: labels per instance."),
]
GraphSeed = Annotated[
    int, typer.Option(help="graph-walk: the graph's seed (trlx: 1000); star-graph: the instances'.")
]
Arms = Annotated[int | None, typer.Option(help="star-graph: arms at the fork (default 2).")]
ArmLength = Annotated[int | None, typer.Option(help="star-graph: nodes per arm (default 3).")]
Data = Annotated[Path | None, typer.Option(help="A walks CSV file (qlearn text data).")]
Episodes = Annotated[
    int | None, typer.Option(help="Walks to log (without --data; graph-walk 1000, star 5000).")
]
Seeds = Annotated[int, typer.Option(help="Independent networks per method.")]
Seed = Annotated[int, typer.Option(help="Seed of the first network (network k: seed + k).")]
Steps = Annotated[
    int | None, typer.Option(help="Gradient steps per network (graph-walk 400, star 500).")
]
Batch = Annotated[int | None, typer.Option(help="Walks per minibatch (graph-walk 128, star 64).")]
Lr = Annotated[float, typer.Option(help="Adam learning rate.")]
Beta = Annotated[
    str, typer.Option("--beta", help="ILQL decoding: advantage weights, e.g. 0,1,100.")
]
BestOf = Annotated[
    str, typer.Option("--best-of", help="Best-of-n: candidate counts, e.g. 1,4,16,64.")
]
Samples = Annotated[int, typer.Option(help="Answers per start node and setting.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")]
Plot = Annotated[bool, typer.Option("--plot", help="Also write the figures as PNG files.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


def numbers(text: str, option: str, kind: type = float) -> tuple:
    """``"0,1,100"`` -> (0.0, 1.0, 100.0); one line naming ``option`` when it is not that."""
    try:
        values = tuple(kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise QlearnError(f"cannot read {option} {text!r}; write numbers like 0,1,100") from None
    if not values:
        raise QlearnError(f"{option} needs at least one number, e.g. 0,1,100")
    return values


def _bar(enabled: bool):
    from qlearn.cli.progress import ProgressBar

    def columns():
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

        return [TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                TextColumn("gradient steps"), TimeElapsedColumn()]  # fmt: skip

    return ProgressBar(enabled, columns, lambda done, total, state: "")


def print_records(records: list[dict], title: str) -> None:
    header = ["method", "setting", "optimality", "95% CI", "success", "KL", "tokens", "|Q-Q*|"]
    fmt = lambda x, f="{:.3f}": "-" if x is None else f.format(x)  # noqa: E731
    rows = [[r["method"], r["setting"], fmt(r["optimality_mean"]),
             f"[{r['optimality_ci'][0]:.3f}, {r['optimality_ci'][1]:.3f}]",
             fmt(r["success_rate"]), fmt(r["kl"]), fmt(r["tokens_per_answer"], "{:.1f}"),
             fmt(r["q_gap_mean"])] for r in records]  # fmt: skip
    show.print_unwrapped(show.table(header, rows, title=title))


@text_app.command("data")
def data(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    task: Task = "graph-walk",
    nodes: Nodes = None,
    graph_seed: GraphSeed = 1000,
    arms: Arms = None,
    arm_length: ArmLength = None,
    policy: Annotated[str, typer.Option(help="random (trlx's walks) or epsilon:E.")] = "random",
    episodes: Episodes = None,
    seed: Annotated[int | None, typer.Option(help="epsilon:E: the walker's seed.")] = None,
    json_out: Json = False,
) -> None:
    """Log walks on a task as a readable CSV (episode, position, token, reward, done)."""
    from qlearn.configs.text_config import TextConfig
    from qlearn.runs.text_results import write_walks
    from qlearn.text.graph_tasks import logged_lists
    from qlearn.text.logged import walks_from_lists
    from qlearn.text.pipeline import task_of

    epsilon = None
    if policy.startswith("epsilon:"):
        epsilon = numbers(policy.split(":", 1)[1], "--policy epsilon:E")[0]
    elif policy != "random":
        raise QlearnError(f"unknown --policy {policy!r}; use random or epsilon:E, e.g. epsilon:0.3")
    cfg = TextConfig(task=task, nodes=nodes, graph_seed=graph_seed, arms=arms,
                     arm_length=arm_length, episodes=episodes)  # fmt: skip
    graph = task_of(cfg)
    walks = walks_from_lists(graph, logged_lists(graph, cfg.episodes, epsilon, seed))
    write_walks(out, graph, walks, policy)
    last = walks.tokens[range(len(walks.lengths)), walks.lengths - 1]
    reached = walks.rewards > 0 if task == "star-graph" else last == 0
    info = {"out": str(out), "task": task, "walks": int(len(walks.rewards)),
            "rows": int(walks.lengths.sum()), "mean_optimality": float(walks.rewards.mean()),
            "success_rate": float((walks.rewards > 0).mean()),
            "reach_goal": float(reached.mean())}  # fmt: skip
    show.either(json_out, info, lambda: show.say(
        f"wrote {info['walks']:,} walks ({info['rows']:,} rows) to {out}: mean optimality "
        f"{info['mean_optimality']:.4f}, reach the goal {info['reach_goal']:.1%}, score above 0 "
        f"{info['success_rate']:.1%}"))  # fmt: skip


@text_app.command("train")
def train(
    task: Task = "graph-walk",
    method: Annotated[
        str, typer.Option(help="bc, filtered-bc, ilql, value-guided, best-of-n.")
    ] = "ilql",
    data: Data = None,
    nodes: Nodes = None,
    graph_seed: GraphSeed = 1000,
    arms: Arms = None,
    arm_length: ArmLength = None,
    episodes: Episodes = None,
    seeds: Seeds = 5,
    seed: Seed = 0,
    steps: Steps = None,
    batch: Batch = None,
    lr: Lr = 1e-3,
    beta: Beta = "0,1,100",
    best_of: BestOf = "1,4,16,64",
    samples: Samples = 32,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder to create.")] = None,
    runs_root: Annotated[Path, typer.Option("--runs", help="Where new run folders go.")] = Path(
        "runs"
    ),
    resume: Annotated[Path | None, typer.Option("--resume", help="Continue a stopped run.")] = None,
    plot: Plot = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Train a method on logged walks in a run folder, then evaluate it."""
    from qlearn.configs.text_config import TextConfig
    from qlearn.runs.folder import new_run_dir
    from qlearn.runs.job import _ctrl_c
    from qlearn.runs.text_results import (
        read_walks,
        saved_text_config,
        start_run,
        summary,
        train_in_folder,
        write_results,
    )
    from qlearn.text.pipeline import evaluate_run, logged_walks, task_of

    if resume is not None:
        cfg, run_dir = saved_text_config(resume), Path(resume)
        if (run_dir / "summary.json").exists():
            raise QlearnError(f"{run_dir} already finished; nothing to resume")
    else:
        cfg = TextConfig(task=task, method=method, data=str(data) if data else None, nodes=nodes,
                         graph_seed=graph_seed, arms=arms, arm_length=arm_length,
                         episodes=episodes, seeds=seeds, seed=seed,
                         steps=steps, batch=batch, lr=lr, betas=numbers(beta, "--beta"),
                         best_of=numbers(best_of, "--best-of", int), samples=samples)  # fmt: skip
        graph = task_of(cfg)
        if cfg.data:
            read_walks(cfg.data, graph)  # refuse a bad file before the folder exists
        run_dir = out or new_run_dir(runs_root, f"{cfg.task}-{cfg.method}")
        start_run(cfg, run_dir)
    graph = task_of(cfg)
    walks = read_walks(cfg.data, graph) if cfg.data else logged_walks(cfg, graph)
    with _bar(not quiet and not json_out) as progress, _ctrl_c() as stop_requested:
        run = train_in_folder(cfg, run_dir, graph, walks, resume=resume is not None,
                              progress=progress, stop_requested=stop_requested)  # fmt: skip
    comparison = evaluate_run(run)
    info = summary(comparison, run_dir)
    write_results(run, comparison, run_dir, info, plot)
    show.either(json_out, info, lambda: (
        print_records(comparison.records, f"{cfg.method} on {cfg.task}, {cfg.seeds} seeds"),
        show.say(f"run folder: {run_dir}")))  # fmt: skip


@text_app.command("decode")
def decode(
    run_dir: Annotated[Path, typer.Argument(help="A finished text run folder.")],
    beta: Annotated[str | None, typer.Option("--beta", help="ILQL: advantage weights.")] = None,
    best_of: Annotated[str | None, typer.Option("--best-of", help="Best-of-n counts.")] = None,
    samples: Annotated[int | None, typer.Option(help="Answers per start and setting.")] = None,
    json_out: Json = False,
) -> None:
    """Decode with a trained run at other settings: --beta 0,1,4,16 / --best-of 1,4,16,64."""
    from qlearn.runs.text_results import load_run
    from qlearn.text.pipeline import decode_settings, evaluate_run

    run = load_run(run_dir)
    changes = {}
    if beta is not None:
        changes["betas"] = numbers(beta, "--beta")
    if best_of is not None:
        changes["best_of"] = numbers(best_of, "--best-of", int)
    if samples is not None:
        changes["samples"] = samples
    cfg = run.config.replace(**changes)
    methods = (cfg.method,) if best_of is None else (cfg.method, "best-of-n")
    comparison = evaluate_run(run, tuple(dict.fromkeys(methods)), decode_settings(cfg))
    show.either(json_out, comparison.to_json(),
                lambda: print_records(comparison.records, f"{run_dir}"))  # fmt: skip


@text_app.command("compare")
def compare(
    task: Task = "graph-walk",
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = (
        "bc,filtered-bc,ilql,value-guided,best-of-n"
    ),
    data: Data = None,
    nodes: Nodes = None,
    graph_seed: GraphSeed = 1000,
    arms: Arms = None,
    arm_length: ArmLength = None,
    episodes: Episodes = None,
    seeds: Seeds = 5,
    seed: Seed = 0,
    steps: Steps = None,
    batch: Batch = None,
    beta: Beta = "0,1,100",
    best_of: BestOf = "1,4,16,64",
    samples: Samples = 32,
    out: Annotated[Path | None, typer.Option("--out", help="Also write a folder here.")] = None,
    plot: Plot = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Every method on the same logged walks and seeds; a table, or --json."""
    from qlearn.configs.text_config import TextConfig
    from qlearn.experiments.text_compare import text_compare, write_compare

    names = tuple(m.strip() for m in methods.split(",") if m.strip())
    cfg = TextConfig(task=task, method=names[0] if names else "bc", nodes=nodes,
                     graph_seed=graph_seed, arms=arms, arm_length=arm_length,
                     episodes=episodes, seeds=seeds, seed=seed, steps=steps, batch=batch,
                     betas=numbers(beta, "--beta"),
                     best_of=numbers(best_of, "--best-of", int), samples=samples)  # fmt: skip
    if out is not None and out.exists():
        raise QlearnError(f"{out} already exists; choose another --out or remove it")
    with _bar(not quiet and not json_out) as progress:
        step = (
            (lambda done, total, states, losses: progress(done, total, None)) if progress else None
        )
        comparison, info = text_compare(cfg, names, data, progress=step)
    if out is not None:
        write_compare(comparison, info, out, plot)
    chance = info["task_info"].get("chance")
    guess = f" (chance at the fork: {chance:.3f})" if chance is not None else ""
    show.either(json_out, comparison.to_json(), lambda: print_records(
        comparison.records, f"{task}{guess}: {cfg.seeds} seeds, trained in "
        f"{info['train_seconds']:.0f} s, evaluated in {info['eval_seconds']:.0f} s"))  # fmt: skip
