"""TensorBoard event files for run folders (``tensorboard --logdir runs`` shows them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

#: Longer series are averaged in buckets down to about this many points (TensorBoard
#: itself keeps about 1000 per tag when it displays them).
MAX_POINTS = 2000


def bucket_means(values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(steps, means): the series as is when short, else the mean of each run of
    consecutive points, reported at the bucket's last step (1-based)."""
    values = np.asarray(values, dtype=float)
    size = max(1, -(-values.size // max_points))
    if size == 1:
        return np.arange(1, values.size + 1), values
    edges = np.arange(0, values.size, size)
    with np.errstate(invalid="ignore"):
        sums = np.add.reduceat(np.nan_to_num(values), edges)
        counts = np.add.reduceat(np.isfinite(values).astype(float), edges)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    last = np.minimum(edges + size, values.size)
    return last, means


def summary_writer_class() -> type:
    """tensorboardX's SummaryWriter, imported without PyTorch.

    tensorboardX imports torch whenever it is installed (only to accept tensors), which
    costs over a second per process; qlearn writes plain floats, so torch is hidden from
    that one import unless something already loaded it.
    """
    import sys

    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` fail
    try:
        from tensorboardX import SummaryWriter
    finally:
        if hide:
            del sys.modules["torch"]
    return SummaryWriter


def write_scalars(logdir: Path, series: Mapping[str, np.ndarray]) -> None:
    """Write each named series as a TensorBoard scalar, one point per step (1-based).

    ``series`` maps a tag such as ``"episode/return"`` to a 1-D array; NaN points (not
    recorded) are skipped; series longer than ``MAX_POINTS`` are bucket-averaged.
    """
    writer = summary_writer_class()(logdir=str(logdir), flush_secs=3600)
    try:
        for tag, values in series.items():
            for step, value in zip(*bucket_means(values), strict=True):
                if math.isfinite(value):
                    writer.add_scalar(tag, float(value), global_step=int(step))
    finally:
        writer.close()


def write_scalars_at(logdir: Path, series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Like :func:`write_scalars`, with each series' own steps: ``tag -> (steps, values)``
    (e.g. environment steps of a DQN run); NaN points are skipped, and series longer
    than ``MAX_POINTS`` are bucket-averaged (reported at each bucket's last step)."""
    writer = summary_writer_class()(logdir=str(logdir), flush_secs=3600)
    try:
        for tag, (steps, values) in series.items():
            last, means = bucket_means(values)
            at = np.asarray(steps)[last - 1]
            for step, value in zip(at, means, strict=True):
                if math.isfinite(value):
                    writer.add_scalar(tag, float(value), global_step=int(step))
    finally:
        writer.close()
