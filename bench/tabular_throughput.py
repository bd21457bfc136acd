"""Tabular Q-learning throughput: qlearn's compiled loop against a plain Gymnasium loop.

Both learn FrozenLake 8x8 (slippery, 200-step cap) with the same Q-learning settings:
epsilon 1 -> 0.05 linearly over the episodes, alpha 0.1, gamma 0.99, random tie-breaking.
The Gymnasium side is what most tutorials write: a Python loop over
``gymnasium.make("FrozenLake-v1", map_name="8x8")`` with a NumPy table. qlearn runs the
same number of episodes once (one seed) and for 1024 seeds at once, from Python and
through the command line (``qlearn train frozenlake8x8 --seeds 1024 --json``, its
env_steps over train_seconds, and its whole process, writing the run folder included).
Compile time is reported separately (Numba caches it on disk after the first run).

    python bench/tabular_throughput.py [--episodes 3000] [--batch 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import numba
import numpy as np

import qlearn

SETTINGS = {"alpha": 0.1, "epsilon": "1:0.05", "gamma": 0.99}


def gymnasium_loop(episodes: int, seed: int = 0) -> tuple[int, float]:
    """Plain Python Q-learning over Gymnasium's FrozenLake; returns (steps, seconds)."""
    env = gym.make("FrozenLake-v1", map_name="8x8")
    rng = np.random.default_rng(seed)
    q = np.zeros((env.observation_space.n, env.action_space.n))
    alpha, gamma = SETTINGS["alpha"], SETTINGS["gamma"]
    steps = 0
    started = time.perf_counter()
    s, _ = env.reset(seed=seed)
    for ep in range(episodes):
        epsilon = 1.0 + (0.05 - 1.0) * ep / episodes
        if ep:
            s, _ = env.reset()
        while True:
            if rng.random() < epsilon:
                a = int(rng.integers(4))
            else:
                a = int(rng.choice(np.flatnonzero(q[s] == q[s].max())))
            s2, r, terminated, truncated, _ = env.step(a)
            target = r if terminated else r + gamma * q[s2].max()
            q[s, a] += alpha * (target - q[s, a])
            s = s2
            steps += 1
            if terminated or truncated:
                break
    return steps, time.perf_counter() - started


def qlearn_run(episodes: int, seeds: int) -> qlearn.tabular.train.TabularRun:
    return qlearn.train("frozenlake8x8", episodes=episodes, seeds=seeds, **SETTINGS)


def cli_run(episodes: int, seeds: int) -> tuple[int, float, float]:
    """``qlearn train`` in its own process: (env steps, train seconds, whole seconds)."""
    flags = [f"--{k}={v}" for k, v in SETTINGS.items()]
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "qlearn.cli", "train", "frozenlake8x8", "--json",
                   f"--episodes={episodes}", f"--seeds={seeds}", *flags,
                   "--out", f"{tmp}/run"]  # fmt: skip
        began = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        whole = time.perf_counter() - began
    summary = json.loads(out[out.index("{") : out.rindex("}") + 1])
    return summary["env_steps"], summary["train_seconds"], whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), numpy "
        f"{np.__version__}, gymnasium {gym.__version__}, qlearn {qlearn.__version__}"
    )
    print(f"FrozenLake 8x8, {args.episodes} episodes per run, settings {SETTINGS}\n")

    started = time.perf_counter()
    first = qlearn_run(2, 1)
    batch_first = qlearn_run(2, 2)
    load = time.perf_counter() - started
    compile_seconds = first.compile_seconds + batch_first.compile_seconds
    print(
        f"qlearn compile (or cache load): {compile_seconds:.2f} s "
        f"(first calls in this process: {load:.2f} s)"
    )

    gym_steps, gym_seconds = gymnasium_loop(args.episodes)
    gym_rate = gym_steps / gym_seconds

    singles = [qlearn_run(args.episodes, 1) for _ in range(args.repeats)]
    one = statistics.median(r.env_steps / r.train_seconds for r in singles)
    batch = qlearn_run(args.episodes, args.batch)
    many = batch.env_steps / batch.train_seconds

    cli_steps, cli_train, cli_whole = cli_run(args.episodes, args.batch)
    rows = [
        ("gymnasium loop (1 run)", gym_steps, gym_seconds, gym_rate),
        (
            "qlearn, 1 run",
            singles[0].env_steps,
            statistics.median(r.train_seconds for r in singles),
            one,
        ),
        (f"qlearn, {args.batch} seeds", batch.env_steps, batch.train_seconds, many),
        (f"qlearn train CLI, {args.batch} seeds", cli_steps, cli_train, cli_steps / cli_train),
        ("  the same, whole process", cli_steps, cli_whole, cli_steps / cli_whole),
    ]
    print(f"{'':34}{'steps':>14}{'seconds':>10}{'steps/s':>14}{'ns/step':>9}{'vs gymnasium':>14}")
    for name, steps, seconds, rate in rows:
        print(f"{name:34}{steps:>14,}{seconds:>10.3f}{rate:>14,.0f}{1e9 / rate:>9.1f}"
              f"{rate / gym_rate:>13,.0f}x")  # fmt: skip
    gap = batch.arrays.gaps[:, -1].mean()
    print(f"\nlearning check: mean final max|Q - Q*| over {args.batch} seeds = {gap:.3f}")


if __name__ == "__main__":
    main()
