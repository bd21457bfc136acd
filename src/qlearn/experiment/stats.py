"""Statistics across seeds: means, standard errors and confidence bands.

Seeds are independent runs, so the standard error of a mean over seeds is the sample
standard deviation over seeds divided by sqrt(n). Bands use the normal approximation
(mean +- 1.96 SE), which is what they are labelled as.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

Z_95 = 1.959963984540054


class MeanSE(NamedTuple):
    mean: float
    se: float  # nan with a single seed
    n: int


def mean_se(values: np.ndarray) -> MeanSE:
    """Mean and standard error of independent values (one per seed)."""
    x = np.asarray(values, dtype=float)
    n = x.size
    se = float(x.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return MeanSE(float(x.mean()), se, n)


class Band(NamedTuple):
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


def band(per_seed: np.ndarray, z: float = Z_95) -> Band:
    """Per-column mean over seeds (rows) and its mean +- z SE band; no band for one seed."""
    x = np.asarray(per_seed, dtype=float)
    mean = x.mean(axis=0)
    if x.shape[0] < 2:
        return Band(mean, mean.copy(), mean.copy())
    half = z * x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    return Band(mean, mean - half, mean + half)


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over ``width`` points (shorter at the start), same length as ``x``."""
    x = np.asarray(x, dtype=float)
    if width <= 1:
        return x.copy()
    sums = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, x.size + 1)
    start = np.maximum(idx - width, 0)
    return (sums[idx] - sums[start]) / (idx - start)


def window_means(per_episode: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """(N,) each seed's mean over episodes ``window`` (1-based, inclusive)."""
    lo, hi = window
    return np.asarray(per_episode, dtype=float)[:, lo - 1 : hi].mean(axis=1)
