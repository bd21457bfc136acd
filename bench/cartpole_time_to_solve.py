"""Time to solve CartPole-v1 with qlearn's default configurations, compiling included:
DQN (the defaults), PQN (``--algo pqn``), and the distributional heads (``--algo dqn
--distributional c51|qr``), ``--rainbow`` and Rainbow's other pieces one at a time
(``--per``, ``--noisy``, ``--n-step 3``), side by side, with the ratio of each median
time to solve to DQN's. Each configuration's whole-command times show what it costs.

Each seed runs as a user would run it, ``qlearn train CartPole-v1 --seed K [flags]``,
in a fresh process with the compilation cache off (cold). Reported per seed:

- the whole command's wall-clock time, from launch to exit (the configuration's steps,
  ten greedy evaluations of 10 episodes, the run folder written);
- the first evaluation whose mean return is at least 475 (Gymnasium's threshold), and
  the time from launch until that evaluation finished (an upper bound: it also counts
  writing the run folder at the end);
- the final evaluation.

One more run with the compilation cache warm shows what a second run costs.

    python bench/cartpole_time_to_solve.py [--seeds 10] [--algos dqn,pqn,c51,qr]
    python bench/cartpole_time_to_solve.py --seeds 2 --algos dqn,per,c51,noisy,nstep3,rainbow
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The flags of each configuration measured.
ALGOS = {
    "dqn": [],
    "pqn": ["--algo", "pqn"],
    "c51": ["--algo", "dqn", "--distributional", "c51"],
    "qr": ["--algo", "dqn", "--distributional", "qr"],
    "rainbow": ["--algo", "dqn", "--rainbow"],
    # Rainbow's pieces one at a time on top of the DQN defaults (what each costs)
    "per": ["--algo", "dqn", "--per"],
    "noisy": ["--algo", "dqn", "--noisy"],
    "nstep3": ["--algo", "dqn", "--n-step", "3"],
}


def run_seed(seed: int, folder: Path, cache: str, flags: list[str] | None = None) -> dict:
    env = dict(os.environ, QLEARN_JAX_CACHE=cache)
    out = folder / f"seed-{seed}"
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "qlearn.cli", "train", "CartPole-v1", "--seed", str(seed),
         *(flags or []), "--quiet", "--json", "--out", str(out)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - began
    info = json.loads(proc.stdout)
    p = info["per_seed"][0]
    first = p["first_solved_step"]
    to_solve = None
    if first is not None:
        k = info["eval_steps"].index(first)
        to_solve = wall - (info["eval_seconds"][-1] - info["eval_seconds"][k])
    return {"seed": seed, "wall": wall, "first": first, "to_solve": to_solve,
            "final": p["eval_mean"], "compile": info["compile_seconds"],
            "train": info["train_seconds"], "steps": info["steps"]}  # fmt: skip


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--algos", default="dqn,pqn", help=f"some of {','.join(ALGOS)}")
    args = parser.parse_args()
    medians, walls = {}, {}
    for algo in args.algos.split(","):
        print(f"\n== {algo}: qlearn train CartPole-v1 {' '.join(ALGOS[algo])}")
        with tempfile.TemporaryDirectory() as tmp:
            medians[algo], walls[algo] = report(algo, args.seeds, Path(tmp))
    if "dqn" in medians and medians["dqn"]:
        print("\nmedian time to solve (launch to first solved evaluation), DQN's over it:")
        for algo, t in medians.items():
            shown = "never solved" if t is None else f"{t:.1f} s  ({medians['dqn'] / t:.2f}x)"
            print(f"  {algo:<8} {shown}")
    if "dqn" in walls:
        print("\nmedian whole command (cold; warm cache), over DQN's:")
        for algo, (cold, warm) in walls.items():
            dqn_cold, dqn_warm = walls["dqn"]
            print(f"  {algo:<8} {cold:.1f} s ({cold / dqn_cold:.2f}x); "
                  f"{warm:.1f} s ({warm / dqn_warm:.2f}x)")  # fmt: skip


def report(algo: str, seeds: int, tmp: Path) -> tuple[float | None, tuple[float, float]]:
    """Run and print one configuration's seeds; its median time to solve, and its median
    whole command cold and seed 0's with the cache warm."""
    flags = ALGOS[algo]
    rows = [run_seed(s, tmp, "", flags) for s in range(seeds)]
    cache = str(tmp / "cache")
    run_seed(0, tmp / "fill", cache, flags)
    warm = run_seed(0, tmp / "warm", cache, flags)
    print(f"{'seed':>4}{'wall s':>9}{'compile s':>11}{'train s':>9}{'solved at step':>16}"
          f"{'time to solve s':>17}{'final eval':>12}")  # fmt: skip
    for r in rows:
        first = "-" if r["first"] is None else f"{r['first']:,}"
        solve = "-" if r["to_solve"] is None else f"{r['to_solve']:.1f}"
        print(f"{r['seed']:>4}{r['wall']:>9.1f}{r['compile']:>11.1f}{r['train']:>9.1f}"
              f"{first:>16}{solve:>17}{r['final']:>12.1f}")  # fmt: skip
    solved = [r for r in rows if r["to_solve"] is not None]
    finals = sum(r["final"] >= 475 for r in rows)
    print(f"\nsolved within {rows[0]['steps']:,} steps: {len(solved)}/{len(rows)} seeds; final "
          f"evaluation >= 475: {finals}/{len(rows)}")  # fmt: skip
    times = sorted(r["to_solve"] for r in solved)
    if solved:
        print(f"time to solve (launch to first solved evaluation): median "
              f"{median(times):.1f} s, worst {times[-1]:.1f} s; whole command: "
              f"median {median([r['wall'] for r in rows]):.1f} s")  # fmt: skip
    print(
        f"seed 0 again with a warm compilation cache: {warm['wall']:.1f} s "
        f"(compile {warm['compile']:.1f} s)"
    )
    walls = (median([r["wall"] for r in rows]), warm["wall"])
    # unsolved seeds count as never: the median over all seeds, if most solved
    if len(solved) * 2 <= len(rows):
        return None, walls
    return median(times + [float("inf")] * (len(rows) - len(solved))), walls


if __name__ == "__main__":
    main()
