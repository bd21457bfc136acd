"""Statistics across seeds: mean, standard error, interquartile mean, bootstrap intervals,
and the normal-approximation bands (mean +- 1.96 SE) drawn around learning curves.

A handful of seeds is a small sample, so a sweep reports the mean together with the
interquartile mean (IQM, robust to a few outlier seeds) and a percentile-bootstrap
confidence interval for each, as Agarwal et al. (2021), "Deep Reinforcement Learning at
the Edge of the Statistical Precipice", recommend. Every resampling takes an explicit
seed, so the same values give the same interval every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]
"""Reduces the last axis of an array: (..., n) -> (...)."""


def mean(x: np.ndarray) -> np.ndarray:
    """Arithmetic mean over the last axis."""
    return np.mean(x, axis=-1)


def standard_error(x: np.ndarray, axis: int | None = None) -> float | np.ndarray:
    """Standard error of the mean: sample standard deviation (ddof=1) / sqrt(n), of all
    values or along ``axis`` (axis 0: per column, over seeds in rows).

    It is undefined (nan) for fewer than two values.
    """
    x = np.asarray(x, dtype=float)
    n = x.size if axis is None else x.shape[axis]
    if n < 2:
        return float("nan") if axis is None else np.full(np.delete(x.shape, axis), np.nan)
    se = np.std(x, axis=axis, ddof=1) / np.sqrt(n)
    return float(se) if axis is None else se


def iqm(x: np.ndarray) -> np.ndarray:
    """Interquartile mean over the last axis: the mean of the middle 50% of the values.

    As in Agarwal et al. (2021) and ``scipy.stats.trim_mean(x, 0.25)``: sort, drop
    ``floor(n / 4)`` values from each end, average the rest. With fewer than four values
    nothing is dropped and it equals the mean.
    """
    x = np.sort(np.asarray(x, dtype=float), axis=-1)
    n = x.shape[-1]
    cut = n // 4
    return np.mean(x[..., cut : n - cut], axis=-1)


STATISTICS: dict[str, Statistic] = {"mean": mean, "iqm": iqm}


def bootstrap_ci(
    x: np.ndarray,
    statistic: Statistic = mean,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int | np.random.SeedSequence = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of ``statistic(x)``.

    Draws ``resamples`` samples of ``len(x)`` values with replacement (one generator,
    seeded by ``seed``), computes the statistic of each, and returns the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those statistics
    (numpy's default linear interpolation).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-d array, got shape {x.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, x.size, size=(resamples, x.size))  # (resamples, n)
    stats = statistic(x[picks])  # (resamples,)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


class Summary(NamedTuple):
    """What a sweep reports about one configuration's per-seed values."""

    n: int
    mean: float
    se: float  # nan with one value
    iqm: float
    mean_ci: tuple[float, float]
    iqm_ci: tuple[float, float]


def summarize(
    x: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int | np.random.SeedSequence = 0,
) -> Summary:
    """Mean, standard error, IQM and bootstrap intervals of both, from one seed.

    The two intervals use the same resampled indices (same ``seed``), so they describe
    the same bootstrap population.
    """
    x = np.asarray(x, dtype=float)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    options = {"confidence": confidence, "resamples": resamples}
    return Summary(
        n=int(x.size),
        mean=float(mean(x)),
        se=standard_error(x),
        iqm=float(iqm(x)),
        mean_ci=bootstrap_ci(x, mean, seed=seq, **options),
        iqm_ci=bootstrap_ci(x, iqm, seed=seq, **options),
    )


# --- curves over seeds -----------------------------------------------------------

Z_95 = 1.959963984540054


class MeanSE(NamedTuple):
    mean: float
    se: float  # nan with a single seed
    n: int


def mean_se(values: np.ndarray) -> MeanSE:
    """Mean and standard error of independent values (one per seed)."""
    x = np.asarray(values, dtype=float)
    return MeanSE(float(x.mean()), standard_error(x), x.size)


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
    half = z * standard_error(x, axis=0)
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
