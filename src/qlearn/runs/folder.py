"""Run folders: written atomically, read back without running any code.

A run folder holds ``config.yaml`` (what ran), ``metrics.csv`` (one row per seed and
episode), ``tables.npz`` (final tables per seed and the exact answer) and
``summary.json`` (the headline numbers, the same object ``--json`` prints).
It is assembled in a hidden temporary folder next to its destination and renamed into
place, so a crash never leaves a half-written run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.fields import config_from_mapping
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError, first_line, yaml_problem
from qlearn.core.version import __version__


def _umask() -> int:
    """The process umask (read by setting it, then restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV, written by Arrow: every float in its shortest exact form, NaN as
    an empty cell. Pandas' writer formats cell by cell in Python and spent 33 s of a
    40 s ``qlearn train --seeds 1024`` on three million rows; Arrow takes under 2 s."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(quoting_header="none")
    pa_csv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), sink, options)
    return sink.getvalue().to_pybytes()


def new_run_dir(root: str | Path, label: str) -> Path:
    """A fresh ``root/label-YYYYmmdd-HHMMSS`` (suffixed if taken)."""
    base = Path(root) / f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def training_run_dir(root: Path, cfg: TabularConfig | DQNConfig) -> Path:
    """A new folder under ``root`` named after the world (or map) and the algorithm."""
    name = Path(cfg.map_file).stem if cfg.map_file else str(cfg.world).replace("/", "-")
    return new_run_dir(root, f"{name}-{cfg.algo}")


def write_run_dir(final: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``final`` by filling a temporary sibling folder and renaming it into place."""
    final = Path(final)
    if final.exists():
        raise QlearnError(f"{final} already exists; choose another --out or remove it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o755 & ~_umask())
    try:
        fill(tmp)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def config_record(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """What a run folder's ``config.yaml`` holds: the kind of run, its resolved options and
    the qlearn version that ran it."""
    return {"kind": kind, **fields, "qlearn_version": __version__}


def save_png(png: bytes, path: str | Path) -> Path:
    """Write PNG bytes (:func:`qlearn.viz.figure_png`) to ``path`` atomically."""
    path = Path(path)
    atomic_write_bytes(path, png)
    return path


def write_figures(folder: Path, pngs: dict[str, bytes], plot: bool = True) -> list[Path]:
    """Write each figure's PNG bytes as a file named after it (when ``plot``); returns the
    paths written."""
    if not plot:
        return []
    return [save_png(data, Path(folder) / name) for name, data in pngs.items()]


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=False)


def save_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> None:
    """Save arrays atomically (no object arrays, so loading needs no pickle)."""
    import io

    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def table_arrays(
    q_per_seed: np.ndarray, mdp: Any, solution: Any, seeds: Any = None
) -> dict[str, np.ndarray]:
    """What a finite-world run folder keeps in ``tables.npz``: the learned table of each
    seed next to the exact Q* and V* of ``solution``, labelled with ``mdp``'s state and
    action names (and the seeds, when given)."""
    arrays = {"q": q_per_seed, "q_star": solution.q, "v_star": solution.v}
    if seeds is not None:
        arrays["seeds"] = np.asarray(seeds)
    arrays["state_names"] = np.asarray(mdp.state_names)
    arrays["action_names"] = np.asarray(mdp.action_names)
    return arrays


def _pickled(path: Path, exc: BaseException) -> bool:
    """Whether numpy refused ``path`` because it holds pickled objects (not because it is
    damaged): object arrays inside an npz, or a bare pickle."""
    if "Object arrays" in str(exc):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(1) == b"\x80"  # the pickle protocol opcode
    except OSError:
        return False


def load_npz(path: Path, needed: tuple[str, ...] = (), use: str = "") -> dict[str, np.ndarray]:
    """Load arrays saved by :func:`save_npz`: the one safe opener of every npz qlearn reads.

    Refuses anything that would need pickle, and turns a damaged file (truncated, bytes
    changed: the zip's checksums catch those) or one missing an array in ``needed`` into
    one line naming the file; ``use`` says what that means for the user (e.g. "the run
    cannot be resumed from it"). Every array is read in full here, so damage is found
    before any work starts.
    """
    path = Path(path)
    what = f"; {use}" if use else ""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        raise QlearnError(f"cannot read {path}: {first_line(exc)}") from None
    except MemoryError:
        raise QlearnError(f"{path} is damaged (it claims arrays too large to load){what}") from None
    except Exception as exc:  # noqa: BLE001 - zip, zlib and npy errors all mean a bad file
        if isinstance(exc, ValueError) and _pickled(path, exc):
            raise QlearnError(
                f"{path} holds pickled objects, which qlearn refuses to load (loading them "
                "could run code); it was not written by qlearn"
            ) from None
        raise QlearnError(
            f"{path.name} is truncated or not an npz file{what}: {first_line(exc)} ({path})"
        ) from None
    if not isinstance(arrays, dict):
        raise QlearnError(f"{path.name} is not an npz file{what} ({path})")
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise QlearnError(
            f"{path.name} is damaged or not qlearn's: it lacks the array {missing[0]!r}{what} "
            f"({path})"
        )
    return arrays


def read_table(path: Path, columns: tuple[str, ...], use: str = "") -> pd.DataFrame:
    """A CSV file qlearn wrote, checked: it parses, has ``columns``, and they hold numbers
    in every row (a truncated last row leaves blanks, a changed byte leaves text)."""
    path = Path(path)
    what = f"; {use}" if use else ""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise QlearnError(f"{path.parent} has no {path.name}; it is not a finished run") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a damaged file
        raise QlearnError(
            f"{path.name} is damaged (not a readable CSV table){what}: {first_line(exc)} ({path})"
        ) from None
    for name in columns:
        if name not in table.columns:
            raise QlearnError(
                f"{path.name} is damaged: it lacks the column {name!r}{what} ({path})"
            )
        values = pd.to_numeric(table[name], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() & table[name].notna().to_numpy())
        blank = np.flatnonzero(table[name].isna().to_numpy())
        rows = bad if bad.size else blank
        if rows.size:
            raise QlearnError(
                f"{path.name} is truncated or damaged: column {name!r} is not a number in "
                f"row {int(rows[0]) + 2}{what} ({path})"
            )
        table[name] = values
    return table


@contextmanager
def reading(path: Path, use: str = "") -> Iterator[None]:
    """Around code that reads a run folder's files: what a damaged file breaks further in
    (a missing key, a wrong shape) becomes one line naming ``path``, not a traceback."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, QlearnError):
            raise
        what = f"; {use}" if use else ""
        raise QlearnError(f"{path} holds a damaged file{what}: {first_line(exc)}") from None


def read_config(run_dir: Path) -> dict[str, Any]:
    """A run folder's ``config.yaml`` as a mapping (read safely; damage is one line)."""
    path = Path(run_dir) / "config.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QlearnError(f"{run_dir} is not a run folder (no config.yaml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QlearnError(f"cannot read {path}: {first_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise QlearnError(f"{path} is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise QlearnError(f"{path} must hold a mapping of options")
    return data


#: The config class of each kind of training run folder.
CONFIG_CLASSES: dict[str, type] = {"tabular": TabularConfig, "dqn": DQNConfig}


def saved_config(run_dir: Path, kind: str | None = None) -> TabularConfig | DQNConfig:
    """The config a run folder was started with; ``kind`` refuses a folder of another kind."""
    data = read_config(run_dir)
    found = data.get("kind", "tabular")
    if found not in CONFIG_CLASSES or (kind is not None and found != kind):
        raise QlearnError(
            f"{run_dir} is not a {'DQN' if kind == 'dqn' else kind or 'training'} run"
        )
    path = str(Path(run_dir) / "config.yaml")
    try:
        return config_from_mapping(CONFIG_CLASSES[found], data, path)
    except QlearnError as exc:  # a damaged or hand-edited file: say which one
        if path in str(exc):
            raise
        raise QlearnError(f"{path} does not hold a valid run config: {exc}") from None


def read_summary(run_dir: Path) -> dict[str, Any]:
    """A finished run folder's ``summary.json`` (a mapping; damage is one line)."""
    path = Path(run_dir) / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QlearnError(f"{run_dir} is not a finished run folder (no summary.json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QlearnError(f"cannot read {path}: {first_line(exc)}") from None
    except json.JSONDecodeError as exc:
        raise QlearnError(f"{path} is truncated or not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise QlearnError(f"{path} is damaged: it must hold a JSON object")
    return data


def learned_table(run_dir: str | Path, mdp: Any) -> np.ndarray:
    """(S, A) the mean learned table (over seeds) of a finished run on a finite world,
    tabular or DQN, checked against ``mdp``: the same states, the same actions."""
    path = Path(run_dir) / "tables.npz"
    if not path.exists():
        raise QlearnError(
            f"{run_dir} is not a finished run folder of a finite world (no tables.npz)"
        )
    tables = load_npz(path, ("q",))
    names = tuple(str(x) for x in tables.get("state_names", ()))
    if names != mdp.state_names or tables["q"].shape[1:] != (mdp.n_states, mdp.n_actions):
        raise QlearnError(f"the run in {run_dir} was trained on another world than {mdp.name}")
    return tables["q"].mean(axis=0)
