"""How much memory a sweep needs, checked before anything is expanded or trained.

A sweep keeps, for its whole run, a record per configuration (its options, trial result,
statistics and table rows) and each configuration's learning curve; while it trains
one configuration it holds every seed's per-episode arrays, and while it ranks, the
bootstrap resamples of one configuration. The estimates below are upper bounds per item,
measured loosely on this code; they are meant to refuse what could never fit (a billion
seeds, a 1000x1000x1000 grid) in one line naming the key to change, not to budget bytes.
"""

from __future__ import annotations

import math
from typing import Any

from qlearn.core.errors import QlearnError
from qlearn.core.limits import check_fits

#: The most configurations one sweep takes: checking each takes about 0.1 ms and training
#: each at least a compiled call, so beyond this a sweep is hours of work before it starts.
MAX_CONFIGURATIONS = 100_000
#: One configuration's options, trial result, summary and rows in the result tables.
CONFIG_BYTES = 16 * 1024
#: Per seed and episode of a tabular trial: its arrays (return, length, gap, share,
#: first action, exploration), the metrics table built from them, and the curve.
SEED_EPISODE_BYTES = 256
#: Per seed and environment step of a DQN trial: the per-iteration loss record.
SEED_STEP_BYTES = 16
#: Per seed, besides: its generator state, final table, per-seed values and rows.
SEED_BYTES = 4 * 1024
#: Per bootstrap resample and seed: the picks (int64), the values picked (float64) and the
#: statistic's temporaries (the IQM sorts a copy).
RESAMPLE_BYTES = 32
#: The default number of bootstrap resamples (enough for 95% intervals).
USUAL_RESAMPLES = 10_000
#: Per configuration and point of its curve kept for the sweep's figure and curves.csv.
CURVE_POINT_BYTES = 96


def configuration_count(grid: dict[str, list[Any]], samples: int | None) -> int:
    """How many configurations a spec expands to: the grid's product times the draws."""
    return math.prod(len(values) for values in grid.values()) * (samples or 1)


def check_counts(configurations: int, seeds: int, bootstrap: int) -> None:
    """Refuse, before expanding a spec, counts whose memory could not fit this machine
    even with one-episode runs (the lower bound the spec's numbers alone give), and more
    configurations than :data:`MAX_CONFIGURATIONS`."""
    if configurations > MAX_CONFIGURATIONS:
        raise QlearnError(
            f"this sweep has {configurations:,} configurations, more than the "
            f"{MAX_CONFIGURATIONS:,} one sweep checks and trains; shorten the grid lists or "
            "lower samples (or split it into several sweeps)"
        )
    _check(configurations, seeds, bootstrap, points=1, per_point=SEED_EPISODE_BYTES)


def check_configs(configs: list[Any], seeds: int, bootstrap: int) -> None:
    """Refuse, once the spec is expanded, a sweep whose longest configuration (episodes,
    or DQN steps, x seeds) would not fit in memory with the rest."""
    longest, per_point = 1, SEED_EPISODE_BYTES
    for cfg in configs:
        steps = getattr(cfg, "steps", None)
        points, unit = (steps, SEED_STEP_BYTES) if steps else (cfg.episodes, SEED_EPISODE_BYTES)
        if points * unit > longest * per_point:
            longest, per_point = points, unit
    _check(len(configs), seeds, bootstrap, longest, per_point)


def _resample_fix(bootstrap: int) -> str:
    """Resamples x seeds: lower whichever is beyond its usual size."""
    if bootstrap > USUAL_RESAMPLES:
        return f"lower bootstrap, e.g. bootstrap: {USUAL_RESAMPLES}"
    return "lower seeds"


def _check(configurations: int, seeds: int, bootstrap: int, points: int, per_point: int) -> None:
    parts = {
        "configurations (shorten the grid lists or lower samples)": configurations
        * (CONFIG_BYTES + points * CURVE_POINT_BYTES),
        "seeds x episodes of one configuration (lower seeds, or episodes / steps)": seeds
        * (SEED_BYTES + points * per_point),
        f"bootstrap resamples ({_resample_fix(bootstrap)})": bootstrap * seeds * RESAMPLE_BYTES,
    }
    biggest = max(parts, key=parts.__getitem__)
    what, fix = biggest.split(" (", 1)
    check_fits(
        sum(parts.values()),
        f"this sweep ({configurations:,} configurations x {seeds:,} seeds, "
        f"{bootstrap:,} bootstrap resamples; most of it for its {what})",
        fix.rstrip(")"),
    )
