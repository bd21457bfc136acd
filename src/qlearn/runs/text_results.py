"""Files of token-level runs: walks CSV files, and the run folder of ``qlearn text train``.

A walks file is a CSV table (``episode, position, token, reward, done``; see
:mod:`qlearn.text.logged`) after one comment line naming the task and graph it was logged
on, so a file of another task is refused in one line.

A text run folder holds ``config.yaml`` (written first), ``checkpoint.npz`` while
training (every network's state after each chunk; ``--resume`` continues from it with the
same numbers), then ``networks.npz`` (the trained parameters), ``metrics.csv`` (loss per
seed, network and step), TensorBoard events, ``compare.png`` and ``loss.png``,
``report.html`` and, last, ``summary.json`` (the same object ``--json`` prints).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from qlearn.configs.text_config import TextConfig, text_config_from
from qlearn.core.errors import Interrupted, QlearnError, first_line
from qlearn.runs.folder import (
    atomic_write_text,
    config_record,
    dump_json,
    dump_yaml,
    load_npz,
    read_config,
    save_npz,
    write_figures,
)
from qlearn.text.graph_tasks import Task
from qlearn.text.logged import Walks, walk_rows, walks_from_rows
from qlearn.text.star_graph import StarGraph

CHECKPOINT = "checkpoint.npz"
NETWORKS = "networks.npz"
HEADER = "# qlearn text data:"


# ---- walks files ----


def meta_fields(task: Task) -> dict[str, str]:
    """What a walks file's comment line records of the task it was logged on."""
    fields = {"task": task.name}
    if isinstance(task, StarGraph):
        fields.update(arms=str(task.arms), arm_length=str(task.arm_length))
    fields.update(nodes=str(task.nodes), graph_seed=str(task.seed))
    return {**fields, "max_length": str(task.max_length)}


def walks_meta(task: Task, policy: str) -> str:
    fields = " ".join(f"{k}={v}" for k, v in meta_fields(task).items())
    return f"{HEADER} {fields} policy={policy}"


def write_walks(path: str | Path, task: Task, walks: Walks, policy: str) -> Path:
    """Write ``walks`` as a readable CSV file, atomically."""
    path = Path(path)
    text = walks_meta(task, policy) + "\n" + walk_rows(walks).to_csv(index=False)
    atomic_write_text(path, text)
    return path


def read_walks(path: str | Path, task: Task) -> Walks:
    """The walks of a CSV file, checked against ``task`` (one line per problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QlearnError(f"no walks file {path}; write one with `qlearn text data`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QlearnError(f"cannot read {path}: {first_line(exc)}") from None
    lines = text.splitlines()
    if lines and lines[0].startswith(HEADER):
        _check_meta(path, lines[0], task)
        text = "\n".join(lines[1:])
    if not text.strip():
        raise QlearnError(f"{path} is empty; write walks with `qlearn text data`")
    try:
        rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a malformed file
        raise QlearnError(f"{path} is not a readable CSV table: {first_line(exc)}") from None
    rows = rows.replace("", np.nan)
    return walks_from_rows(task, rows, source=str(path))


def _check_meta(path: Path, line: str, task: Task) -> None:
    meta = dict(part.split("=", 1) for part in line[len(HEADER) :].split() if "=" in part)
    for key, value in meta_fields(task).items():
        if key in meta and meta[key] != value:
            raise QlearnError(
                f"{path} holds walks of {key.replace('_', '-')} {meta[key]}, not {value}: a "
                f"file of another task; pass the matching options or regenerate it"
            )


# ---- networks as arrays ----


def state_arrays(states: dict, losses: dict | None = None) -> dict[str, np.ndarray]:
    """Every network's state (and loss history) as named arrays: ``k|name|i`` leaves."""
    arrays: dict[str, np.ndarray] = {}
    for (k, name), state in states.items():
        for i, leaf in enumerate(jax.tree_util.tree_leaves(state)):
            arrays[f"{k}|{name}|{i}"] = np.asarray(leaf)
    for (k, name), values in (losses or {}).items():
        arrays[f"loss|{k}|{name}"] = np.asarray(values, dtype=np.float32)
    return arrays


def states_from_arrays(arrays: dict[str, np.ndarray], cfg: TextConfig, task: Task,
                       source: str) -> tuple[dict, dict]:  # fmt: skip
    """The states (shaped like fresh ones) and loss histories saved by :func:`state_arrays`."""
    from qlearn.text.fitting import init_state
    from qlearn.text.pipeline import fit_settings, model_size

    template = init_state(model_size(cfg, task), fit_settings(cfg), jax.random.key(0))
    leaves, tree = jax.tree_util.tree_flatten(template)
    keys = {tuple(k.split("|")[:2]) for k in arrays if not k.startswith("loss|")}
    states, losses = {}, {}
    for k, name in sorted(keys):
        saved = [arrays.get(f"{k}|{name}|{i}") for i in range(len(leaves))]
        if any(s is None or s.shape != np.shape(t) for s, t in zip(saved, leaves, strict=True)):
            raise QlearnError(f"{source} does not match this run's network; it is damaged")
        states[(int(k), name)] = jax.tree_util.tree_unflatten(
            tree, [jax.numpy.asarray(s) for s in saved]
        )
        losses[(int(k), name)] = arrays.get(f"loss|{k}|{name}", np.zeros(0, np.float32)).tolist()
    return states, losses


# ---- the run folder ----


def start_run(cfg: TextConfig, run_dir: Path) -> Path:
    """Create the run folder with its ``config.yaml`` (refuses an existing folder)."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        raise QlearnError(f"{run_dir} already exists; choose another --out or remove it")
    run_dir.mkdir(parents=True)
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config_record("text", cfg.to_dict())))
    return run_dir


def saved_text_config(run_dir: Path) -> TextConfig:
    data = read_config(run_dir)
    if data.get("kind") != "text":
        raise QlearnError(
            f"{run_dir} is not a text run (its config.yaml says {data.get('kind')!r})"
        )
    return text_config_from(data)


def train_in_folder(cfg: TextConfig, run_dir: Path, task: Task, walks: Walks, *,
                    resume: bool = False, progress=None, stop_requested=None):  # fmt: skip
    """Train in ``run_dir``, saving ``checkpoint.npz`` after every chunk; with ``resume``
    continue from it. ``stop_requested()`` (Ctrl-C) stops after a chunk, checkpointed."""
    from qlearn.text.pipeline import train_run

    states, losses = None, None
    if resume:
        path = Path(run_dir) / CHECKPOINT
        if not path.exists():
            raise QlearnError(f"{run_dir} has no checkpoint to resume from")
        arrays = load_npz(path, use="the text run cannot be resumed from it")
        states, losses = states_from_arrays(arrays, cfg, task, str(path))

    def after_chunk(done: int, total: int, states: dict, losses: dict) -> None:
        save_npz(Path(run_dir) / CHECKPOINT, state_arrays(states, losses), compress=False)
        if stop_requested is not None and stop_requested() and done < total:
            raise Interrupted(run_dir, done, unit="gradient steps")
        if progress is not None:
            progress(done, total, None)

    return train_run(cfg, task, walks, (cfg.method,), states=states, losses=losses,
                     progress=after_chunk)  # fmt: skip


def load_run(run_dir: str | Path):
    """A finished text run folder back in memory (a ``TextRun``)."""
    from qlearn.text.pipeline import TextRun, task_of

    run_dir = Path(run_dir)
    cfg = saved_text_config(run_dir)
    task = task_of(cfg)
    path = run_dir / NETWORKS
    if not path.exists():
        raise QlearnError(f"{run_dir} is not a finished text run (no {NETWORKS})")
    arrays = load_npz(
        path, ("walk_tokens", "walk_lengths", "walk_rewards"), use="decode cannot use it"
    )
    walks = Walks(arrays.pop("walk_tokens"), arrays.pop("walk_lengths"), arrays.pop("walk_rewards"))
    states, losses = states_from_arrays(arrays, cfg, task, str(path))
    return TextRun(cfg, task, walks, states, {k: np.asarray(v) for k, v in losses.items()},
                   [cfg.seed + k for k in range(cfg.seeds)])  # fmt: skip


def summary(comparison, run_dir: Path | None = None) -> dict[str, Any]:
    """What ``qlearn text train --json`` prints: the issue's comparison object of the run's
    method, with the task, the run folder and the full records."""
    out = comparison.to_json()
    out["records"] = comparison.records
    out["task_info"] = comparison.task.describe()
    out["method"] = comparison.config.method
    if run_dir is not None:
        out["run_dir"] = str(run_dir)
    return out


def metrics_table(losses: dict) -> pd.DataFrame:
    rows = [pd.DataFrame({"seed": k, "network": name, "step": np.arange(1, len(v) + 1),
                          "loss": np.asarray(v, dtype=float)})
            for (k, name), v in sorted(losses.items())]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def figures(comparison, losses: dict) -> dict[str, bytes]:
    from qlearn.viz.png import figure_png
    from qlearn.viz.text_figures import loss_figure, text_compare_figure

    by_name: dict[str, list] = {}
    for (_k, name), v in sorted(losses.items()):
        by_name.setdefault(name, []).append(np.asarray(v))
    curves = {name: np.stack(v) for name, v in by_name.items()}
    methods = dict.fromkeys(r["method"] for r in comparison.records)
    title = f"{comparison.task.name}: {', '.join(methods)}"
    chance = comparison.task.describe().get("chance")
    figure = text_compare_figure(comparison.records, title=title, chance=chance)
    pngs = {"compare.png": figure_png(figure)}
    if curves:
        pngs["loss.png"] = figure_png(loss_figure(curves))
    return pngs


def report_html(info: dict[str, Any], pngs: dict[str, bytes]) -> str:
    from qlearn.viz.html import figures_section, key_values, page, section, table

    keys = ["method", "setting", "optimality_mean", "optimality_ci", "success_rate", "kl",
            "tokens_per_answer", "q_gap_mean", "q_gap_max"]  # fmt: skip
    rows = [[r.get(k) for k in keys] for r in info["records"]]
    captions = {
        "compare.png": "Mean optimality (95% CI over seeds) against KL from the BC policy and "
        "against tokens sampled per answer; lines: best-of-n's frontier.",
        "loss.png": "Training loss per gradient step, mean over seeds.",
    }
    return page(f"qlearn text: {info['task']}", f"run folder {info.get('run_dir', '')}", [
        section("Task", key_values(info["task_info"])),
        section("Results", table(keys, rows)),
        figures_section("Figures", pngs, captions),
    ])  # fmt: skip


def write_results(run, comparison, run_dir: Path, info: dict[str, Any], plot: bool) -> dict:
    """Everything after training, ``summary.json`` last; returns the figures."""
    from qlearn.runs.tensorboard import write_scalars

    run_dir = Path(run_dir)
    arrays = state_arrays(run.states, run.losses)
    arrays.update({"walk_tokens": run.walks.tokens, "walk_lengths": run.walks.lengths,
                   "walk_rewards": run.walks.rewards})  # fmt: skip
    save_npz(run_dir / NETWORKS, arrays)
    atomic_write_text(run_dir / "metrics.csv", metrics_table(run.losses).to_csv(index=False))
    write_scalars(run_dir / "tensorboard", {
        f"loss/{name}/seed{k}": np.asarray(v) for (k, name), v in run.losses.items()
    })  # fmt: skip
    pngs = figures(comparison, run.losses)
    write_figures(run_dir, pngs, plot)
    atomic_write_text(run_dir / "report.html", report_html(info, pngs))
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    atomic_write_text(run_dir / "summary.json", dump_json(info))
    return pngs


def write_text_run(run, out: str | Path, plot: bool = False) -> dict[str, Any]:
    """A run trained in memory (``qlearn.text.train``) evaluated and written as a complete
    new run folder (created atomically); returns its summary."""
    from qlearn.runs.folder import write_run_dir
    from qlearn.text.pipeline import evaluate_run

    out = Path(out)
    comparison = evaluate_run(run)
    info = summary(comparison, out)

    def fill(folder: Path) -> None:
        record = config_record("text", run.config.to_dict())
        atomic_write_text(folder / "config.yaml", dump_yaml(record))
        write_results(run, comparison, folder, info, plot)

    write_run_dir(out, fill)
    return info
