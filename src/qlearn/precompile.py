"""Compile qlearn's Numba loops into the on-disk cache, once, before they are needed.

``python -m qlearn.precompile`` runs each compiled loop on a tiny real job. Numba then
keeps the machine code in its cache (``NUMBA_CACHE_DIR``), and every later process loads
it in a second instead of compiling for half a minute. ``make test`` runs it first, so
its parallel workers and the CLI processes the tests start do not each compile the same
loops at once. When the cache is already warm it returns in about a second.

``--dqn`` instead compiles the training program of ``qlearn train CartPole-v1`` (the
defaults) into JAX's persistent cache (see :mod:`qlearn.deep`), so a user's first DQN
run loads it (about 1.5 s) instead of compiling it (about 5 s). The set-up commands
run it.
"""

from __future__ import annotations

import time


def precompile() -> float:
    """Run every Numba loop once on a tiny job; returns the seconds it took."""
    started = time.perf_counter()
    import gymnasium as gym

    import qlearn
    from qlearn.runs.logs import behaviour_policy
    from qlearn.tabular.offline import check_log, collect, learn_from_log

    qlearn.train("classic", episodes=1)  # the tabular loop (one seed or many: same code)
    mdp = qlearn.load_world("classic")
    log = collect(mdp, behaviour_policy(mdp, "random"), episodes=2)
    learn_from_log(mdp, check_log(log, mdp), passes=1)  # collect and --from-log
    env = gym.make("qlearn/classic-v0")  # the Gymnasium face draws through the same code
    env.reset(seed=0)
    env.step(0)
    return time.perf_counter() - started


def warm_dqn(world: str = "CartPole-v1") -> float:
    """Compile (without running) the training program of ``qlearn train WORLD`` with its
    defaults, which writes it to JAX's persistent cache; returns the seconds it took.
    Every seed count shares it: seeds run one per device in the same program."""
    started = time.perf_counter()
    from qlearn.deep.train import make_backend, resolve_config, resolve_target

    cfg = resolve_config({"algo": "dqn", "world": world}, "qlearn.precompile")
    backend = make_backend(cfg, resolve_target(cfg))
    backend.compile(backend.fresh())
    return time.perf_counter() - started


def main() -> None:
    import sys

    if "--dqn" in sys.argv[1:]:
        print(f"qlearn: CartPole-v1's DQN program cached ({warm_dqn():.1f} s)")
    else:
        print(f"qlearn: compiled loops ready ({precompile():.1f} s)")


if __name__ == "__main__":
    main()
