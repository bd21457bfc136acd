"""A DQN training job on disk: a run folder that can be checkpointed and resumed exactly.

The folder is created with ``config.yaml`` (the resolved configuration). While
training, ``checkpoint.npz`` holds the whole state of every seed between two chunks
(online and target parameters, optimizer state, replay buffer, environments, random
keys) and everything reported so far, replaced atomically; training from it gives the
same numbers, bit for bit, as a run that was never stopped. When training ends the
results are written, ``summary.json`` last.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qlearn.core.version import __version__
from qlearn.deep.chunks import History
from qlearn.deep.train import DQNRun, TrainingDiverged, make_backend, resolve_target
from qlearn.deep.train import run as run_chunks
from qlearn.core.errors import Interrupted, QlearnError
from qlearn.configs.tabular_config import config_from_mapping
from qlearn.configs.dqn_config import DQNConfig
from qlearn.runs.folder import atomic_write_text, dump_json, dump_yaml, load_npz, read_config

CHECKPOINT = "checkpoint.npz"

#: Called after every chunk with (environment steps done per seed, total, history).
Progress = Callable[[int, int, History], None]


def config_record(cfg: DQNConfig) -> dict[str, Any]:
    """The resolved configuration as saved in ``config.yaml``."""
    return {"kind": "dqn", **cfg.to_dict(), "qlearn_version": __version__}


def start(cfg: DQNConfig, run_dir: Path) -> Path:
    """Create the run folder with its ``config.yaml`` (refuses an existing folder)."""
    run_dir = Path(run_dir)
    if run_dir.exists():
        raise QlearnError(f"{run_dir} already exists; choose another --out or remove it")
    run_dir.mkdir(parents=True)
    atomic_write_text(run_dir / "config.yaml", dump_yaml(config_record(cfg)))
    return run_dir


def resume_config(run_dir: Path) -> DQNConfig:
    """The configuration a DQN run folder was started with."""
    data = read_config(run_dir)
    if data.get("kind") != "dqn":
        raise QlearnError(f"{run_dir} is not a DQN run")
    return config_from_mapping(DQNConfig, data, str(Path(run_dir) / "config.yaml"))


def save_checkpoint(run_dir: Path, backend, state, history: History, chunks_done: int) -> None:
    """Replace the checkpoint atomically with the state after ``chunks_done`` chunks."""
    from qlearn.runs.folder import save_npz

    arrays = backend.state_arrays(state)
    arrays.update(history.to_arrays())
    arrays["chunks_done"] = np.asarray(chunks_done)
    save_npz(Path(run_dir) / CHECKPOINT, arrays, compress=False)


def load_checkpoint(run_dir: Path, cfg: DQNConfig, backend) -> tuple[Any, History, int]:
    """State, history and chunks done saved in ``run_dir`` (never unpickles)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise QlearnError(
            f"{run_dir} has no checkpoint to resume from; train with --checkpoint-every N"
        )
    data = load_npz(path)
    if "chunks_done" not in data:
        raise QlearnError(f"{path} is not a qlearn DQN checkpoint (missing 'chunks_done')")
    state = backend.load_state(data, str(path))
    history = History.from_arrays(cfg.seeds, cfg.eval_episodes, data, str(path))
    return state, history, int(data["chunks_done"])


def train(
    cfg: DQNConfig,
    run_dir: Path,
    *,
    checkpoint_every: int | None = None,
    progress: Progress | None = None,
    resume: bool = False,
) -> DQNRun:
    """Train in ``run_dir``, saving a checkpoint whenever another ``checkpoint_every``
    environment steps are done (checkpoints fall at chunk ends, i.e. evaluations).

    Ctrl-C stops at the end of the current chunk, saves a checkpoint and raises
    :class:`Interrupted`; a second Ctrl-C stops at once. If the loss or the
    parameters stop being finite, training stops with :class:`TrainingDiverged`
    and the last checkpoint (always one from before the trouble) is kept.
    """
    run_dir = Path(run_dir)
    backend = make_backend(cfg, resolve_target(cfg))
    state, history, done = None, None, 0
    if resume:
        state, history, done = load_checkpoint(run_dir, cfg, backend)
    stop_requested = False
    saved_at: list[int] = []

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested = True

    def after_chunk(index: int, state: Any, history: History, rec) -> None:
        steps = rec.steps_done
        previous = (
            int(history.arrays["eval_step"][-2]) if len(history.arrays["eval_step"]) > 1 else 0
        )
        last = index + 1 == backend.chunks
        due = bool(checkpoint_every) and steps // checkpoint_every > previous // checkpoint_every
        if not last and (due or stop_requested):
            save_checkpoint(run_dir, backend, state, history, index + 1)
            saved_at.append(steps)
        if stop_requested and not last:
            raise Interrupted(run_dir, steps, unit="environment steps per seed")
        if progress is not None:
            progress(steps, backend.env_steps, history)

    in_main = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        return run_chunks(
            cfg, backend=backend, state=state, history=history, start_chunk=done,
            on_chunk=after_chunk, while_compiling=import_report_modules,
        )  # fmt: skip
    except TrainingDiverged as exc:
        if saved_at or (run_dir / CHECKPOINT).exists():
            note = f"the last good checkpoint is kept in {run_dir / CHECKPOINT}"
        else:
            note = "no checkpoint was saved (use --checkpoint-every N to keep one)"
        raise TrainingDiverged(f"{exc}; {note}") from None
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous_handler)


def import_report_modules() -> None:
    """Import the run folder's writers (pandas, matplotlib, tensorboardX: about a second)
    while the training program compiles; see :func:`qlearn.runs.dqn_results.import_writers`."""
    from qlearn.runs.dqn_results import import_writers

    import_writers()


def finish(run: DQNRun, run_dir: Path, plot: bool = False) -> dict[str, Any]:
    """Write the results into ``run_dir`` (``summary.json`` last) and return the summary."""
    from qlearn.runs.dqn_results import summary, write_dqn_results

    info = summary(run)
    info["run_dir"] = str(run_dir)
    write_dqn_results(run, Path(run_dir), info, config_record(run.config), plot)
    (Path(run_dir) / CHECKPOINT).unlink(missing_ok=True)
    atomic_write_text(Path(run_dir) / "summary.json", dump_json(info))
    return info
