"""How to spread a local sweep over cores: configurations one after another, each using
Numba's threads over its seeds, or configurations in parallel processes, one thread each.

Run: [SCALE=20] [REPEATS=3] python bench/sweep_local.py
(wall times per layout; the layouts alternate within each repeat)
"""

from __future__ import annotations

import os
import platform
import time

import numba

from qlearn.experiments.sweep import available_cores, run_local
from qlearn.experiments.sweep_spec import parse_spec


def spec(seeds: int, episodes: int, world: str = "frozenlake8x8") -> dict:
    return {
        "name": "bench",
        "world": world,
        "fixed": {"episodes": episodes, "epsilon": "1:0.05"},
        "grid": {"algo": ["q-learning", "sarsa"], "alpha": [0.05, 0.1, 0.2, 0.4]},
        "seeds": seeds,
        "metric": "mean_return",
    }


def timed(trials, workers: int) -> float:
    started = time.perf_counter()
    run_local(trials, workers=workers)
    return time.perf_counter() - started


def main() -> None:
    cores = available_cores()
    print(
        f"{platform.processor() or platform.machine()}, {cores} cores, "
        f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
        f"load avg {os.getloadavg()[0]:.2f}"
    )
    scale = int(os.environ.get("SCALE", "1"))  # SCALE=20: long enough to amortise start-up
    cases = [
        (f"8 configs x 16 seeds x {2000 * scale} episodes", spec(16, 2000 * scale)),
        (f"8 configs x 1 seed x {20000 * scale} episodes", spec(1, 20000 * scale)),
        (f"8 configs x 16 seeds x {200 * scale} episodes", spec(16, 200 * scale)),
    ]
    for label, data in cases:
        trials = parse_spec(data).trials()
        run_local(trials[:1], workers=1)  # load the compiled loop once
        times: dict[int, list[float]] = {1: [], cores: []}
        for _ in range(int(os.environ.get("REPEATS", "3"))):
            for workers in times:
                times[workers].append(timed(trials, workers))
        best = {w: min(t) for w, t in times.items()}
        print(
            f"{label}: sequential (Numba threads over seeds) {best[1]:.2f} s, "
            f"{cores} processes (1 thread each) {best[cores]:.2f} s "
            f"(min of repeats; all: {times})"
        )


if __name__ == "__main__":
    main()
