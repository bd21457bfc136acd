"""A training job on disk, tabular or DQN: a run folder that is checkpointed and resumed.

The folder is created when training starts, with ``config.yaml`` (the resolved
configuration, its kind and the qlearn version). While training, ``checkpoint.npz``
holds the whole state of every seed between two chunks, replaced atomically; a killed
job resumes from it with the same numbers, bit for bit, an uninterrupted job would
have produced. Ctrl-C stops at the end of the current chunk, saves a checkpoint and
raises :class:`~qlearn.core.errors.Interrupted`; a second Ctrl-C stops at once. When
training ends the results are written, ``summary.json`` last: a folder with a summary
is complete.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import Interrupted, QlearnError
from qlearn.core.limits import check_fits
from qlearn.mdp import FiniteMDP
from qlearn.runs.folder import (
    atomic_write_text,
    config_record,
    dump_json,
    dump_yaml,
    load_npz,
    save_npz,
    write_run_dir,
)

CHECKPOINT = "checkpoint.npz"

#: Called after every chunk with (episodes or environment steps done per seed, the total,
#: and the state so far: the tabular run arrays or the DQN history).
Progress = Callable[[int, int, Any], None]


def kind_of(cfg: TabularConfig | DQNConfig) -> str:
    """``tabular`` or ``dqn``: the kind a config.yaml records."""
    return "dqn" if isinstance(cfg, DQNConfig) else "tabular"


#: Bytes per seed and episode of tabular training: six per-episode arrays of 8 bytes while
#: training, then the metrics table and its CSV text when the results are written.
TABULAR_EPISODE_BYTES = 256
#: Bytes per seed and environment step of DQN training (the per-iteration records).
DQN_STEP_BYTES = 16
#: Work from which a run counts as long and its estimate is printed up front: episodes x
#: seeds (tabular; a million episodes of a small world take about a second) and
#: environment steps x seeds (DQN; about 2,700 steps/s per seed on CartPole here).
LONG_EPISODES = 10_000_000
LONG_STEPS = 1_000_000
#: Measured throughput (DESIGN.md, 2 cores): environment steps per second.
TABULAR_STEPS_PER_SECOND = 1.3e7
DQN_STEPS_PER_SECOND = 2.7e3


#: Tables a tabular run keeps per seed, each (S, A) float64: Q, Double Q's second table,
#: the visit counts.
TABULAR_TABLES = 3
#: And with eligibility traces (q-lambda, sarsa-lambda): the traces and the list of the
#: entries whose trace is not 0 (at most S x A).
TRACE_TABLES = 2
#: Bytes per replay-buffer entry of DQN beside its two observations: action, reward, flags,
#: priority.
DQN_ENTRY_BYTES = 16


def check_size(cfg: TabularConfig | DQNConfig) -> None:
    """Refuse (one line, before the run folder exists) training whose per-episode or
    per-step records would not fit this machine's memory."""
    if isinstance(cfg, DQNConfig):
        need, what, fix = cfg.steps * cfg.seeds * DQN_STEP_BYTES, "steps", "--steps or --seeds"
    else:
        need, what = cfg.episodes * cfg.seeds * TABULAR_EPISODE_BYTES, "episodes"
        fix = "--episodes or --seeds"
    total = cfg.steps if isinstance(cfg, DQNConfig) else cfg.episodes
    check_fits(need, f"training {total:,} {what} x {cfg.seeds:,} seeds", f"lower {fix}")


def check_world_size(cfg: TabularConfig | DQNConfig, mdp: FiniteMDP | None) -> None:
    """Refuse (one line) tables or replay buffers too big for this machine on a finite
    world: tabular runs keep ``seeds`` x S x A tables (and their snapshots); DQN keeps a
    buffer of one-hot observations of length S per seed."""
    if mdp is None:
        return
    S, A = mdp.n_states, mdp.n_actions
    if isinstance(cfg, DQNConfig):
        entry = 2 * S * 4 + DQN_ENTRY_BYTES  # observation and next observation, float32
        need = cfg.seeds * cfg.buffer_size * entry
        what = (f"a replay buffer of {cfg.buffer_size:,} one-hot observations of "
                f"{S:,} states x {cfg.seeds:,} seeds")  # fmt: skip
        check_fits(need, what, "lower --buffer-size or --seeds, or train on a smaller world")
        return
    tables = TABULAR_TABLES + TRACE_TABLES * cfg.traced + len(cfg.snapshots)
    need = cfg.seeds * (tables * S * A * 8 + S * 8)
    what = f"{tables} tables of {S:,} states x {A} actions x {cfg.seeds:,} seeds"
    check_fits(need, what, "lower --seeds (or --snapshots), or train on a smaller world")


def work_estimate(cfg: TabularConfig | DQNConfig) -> str | None:
    """One line on the work of a long run (None for a short one): how much, and a time
    from the throughput measured on the development machine."""
    if isinstance(cfg, DQNConfig):
        work = cfg.steps * cfg.seeds
        if work < LONG_STEPS:
            return None
        eta = work / DQN_STEPS_PER_SECOND
        return (
            f"long run: {cfg.steps:,} environment steps x {cfg.seeds:,} seeds = {work:,} steps, "
            f"about {_duration(eta)} at {DQN_STEPS_PER_SECOND:,.0f} steps/s"
        )
    work = cfg.episodes * cfg.seeds
    if work < LONG_EPISODES:
        return None
    eta = work / TABULAR_STEPS_PER_SECOND
    return (
        f"long run: {cfg.episodes:,} episodes x {cfg.seeds:,} seeds = {work:,} episodes, at least "
        f"{work:,} environment steps: {_duration(eta)} or more at {TABULAR_STEPS_PER_SECOND:.1e} "
        "steps/s"
    )


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.0f} {unit}"
    return f"{seconds:.0f} s"


def _finite_world(cfg: TabularConfig | DQNConfig) -> FiniteMDP | None:
    """The finite world a config trains on (None for other environments)."""
    from qlearn.envs.registry import finite_mdp_of

    return finite_mdp_of(cfg.world if cfg.map_file is None else None, cfg.map_file)


def start(cfg: TabularConfig | DQNConfig, run_dir: Path) -> Path:
    """Create the run folder with its resolved ``config.yaml`` (refuses an existing one, and
    training too large for this machine)."""
    run_dir = Path(run_dir)
    check_size(cfg)
    check_world_size(cfg, _finite_world(cfg))
    if run_dir.exists():
        raise QlearnError(f"{run_dir} already exists; choose another --out or remove it")
    run_dir.mkdir(parents=True)
    atomic_write_text(
        run_dir / "config.yaml", dump_yaml(config_record(kind_of(cfg), cfg.to_dict()))
    )
    return run_dir


def _save_checkpoint(run_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    save_npz(Path(run_dir) / CHECKPOINT, arrays, compress=False)  # speed over size


def _checkpoint_arrays(run_dir: Path, needed: tuple[str, ...], kind: str) -> dict[str, np.ndarray]:
    """The saved checkpoint's arrays (never unpickles); refuses one of another kind."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise QlearnError(
            f"{run_dir} has no checkpoint to resume from; train with --checkpoint-every N"
        )
    return load_npz(path, needed, use=f"the {kind} run cannot be resumed from it. {NO_EARLIER}")


#: What resume can offer when the checkpoint is bad: qlearn keeps one checkpoint per folder,
#: replaced atomically (so a crash never damages it); there is no earlier one to fall back on.
NO_EARLIER = (
    "No earlier checkpoint is kept (each save replaces the last); "
    "train again with: qlearn train --config RUN/config.yaml"
)


@contextmanager
def _ctrl_c() -> Iterator[Callable[[], bool]]:
    """While training: the first Ctrl-C asks to stop after the current chunk (read by the
    yielded function), a second one stops at once. Only the main thread gets signals."""
    requested = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main else None
    try:
        yield lambda: requested
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)


def train(
    cfg: TabularConfig | DQNConfig,
    run_dir: Path,
    *,
    checkpoint_every: int | None = None,
    progress: Progress | None = None,
    resume: bool = False,
):
    """Train in ``run_dir``, saving a checkpoint every ``checkpoint_every`` episodes
    (tabular) or environment steps (DQN, at the chunk end that passes them); with
    ``resume`` the job continues from the saved checkpoint. Returns the finished run."""
    train_kind = _train_dqn if isinstance(cfg, DQNConfig) else _train_tabular
    return train_kind(cfg, Path(run_dir), checkpoint_every, progress, resume)


def chunk_stops(episodes: int, checkpoint_every: int | None, pieces: int = 100) -> list[int]:
    """Where tabular training pauses: about every 1% (for progress and Ctrl-C) and at
    every checkpoint."""
    step = max(1, -(-episodes // pieces))
    stops = set(range(step, episodes, step))
    if checkpoint_every:
        stops |= set(range(checkpoint_every, episodes, checkpoint_every))
    return sorted(stops | {episodes})


def _train_tabular(cfg: TabularConfig, run_dir: Path, checkpoint_every: int | None,
                   progress: Progress | None, resume: bool):  # fmt: skip
    from qlearn.tabular.loop import RunArrays
    from qlearn.tabular.train import check_layout, run_config

    runs, done = None, 0
    if resume:
        data = _checkpoint_arrays(run_dir, (*RunArrays._fields, "episodes_done"), "tabular")
        runs = check_layout(RunArrays(**{f: data[f] for f in RunArrays._fields}), cfg)
        done = int(data["episodes_done"])
    with _ctrl_c() as stop_requested:

        def after_chunk(episodes_done: int, state: RunArrays) -> None:
            every = checkpoint_every or 0
            unfinished = episodes_done < cfg.episodes
            if unfinished and (stop_requested() or (every and episodes_done % every == 0)):
                arrays = {name: np.asarray(value) for name, value in state._asdict().items()}
                _save_checkpoint(run_dir, {**arrays, "episodes_done": np.asarray(episodes_done)})
            if stop_requested() and unfinished:
                raise Interrupted(run_dir, episodes_done)
            if progress is not None:
                progress(episodes_done, cfg.episodes, state)

        stops = chunk_stops(cfg.episodes, checkpoint_every)
        return run_config(cfg, runs=runs, start=done, stops=stops, on_chunk=after_chunk)


def _train_dqn(cfg: DQNConfig, run_dir: Path, checkpoint_every: int | None,
               progress: Progress | None, resume: bool):  # fmt: skip
    from qlearn.deep.chunks import History
    from qlearn.deep.train import TrainingDiverged, make_backend, resolve_target
    from qlearn.deep.train import run as run_chunks
    from qlearn.runs.dqn_results import import_writers

    backend = make_backend(cfg, resolve_target(cfg))
    state, history, done = None, None, 0
    if resume:
        state, history, done = load_dqn_checkpoint(run_dir, cfg, backend)
    saved_at: list[int] = []
    with _ctrl_c() as stop_requested:

        def after_chunk(index: int, state: Any, history: History, rec) -> None:
            steps = rec.steps_done
            evals = history.arrays["eval_step"]
            previous = int(evals[-2]) if len(evals) > 1 else 0
            last = index + 1 == backend.chunks
            every = checkpoint_every or 0
            due = bool(every) and steps // every > previous // every
            if not last and (due or stop_requested()):
                arrays = {**backend.state_arrays(state), **history.to_arrays()}
                _save_checkpoint(run_dir, {**arrays, "chunks_done": np.asarray(index + 1)})
                saved_at.append(steps)
            if stop_requested() and not last:
                raise Interrupted(run_dir, steps, unit="environment steps per seed")
            if progress is not None:
                progress(steps, backend.env_steps, history)

        try:
            return run_chunks(
                cfg, backend=backend, state=state, history=history, start_chunk=done,
                on_chunk=after_chunk, while_compiling=import_writers,
            )  # fmt: skip
        except TrainingDiverged as exc:
            if saved_at or (run_dir / CHECKPOINT).exists():
                note = f"the last good checkpoint is kept in {run_dir / CHECKPOINT}"
            else:
                note = "no checkpoint was saved (use --checkpoint-every N to keep one)"
            raise TrainingDiverged(f"{exc}; {note}") from None


def load_dqn_checkpoint(run_dir: Path, cfg: DQNConfig, backend) -> tuple[Any, Any, int]:
    """State, history and chunks done of a DQN run folder's checkpoint."""
    from qlearn.deep.chunks import History

    data = _checkpoint_arrays(run_dir, ("chunks_done",), "DQN")
    source = str(Path(run_dir) / CHECKPOINT)
    history = History.from_arrays(cfg.seeds, cfg.eval_episodes, data, source)
    return backend.load_state(data, source), history, int(data["chunks_done"])


def _results_of(run):
    """The results module of a run's kind: its summary and the files it writes."""
    if isinstance(run.config, DQNConfig):
        from qlearn.runs import dqn_results as results
    else:
        from qlearn.runs import tabular_results as results
    return results


def _write_results(run, run_dir: Path, info: dict[str, Any], plot: bool) -> dict[str, bytes]:
    """Everything but config.yaml, ``summary.json`` last; returns the figures."""
    pngs = _results_of(run).write_results(run, run_dir, info, plot)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    atomic_write_text(run_dir / "summary.json", dump_json(info))
    return pngs


def finish(run, run_dir: Path, plot: bool = False) -> dict[str, Any]:
    """Write the results into ``run_dir`` (``summary.json`` last) and return the summary.

    ``plot`` also writes each figure as a PNG file (``report.html`` always embeds them).
    """
    info = {**_results_of(run).summary(run), "run_dir": str(run_dir)}
    _write_results(run, Path(run_dir), info, plot)
    return info


def write_run(run, run_dir: Path, plot: bool = False) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A run trained in memory (:func:`qlearn.train`) as a complete new run folder,
    created atomically; returns its summary and figures."""
    info = {**_results_of(run).summary(run), "run_dir": str(run_dir)}
    pngs: dict[str, bytes] = {}

    def fill(folder: Path) -> None:
        record = config_record(kind_of(run.config), run.config.to_dict())
        atomic_write_text(folder / "config.yaml", dump_yaml(record))
        pngs.update(_write_results(run, folder, info, plot))

    write_run_dir(Path(run_dir), fill)
    return info, pngs
