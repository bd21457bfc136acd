"""DQN and QR-DQN on CartPole-v1: qlearn against Stable-Baselines3 (and sb3-contrib's
QRDQN), same hyperparameters, side by side.

Both run the RL Zoo's tuned CartPole settings (lr 2.3e-3, batch 64, buffer 100000,
learning_starts 1000, gamma 0.99, target update every 10 steps, train_freq 256 with
128 gradient steps, epsilon 1 -> 0.04 over 16% of the run, a 256x256 MLP, Huber loss,
gradient norm clipped at 10, Adam) for 50,000 steps per seed. qlearn runs:

- compiled: gymnax's CartPole, the whole run jitted, seeds one per core;
- host loop: Gymnasium's own CartPole stepped in Python, the same jitted update;

and Stable-Baselines3 2.9.2 (torch 2.13.0 CPU) runs each seed in turn, as its scripts
do, with torch's default threads. With ``--sb3-processes 2`` it also runs its seeds in
parallel processes of one torch thread each, its best use of a 2-core machine.

With ``--tianshou`` Tianshou 2.0.1's DQN (torch 2.13.0 CPU, default threads) joins as a
second peer, each seed in turn in its own process: it needs pandas<3, which qlearn's
venv cannot hold, so the flag makes a venv of its own, ``.venv-tianshou`` at the repo
root (once; later runs only check its pins), and runs ``bench/tianshou_dqn.py`` there.
That script's docstring lists where Tianshou's settings differ from the zoo's (it counts
its target update in gradient steps, and has no learning_starts or epsilon schedule of
its own). Its row's times are its training alone, as SB3's are; the whole processes
(interpreter start, imports, evaluation too) are printed under the table.

With ``--qr`` the same comparison runs QR-DQN: qlearn's ``--distributional qr`` against
sb3-contrib 2.9.2's QRDQN, both with the zoo's QR-DQN settings for CartPole (the DQN
settings above with 10 quantiles, quantile Huber loss with kappa 1).

Every final policy is evaluated the same way: 10 greedy episodes on a separately
seeded Gymnasium CartPole-v1. qlearn's compile time is shown apart (and included in
its end-to-end time); the persistent compilation cache is off so it is cold.

    python bench/dqn_vs_sb3.py [--seeds 4] [--steps 50000] [--sb3-processes 2] [--qr]
                               [--tianshou]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import time
from pathlib import Path

# bench/tianshou_dqn.py imports ZOO and evaluate_policy from here in Tianshou's own venv,
# which has no qlearn or jax: the top level imports the standard library only.
os.environ.setdefault("QLEARN_JAX_CACHE", "")  # measure compiling cold

ZOO = {
    "lr": 2.3e-3, "batch_size": 64, "buffer_size": 100_000, "learning_starts": 1000,
    "gamma": 0.99, "target_update": 10, "train_freq": 256, "gradient_steps": 128,
    "exploration_fraction": 0.16, "final_eps": 0.04, "net": [256, 256],
    # the zoo's (and SB3's) defaults, spelled out: qlearn's CartPole defaults differ
    "double": False, "dueling": False, "loss": "huber", "max_grad_norm": 10.0,
    "lr_end": None, "eval_episodes": 10,
}  # fmt: skip
#: QR-DQN: the zoo's sb3-contrib settings are the DQN ones with 10 quantiles (and one-step
#: returns, where qlearn's own QR-DQN settings for CartPole use two).
QR = {"distributional": "qr", "quantiles": 10, "n_step": 1}
ROOT = Path(__file__).resolve().parents[1]
#: Tianshou's venv and its pins; torch 2.13.0 exactly, the CPU build (another pulls CUDA).
TIANSHOU_VENV = ROOT / ".venv-tianshou"
TIANSHOU_PINS = ("tianshou==2.0.1", "torch==2.13.0", "gymnasium==1.3.0", "pandas<3")


def evaluate_policy(act, seed: int, episodes: int = 10) -> list[float]:
    """Greedy returns on a fresh Gymnasium CartPole-v1, seeded ``seed * 1000 + episode``."""
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    returns = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + ep)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(act(obs))
            total += r
            done = term or trunc
        returns.append(total)
    return returns


def sb3_seed(seed: int, steps: int, threads: int | None = None, qr: bool = False) -> dict:
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN

    if threads:
        torch.set_num_threads(threads)
    kwargs = {"net_arch": ZOO["net"]}
    if qr:
        from sb3_contrib import QRDQN as DQN  # noqa: N814  (the same constructor)

        kwargs["n_quantiles"] = QR["quantiles"]
    model = DQN(
        "MlpPolicy", gym.make("CartPole-v1"), learning_rate=ZOO["lr"],
        batch_size=ZOO["batch_size"], buffer_size=ZOO["buffer_size"],
        learning_starts=ZOO["learning_starts"], gamma=ZOO["gamma"],
        target_update_interval=ZOO["target_update"], train_freq=ZOO["train_freq"],
        gradient_steps=ZOO["gradient_steps"], exploration_fraction=ZOO["exploration_fraction"],
        exploration_final_eps=ZOO["final_eps"], policy_kwargs=kwargs,
        seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    began = time.perf_counter()
    model.learn(steps)
    seconds = time.perf_counter() - began
    returns = evaluate_policy(lambda o: int(model.predict(o, deterministic=True)[0]), seed)
    return {"seed": seed, "seconds": seconds, "steps": model.num_timesteps, "returns": returns}


def _sb3_worker(args):
    return sb3_seed(*args)


def tianshou_python() -> Path:
    """The interpreter of ``.venv-tianshou``, made with python3.11 if missing, pins checked."""
    python = TIANSHOU_VENV / "bin" / "python"
    if not python.exists():
        print(f"making {TIANSHOU_VENV.name} for Tianshou ({' '.join(TIANSHOU_PINS)}) ...")
        subprocess.run(["python3.11", "-m", "venv", str(TIANSHOU_VENV)], check=True)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *TIANSHOU_PINS],
        capture_output=True, text=True,
    )  # fmt: skip
    if pip.returncode:
        raise SystemExit(f"installing Tianshou's pins in {TIANSHOU_VENV} failed:\n{pip.stderr}")
    return python


def tianshou_run(python: Path, seeds: int, steps: int) -> dict:
    """Tianshou's DQN, each seed in turn in its own process; its row, and the processes' wall."""
    script = ROOT / "bench" / "tianshou_dqn.py"
    runs, wall = [], 0.0
    for seed in range(seeds):
        began = time.perf_counter()
        proc = subprocess.run(
            [str(python), str(script), "--seed", str(seed), "--steps", str(steps)],
            capture_output=True, text=True,
        )  # fmt: skip
        wall += time.perf_counter() - began
        if proc.returncode:
            raise SystemExit(f"{script.name} --seed {seed} failed:\n{proc.stderr}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    seconds = sum(r["seconds"] for r in runs)
    return {"seconds": seconds, "compile": 0.0, "total": seconds, "steps": runs[0]["steps"],
            "returns": [r["returns"] for r in runs], "wall": wall}  # fmt: skip


def qlearn_run(seeds: int, steps: int, backend: str, qr: bool = False) -> dict:
    import jax
    import numpy as np

    from qlearn.deep.chunks import make_dqn
    from qlearn.deep.train import resolve_config, run

    began = time.perf_counter()
    # One evaluation, at the end (SB3 does none while learning): the run is one chunk.
    cfg = resolve_config({"world": "CartPole-v1", "steps": steps, "seeds": seeds,
                          "backend": backend, "eval_every": steps, **ZOO,
                          **(QR if qr else {})})  # fmt: skip
    result = run(cfg)
    total = time.perf_counter() - began
    dqn = make_dqn(cfg, 2, "mlp", False, 1)
    q = jax.jit(dqn.q_values)
    per_seed = []
    for k in range(seeds):
        params = jax.tree.map(lambda x, k=k: x[k], result.params)
        act = lambda o, p=params: int(np.argmax(np.asarray(q(p, np.asarray(o)[None]))[0]))  # noqa: E731
        per_seed.append(evaluate_policy(act, cfg.seed + k))
    return {
        "seconds": result.train_seconds, "compile": result.compile_seconds, "total": total,
        "steps": result.env_steps, "returns": per_seed,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--sb3-processes", type=int, default=0)
    parser.add_argument("--skip-host", action="store_true", help="skip qlearn's host loop")
    parser.add_argument("--qr", action="store_true", help="QR-DQN against sb3-contrib's QRDQN")
    parser.add_argument(
        "--tianshou", action="store_true",
        help="Tianshou 2.0.1's DQN too, in its own venv .venv-tianshou (made on first use)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.tianshou and args.qr:
        parser.error("--tianshou runs Tianshou's DQN only; drop --qr or --tianshou")
    # made first, so that a failed install stops the run before the long measurements
    ts_python = tianshou_python() if args.tianshou else None

    import gymnasium
    import jax
    import stable_baselines3
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; jax {jax.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), stable-baselines3 "
          f"{stable_baselines3.__version__}, gymnasium {gymnasium.__version__}")  # fmt: skip
    algo = "QR-DQN" if args.qr else "DQN"
    extra = QR if args.qr else {}
    print(f"{algo} on CartPole-v1, {args.steps:,} steps x {args.seeds} seeds, zoo settings: "
          f"{ {**ZOO, **extra} }\n")  # fmt: skip

    rows = []
    ours = qlearn_run(args.seeds, args.steps, "compiled", args.qr)
    rows.append(("qlearn compiled (gymnax)", ours))
    if not args.skip_host:
        rows.append(
            ("qlearn host loop (gymnasium)",
             qlearn_run(args.seeds, args.steps, "gymnasium", args.qr))
        )  # fmt: skip
    sb3 = [sb3_seed(s, args.steps, None, args.qr) for s in range(args.seeds)]
    sb3_row = {"seconds": sum(r["seconds"] for r in sb3), "compile": 0.0,
               "steps": sb3[0]["steps"], "returns": [r["returns"] for r in sb3]}  # fmt: skip
    sb3_row["total"] = sb3_row["seconds"]
    peer = "sb3-contrib QRDQN" if args.qr else "stable-baselines3"
    rows.append((f"{peer}, seeds in turn ({torch.get_num_threads()} threads)", sb3_row))
    if args.sb3_processes:
        ctx = mp.get_context("spawn")
        began = time.perf_counter()
        with ctx.Pool(args.sb3_processes) as pool:
            jobs = [(s, args.steps, 1, args.qr) for s in range(args.seeds)]
            par = pool.map(_sb3_worker, jobs)
        wall = time.perf_counter() - began
        rows.append((f"{peer}, {args.sb3_processes} processes x 1 thread",
                     {"seconds": wall, "compile": 0.0, "total": wall, "steps": par[0]["steps"],
                      "returns": [r["returns"] for r in par]}))  # fmt: skip

    if ts_python is not None:
        ts_row = tianshou_run(ts_python, args.seeds, args.steps)
        rows.append(("tianshou 2.0.1 DQN, seeds in turn", ts_row))

    base = sb3_row["total"]
    print(f"{'':52}{'train s':>9}{'compile s':>10}{'total s':>9}{'steps/s':>10}"
          f"{'x SB3':>8}  final greedy return per seed (10 episodes)")  # fmt: skip
    for name, r in rows:
        rate = r["steps"] * args.seeds / r["seconds"]
        finals = " ".join(f"{sum(x) / len(x):.0f}" for x in r["returns"])
        print(f"{name:52}{r['seconds']:>9.1f}{r['compile']:>10.1f}{r['total']:>9.1f}"
              f"{rate:>10,.0f}{base / r['total']:>7.1f}x  {finals}")  # fmt: skip
    print(
        "\nx SB3: SB3's total wall-clock (seeds in turn) over each row's total, compiling included"
    )
    if ts_python is not None:
        print(f"tianshou: its row is training alone, as SB3's; its {args.seeds} whole processes "
              f"(start, imports, training, evaluation) took {ts_row['wall']:.1f} s; qlearn "
              f"compiled is {ts_row['total'] / ours['total']:.1f}x Tianshou")  # fmt: skip


if __name__ == "__main__":
    main()
