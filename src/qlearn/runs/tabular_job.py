"""A tabular training job on disk: a run folder that can be checkpointed and resumed.

The folder is created when training starts, with ``config.yaml``. While training, an
optional ``checkpoint.npz`` holds every run's full state (tables, visit counts,
generator states, metrics so far), replaced atomically; a killed job resumes from it
with the same numbers an uninterrupted job would have produced. When training ends the
results are written, ``summary.json`` last: a folder with a summary is complete.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qlearn.core.version import __version__
from qlearn.core.errors import Interrupted, QlearnError
from qlearn.configs.tabular_config import TabularConfig, config_from_mapping
from qlearn.runs.folder import (
    atomic_write_text,
    dump_json,
    dump_yaml,
    load_npz,
    read_config,
    save_npz,
)
from qlearn.tabular.loop import RunArrays
from qlearn.runs.tabular_results import summary, write_tabular_results
from qlearn.tabular.train import TabularRun, run_config

CHECKPOINT = "checkpoint.npz"

#: Called after every chunk with (episodes done, total episodes, the runs so far).
Progress = Callable[[int, int, RunArrays], None]


def start(cfg: TabularConfig, run_dir: Path) -> Path:
    """Create the run folder with its resolved ``config.yaml`` (refuses an existing one)."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        raise QlearnError(f"{run_dir} already exists; choose another --out or remove it")
    run_dir.mkdir(parents=True)
    config = {"kind": "tabular", **cfg.to_dict(), "qlearn_version": __version__}
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config))
    return run_dir


def save_checkpoint(run_dir: Path, episodes_done: int, runs: RunArrays) -> None:
    """Replace the checkpoint atomically with the state after ``episodes_done`` episodes."""
    arrays = {name: np.asarray(value) for name, value in runs._asdict().items()}
    arrays["episodes_done"] = np.asarray(episodes_done)
    save_npz(Path(run_dir) / CHECKPOINT, arrays, compress=False)  # speed over size


def load_checkpoint(run_dir: Path) -> tuple[int, RunArrays]:
    """The episodes done and run state saved in ``run_dir`` (never unpickles)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise QlearnError(
            f"{run_dir} has no checkpoint to resume from; train with --checkpoint-every N"
        )
    data = load_npz(path)
    missing = [f for f in (*RunArrays._fields, "episodes_done") if f not in data]
    if missing:
        raise QlearnError(f"{path} is not a qlearn tabular checkpoint (missing {missing[0]!r})")
    runs = RunArrays(**{f: data[f] for f in RunArrays._fields})
    return int(data["episodes_done"]), runs


def chunk_stops(episodes: int, checkpoint_every: int | None, pieces: int = 100) -> list[int]:
    """Where training pauses: about every 1% (for progress and Ctrl-C) and at every
    checkpoint."""
    step = max(1, -(-episodes // pieces))
    stops = set(range(step, episodes, step))
    if checkpoint_every:
        stops |= set(range(checkpoint_every, episodes, checkpoint_every))
    return sorted(stops | {episodes})


def train(
    cfg: TabularConfig,
    run_dir: Path,
    *,
    checkpoint_every: int | None = None,
    progress: Progress | None = None,
    resume: bool = False,
) -> TabularRun:
    """Train in ``run_dir``, checkpointing every ``checkpoint_every`` episodes.

    Ctrl-C stops at the end of the current chunk (about 1% of the episodes), saves a
    checkpoint and raises :class:`Interrupted`; a second Ctrl-C stops at once. With
    ``resume`` the job continues from the saved checkpoint.
    """
    runs, done = None, 0
    if resume:
        done, runs = load_checkpoint(run_dir)
    stop_requested = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested = True

    def after_chunk(episodes_done: int, state: RunArrays) -> None:
        every = checkpoint_every or 0
        if stop_requested or (every and episodes_done % every == 0):
            if episodes_done < cfg.episodes:
                save_checkpoint(run_dir, episodes_done, state)
        if stop_requested and episodes_done < cfg.episodes:
            raise Interrupted(Path(run_dir), episodes_done)
        if progress is not None:
            progress(episodes_done, cfg.episodes, state)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        stops = chunk_stops(cfg.episodes, checkpoint_every)
        return run_config(cfg, runs=runs, start=done, stops=stops, on_chunk=after_chunk)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def finish(run: TabularRun, run_dir: Path, plot: bool = False) -> dict[str, Any]:
    """Write the results into ``run_dir`` (``summary.json`` last) and return the summary.

    ``plot`` also writes each figure as a PNG file (``report.html`` always embeds them).
    """
    info = summary(run)
    info["run_dir"] = str(run_dir)
    write_tabular_results(run, Path(run_dir), info, plot)
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)
    atomic_write_text(Path(run_dir) / "summary.json", dump_json(info))
    return info


def resume_config(run_dir: Path) -> TabularConfig:
    """The config a run folder was started with."""
    data = read_config(run_dir)
    if data.get("kind", "tabular") != "tabular":
        raise QlearnError(f"{run_dir} is not a tabular run")
    return config_from_mapping(TabularConfig, data, str(Path(run_dir) / "config.yaml"))
