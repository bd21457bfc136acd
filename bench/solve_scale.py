"""Exact solution at scale: value iteration on successor lists against pymdptoolbox and
against the dense (S, A, S) tables qlearn held before.

Mazes of about 10^3 to 10^6 open cells (-1 per move, gamma 1). For each size:

- **sweep**: the time of one value-iteration sweep (the median over ``--sweeps``
  sweeps from V = 0) and the peak memory of building the solver's arrays and sweeping,
  for qlearn's successor lists, for pymdptoolbox 4.0b3's ``ValueIteration`` (one scipy
  CSR matrix per action, its documented sparse input; ``max_iter`` sweeps, and the
  matrices are built from qlearn's lists outside the timing), and for a dense
  (S, A, S) einsum, the path qlearn took before, where it fits in ``--dense-limit`` bytes;
- **solve**: the wall time of ``qlearn.solve`` to the exact optimum (value iteration
  up to 10,000 states, policy iteration with sparse solves above), and its method, next
  to pymdptoolbox's value iteration run to convergence (and its distance to V*).

Install the peer with ``pip install pymdptoolbox==4.0b3``.

    python bench/solve_scale.py [--sizes 45,141,447,1415] [--sweeps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

import qlearn
from qlearn.envs.registry import load_world
from qlearn.exact import bellman_optimality


def timed_sweeps(step, v0: np.ndarray, sweeps: int) -> tuple[float, int]:
    """(median seconds per sweep, peak bytes traced) of ``sweeps`` calls of ``step``."""
    tracemalloc.start()
    times, v = [], v0
    for _ in range(sweeps):
        started = time.perf_counter()
        v = step(v)
        times.append(time.perf_counter() - started)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak


def qlearn_sweep(mdp, sweeps: int) -> tuple[float, int]:
    return timed_sweeps(lambda v: bellman_optimality(mdp, v, mdp.gamma), np.zeros(mdp.n_states),
                        sweeps)  # fmt: skip


def dense_sweep(mdp, sweeps: int) -> tuple[float, int]:
    """The dense path: P (S, A, S) and R (S, A, S) as qlearn held them before."""
    S, A = mdp.n_states, mdp.n_actions
    tracemalloc.start()
    P = np.zeros((S, A, S))
    R = np.zeros((S, A, S))
    s, a = np.indices(mdp.next_states.shape[:2])
    for k in range(mdp.next_states.shape[2]):
        np.add.at(P, (s, a, mdp.next_states[:, :, k]), mdp.next_probs[:, :, k])
        R[s, a, mdp.next_states[:, :, k]] = mdp.next_rewards[:, :, k]
    expected = np.einsum("sat,sat->sa", P, R)
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    def step(v):
        q = expected + mdp.gamma * np.einsum("sat,t->sa", P, np.where(mdp.terminal, 0.0, v))
        q = np.where(mdp.legal, q, -np.inf)
        return np.where(mdp.terminal, 0.0, q.max(axis=1))

    per_sweep, peak = timed_sweeps(step, np.zeros(S), sweeps)
    return per_sweep, max(build_peak, peak + P.nbytes + R.nbytes)


def toolbox_inputs(mdp):
    """pymdptoolbox's documented sparse input: one (S, S) CSR matrix per action, and
    rewards (S, A) (0 in the absorbing goal)."""
    from scipy import sparse

    S = mdp.n_states
    rows = np.repeat(np.arange(S), mdp.next_states.shape[2])
    P = [
        sparse.csr_matrix(
            (mdp.next_probs[:, a].ravel(), (rows, mdp.next_states[:, a].ravel())), shape=(S, S)
        )
        for a in range(mdp.n_actions)
    ]
    return P, np.where(mdp.terminal[:, None], 0.0, mdp.expected_reward)


def toolbox_runs(mdp, sweeps: int, limit: float) -> tuple[float, int, float, float] | str:
    """pymdptoolbox's ValueIteration: (seconds per sweep over ``sweeps`` sweeps, peak
    bytes, seconds to converge from V = 0 to a change below 1e-9, max |V - V*|) or why
    it did not run. With gamma 1 it computes no iteration bound, so ``max_iter`` holds.

    Its input check sums each sparse matrix's rows into an (S, 1) matrix and subtracts an
    (S,) vector, which broadcasts to a dense S x S array: past ``limit`` bytes it cannot run.
    """
    try:
        import mdptoolbox.mdp
    except ImportError:
        return "(not installed)"
    if mdp.n_states**2 * 8 > limit:
        return "(S x S check)"
    P, R = toolbox_inputs(mdp)
    tracemalloc.start()
    solver = mdptoolbox.mdp.ValueIteration(P, R, 1.0, epsilon=1e-300, max_iter=sweeps)
    started = time.perf_counter()
    solver.run()
    per_sweep = (time.perf_counter() - started) / solver.iter
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    solver = mdptoolbox.mdp.ValueIteration(P, R, 1.0, epsilon=1e-9, max_iter=10**7)
    solver.run()
    seconds = time.perf_counter() - started
    error = np.abs(np.array(solver.V) - qlearn.solve(mdp).v).max()
    return per_sweep, peak, seconds, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="45,141,447,1415", help="maze sides (odd)")
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument(
        "--dense-limit",
        type=float,
        default=4e9,
        help="bytes a dense array may take (P and R here, the peer's check)",
    )
    args = parser.parse_args()
    print(f"{'states':>9} {'qlearn sweep':>13} {'ns/state':>9} {'peak':>9} "
          f"{'toolbox sweep':>14} {'peak':>9} {'ratio':>6} {'dense sweep':>12} {'ratio':>6} "
          f"{'exact solve':>12}  {'method':<16} {'toolbox':>9} {'ratio':>7}  error")  # fmt: skip
    for side in (int(s) for s in args.sizes.split(",")):
        mdp = load_world(f"maze:{side}x{side}:seed=1")
        S = mdp.n_states
        ours, our_peak = qlearn_sweep(mdp, args.sweeps)
        peer = toolbox_runs(mdp, args.sweeps, args.dense_limit)
        dense = None
        if 2 * S * S * mdp.n_actions * 8 <= args.dense_limit:
            dense = dense_sweep(mdp, max(3, args.sweeps // 5))
        started = time.perf_counter()
        solution = qlearn.solve(mdp)
        solve_seconds = time.perf_counter() - started
        line = f"{S:>9,} {ours * 1e3:>11.2f}ms {ours / S * 1e9:>9.1f} {our_peak / 2**20:>7.1f}MB "
        if isinstance(peer, tuple):
            line += f"{peer[0] * 1e3:>12.2f}ms {peer[1] / 2**20:>7.1f}MB {peer[0] / ours:>5.1f}x "
        else:
            line += f"{peer:>31} "
        line += f"{dense[0] * 1e3:>10.1f}ms {dense[0] / ours:>5.0f}x " if dense else f"{'-':>19} "
        line += f"{solve_seconds:>11.2f}s  {solution.method:<16}"
        if isinstance(peer, tuple):
            line += f" {peer[2]:>8.2f}s {peer[2] / solve_seconds:>6.1f}x  {peer[3]:.0e}"
        print(line, flush=True)
    print("sweep ratios: the peer's (or the dense path's) time per sweep over qlearn's; "
          "ns/state: qlearn's time per sweep per state (flat when a sweep grows linearly in S); "
          "toolbox: its value iteration to a change below 1e-9, the ratio over qlearn.solve, "
          "and its largest distance to qlearn's V*")  # fmt: skip


if __name__ == "__main__":
    main()
