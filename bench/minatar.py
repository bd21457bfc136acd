"""MinAtar (gymnax) with qlearn's DQN defaults: the final score per game, the frames
actually run on this machine, and the published DQN reference beside it.

Young & Tian (2019, arXiv:1903.03176) trained DQN for 5 million frames per game (30
runs; replay 100k, target update 1000, epsilon 1 -> 0.1 over the first 100k frames,
the settings qlearn's ``minatar`` defaults take). A laptop CPU runs a small share of
that budget here, so every row whose frames fall short of the reference's says "not
comparable": a score after 2% of the training is not a score at 5M frames.

The published curves are figures, not tables: ``PUBLISHED`` holds only numbers read
from a source that prints them; a game without one says so instead of guessing.

    python bench/minatar.py [--steps 100000] [--games Breakout,Asterix,...] [--seeds 1]
"""

from __future__ import annotations

import argparse
import time

GAMES = ("Breakout", "Asterix", "Freeway", "SpaceInvaders", "Seaquest")
REFERENCE_FRAMES = 5_000_000
#: Final DQN return at REFERENCE_FRAMES where a source prints the number (game: (value,
#: source)); empty where the only published record is a plotted curve.
PUBLISHED: dict[str, tuple[float, str]] = {}


def run_game(game: str, steps: int, seeds: int) -> dict:
    """Train one game with the minatar defaults for ``steps`` frames; its numbers."""
    from qlearn.core.errors import QlearnError
    from qlearn.deep.train import train

    began = time.perf_counter()
    try:
        run = train(f"{game}-MinAtar", steps=steps, seeds=seeds)
    except QlearnError as exc:
        return {"game": game, "error": str(exc)}
    wall = time.perf_counter() - began
    final = run.final_eval.mean(axis=1)
    return {
        "game": game, "frames": run.env_steps, "final": float(final.mean()),
        "per_seed": final.tolist(), "wall": wall, "compile": run.compile_seconds,
        "train": run.train_seconds,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="frames per game and seed")
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    print(f"qlearn DQN (minatar defaults), {args.steps:,} frames per game x {args.seeds} "
          f"seed(s); reference: DQN at {REFERENCE_FRAMES:,} frames (Young & Tian)\n")  # fmt: skip
    print(f"{'game':<15}{'frames':>10}{'final':>9}{'published':>11}{'wall s':>9}"
          f"{'train s':>9}  comparable?")  # fmt: skip
    cpu = 0.0
    for game in args.games.split(","):
        r = run_game(game.strip(), args.steps, args.seeds)
        if "error" in r:
            print(f"{r['game']:<15}  not run: {r['error']}")
            continue
        cpu += r["wall"]
        ref = PUBLISHED.get(r["game"])
        shown = "no table" if ref is None else f"{ref[0]:.1f}"
        if r["frames"] < REFERENCE_FRAMES:
            verdict = (
                f"not comparable: {r['frames'] / REFERENCE_FRAMES:.1%} of the reference budget"
            )
        else:
            verdict = "same budget" + ("" if ref else " (no published number to hold it to)")
        print(f"{r['game']:<15}{r['frames']:>10,}{r['final']:>9.2f}{shown:>11}{r['wall']:>9.1f}"
              f"{r['train']:>9.1f}  {verdict}")  # fmt: skip
    print(
        f"\nwall-clock total {cpu:.0f} s; final = mean greedy return of 10 evaluation "
        "episodes per seed after the last step"
    )


if __name__ == "__main__":
    main()
