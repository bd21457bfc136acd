"""Off-policy learning from logged data: collect transitions, then learn from them alone.

Log files, behaviour policies read from saved runs and the run folder of learning from a
log live in :mod:`qlearn.runs.logs`.

A log is a table with one row per transition: ``episode, step, state, action, reward,
next_state, done``; states and actions are written by name (``"(1,1)"``, ``"E"``) so a
person can read it. It is stored as CSV or Parquet (by file extension).

Q-learning can learn the optimal table from any log that covers the world, because its
target takes the max over the next state's actions, whatever the logging policy did.
SARSA learns the logging policy's own values (its next action is the logged one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from qlearn.core.errors import QlearnError
from qlearn.core.rng import seed_state, uniform
from qlearn.core.schedules import LearningRate
from qlearn.envs.kernels import sample_start, sample_step, world_arrays
from qlearn.exact import Solution, solve
from qlearn.judge import gap, optimal_share
from qlearn.mdp import FiniteMDP
from qlearn.tabular.rules import (
    ALGO_CODES,
    DOUBLE_Q,
    Q_LEARNING,
    double_q_target,
    q_learning_target,
    sarsa_target,
    td_update,
)

LOG_COLUMNS = ("episode", "step", "state", "action", "reward", "next_state", "done")
OFFLINE_ALGOS = ("q-learning", "double-q", "sarsa")


# --- collecting -----------------------------------------------------------------


@njit(cache=True)
def _roll_out(world, policy, episodes, max_steps, seed):
    """Play ``episodes`` episodes of a fixed policy; returns the transitions as arrays."""
    rng = seed_state(seed)
    cap = episodes * max_steps
    n_cap = min(cap, 10_000_000)
    out_ep = np.empty(n_cap, dtype=np.int64)
    out_step = np.empty(n_cap, dtype=np.int64)
    out_s = np.empty(n_cap, dtype=np.int64)
    out_a = np.empty(n_cap, dtype=np.int64)
    out_r = np.empty(n_cap)
    out_s2 = np.empty(n_cap, dtype=np.int64)
    out_done = np.empty(n_cap, dtype=np.bool_)
    n = 0
    for ep in range(episodes):
        s = sample_start(world, rng)
        for t in range(max_steps):
            if n >= n_cap:
                return (
                    out_ep[:n],
                    out_step[:n],
                    out_s[:n],
                    out_a[:n],
                    out_r[:n],
                    out_s2[:n],
                    out_done[:n],
                )
            u = uniform(rng)
            a = 0
            acc = 0.0
            for b in range(policy.shape[1]):
                if policy[s, b] > 0.0:
                    a = b
                    acc += policy[s, b]
                    if u < acc:
                        break
            s2, r = sample_step(world, s, a, rng)
            done = world.terminal[s2]
            out_ep[n], out_step[n], out_s[n], out_a[n] = ep + 1, t + 1, s, a
            out_r[n], out_s2[n], out_done[n] = r, s2, done
            n += 1
            if done:
                break
            s = s2
    return out_ep[:n], out_step[:n], out_s[:n], out_a[:n], out_r[:n], out_s2[:n], out_done[:n]


def collect(
    mdp: FiniteMDP, policy: np.ndarray, episodes: int, seed: int = 0, max_steps: int | None = None
) -> pd.DataFrame:
    """Play a fixed policy for ``episodes`` episodes and return its log (one row per step)."""
    if max_steps is not None and max_steps < 1:
        raise QlearnError(f"--max-steps must be at least 1, got {max_steps}")
    if seed < 0:
        raise QlearnError(f"--seed must be at least 0, got {seed}")
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise QlearnError(f"episodes must be a positive integer, got {episodes!r}")
    ep, step, s, a, r, s2, done = _roll_out(
        world_arrays(mdp), policy, episodes, int(max_steps or mdp.max_steps), int(seed)
    )
    names, actions = np.asarray(mdp.state_names), np.asarray(mdp.action_names)
    return pd.DataFrame({
        "episode": ep, "step": step, "state": names[s], "action": actions[a],
        "reward": r, "next_state": names[s2], "done": done,
    })  # fmt: skip


# --- reading and checking a log ---------------------------------------------------


@dataclass(frozen=True)
class Transitions:
    """A checked log as index arrays over one world."""

    state: np.ndarray  # (T,) int64
    action: np.ndarray  # (T,) int64
    reward: np.ndarray  # (T,)
    next_state: np.ndarray  # (T,) int64
    done: np.ndarray  # (T,) bool
    next_action: np.ndarray  # (T,) the logged next action in the same episode, -1 if none

    def __len__(self) -> int:
        return self.state.size


def check_log(log: pd.DataFrame, mdp: FiniteMDP, source: str = "the log") -> Transitions:
    """Map a log onto ``mdp``'s indices, refusing any row the world could not produce.

    Rows are numbered from 1 (the first transition); in a CSV file row k is line k + 1.
    """
    needed = ("state", "action", "reward", "next_state", "done")
    missing = [c for c in needed if c not in log.columns]
    if missing:
        raise QlearnError(
            f"{source} lacks column(s) {', '.join(missing)}; a log has columns "
            f"{', '.join(LOG_COLUMNS)} (episode and step optional)"
        )
    if len(log) == 0:
        raise QlearnError(f"{source} has no transitions")
    states = {name: i for i, name in enumerate(mdp.state_names)}
    actions = {name: i for i, name in enumerate(mdp.action_names)}
    n = len(log)
    s = np.empty(n, dtype=np.int64)
    a = np.empty(n, dtype=np.int64)
    s2 = np.empty(n, dtype=np.int64)
    r = np.empty(n)
    done = np.empty(n, dtype=bool)
    columns = [log[c].tolist() for c in needed]
    for row, (st, ac, rw, nx, dn) in enumerate(zip(*columns, strict=True), start=1):
        where = f"{source}, row {row}"
        s[row - 1] = _lookup(states, st, where, "state", mdp)
        s2[row - 1] = _lookup(states, nx, where, "next_state", mdp)
        a[row - 1] = _lookup(actions, ac, where, "action", mdp)
        try:
            r[row - 1] = float(rw)
        except (TypeError, ValueError):
            raise QlearnError(f"{where}: reward {rw!r} is not a number") from None
        done[row - 1] = _flag(dn, where)
        i, j, k = s[row - 1], a[row - 1], s2[row - 1]
        if mdp.terminal[i]:
            raise QlearnError(f"{where}: {st} is terminal; no transition starts there")
        if not mdp.legal[i, j]:
            raise QlearnError(f"{where}: action {ac} is not allowed in {st}")
        if k not in mdp.next_states[i, j][mdp.next_probs[i, j] > 0]:
            raise QlearnError(f"{where}: {st} {ac} cannot land on {nx} in {mdp.name}")
        if done[row - 1] != bool(mdp.terminal[k]):
            state = "is" if mdp.terminal[k] else "is not"
            raise QlearnError(f"{where}: done={dn} but {nx} {state} terminal in {mdp.name}")
    next_action = np.full(n, -1, dtype=np.int64)
    follows = (s[1:] == s2[:-1]) & ~done[:-1]
    if "episode" in log.columns:
        follows &= (
            np.asarray(log["episode"].astype(str))[1:]
            == np.asarray(log["episode"].astype(str))[:-1]
        )
    next_action[:-1][follows] = a[1:][follows]
    return Transitions(s, a, r, s2, done, next_action)


def _lookup(table: dict[str, int], value: Any, where: str, column: str, mdp: FiniteMDP) -> int:
    key = str(value).replace(" ", "")
    if key not in table:
        known = ", ".join(list(table)[:8]) + (", ..." if len(table) > 8 else "")
        raise QlearnError(f"{where}: unknown {column} {value!r} in {mdp.name} (known: {known})")
    return table[key]


def _flag(value: Any, where: str) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise QlearnError(f"{where}: done {value!r} must be true or false")


# --- learning from a log ----------------------------------------------------------


@njit(cache=True)
def _learn_pass(algo, s, a, r, s2, done, a_next, legal, gamma, alpha, omega, q, q2, visits, rng):
    """Sweep the logged transitions once, in order, updating the tables in place."""
    for t in range(s.shape[0]):
        i, j, k = s[t], a[t], s2[t]
        lr = alpha
        if omega > 0.0:
            visits[i, j] += 1.0
            lr = 1.0 / visits[i, j] ** omega
        if algo == Q_LEARNING:
            q[i, j] = td_update(
                q[i, j], q_learning_target(r[t], gamma, done[t], q[k], legal[k]), lr
            )
        elif algo == DOUBLE_Q:
            if uniform(rng) < 0.5:
                target = double_q_target(r[t], gamma, done[t], q[k], q2[k], legal[k], rng)
                q[i, j] = td_update(q[i, j], target, lr)
            else:
                target = double_q_target(r[t], gamma, done[t], q2[k], q[k], legal[k], rng)
                q2[i, j] = td_update(q2[i, j], target, lr)
        else:
            if a_next[t] < 0 and not done[t]:
                continue  # the log does not say what came next: no SARSA target
            q[i, j] = td_update(q[i, j], sarsa_target(r[t], gamma, done[t], q[k], a_next[t]), lr)


@dataclass(frozen=True)
class OfflineRun:
    """Tables learned from a log alone, next to the exact answer."""

    mdp: FiniteMDP
    solution: Solution
    algo: str
    passes: int
    transitions: int
    q: np.ndarray  # (S, A)
    gaps: np.ndarray  # (passes,) max |Q - Q*| after each pass
    train_seconds: float

    @property
    def optimal_share(self) -> float:
        """Share of decision states whose greedy actions (ties included) are all optimal."""
        return optimal_share(self.mdp, self.solution, self.q)


def learn_from_log(
    mdp: FiniteMDP,
    log: Transitions,
    *,
    algo: str = "q-learning",
    alpha: str | float = 0.5,
    passes: int = 10,
    q_init: float = 0.0,
    seed: int = 0,
) -> OfflineRun:
    """Learn a table from logged transitions only (no interaction with the world)."""
    if algo not in OFFLINE_ALGOS:
        raise QlearnError(
            f"--from-log learns with {', '.join(OFFLINE_ALGOS)}, not {algo!r} "
            "(expected-sarsa and td0 need the logging policy itself)"
        )
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise QlearnError(f"passes must be a positive integer, got {passes!r}; e.g. --passes 10")
    lr = LearningRate.parse(alpha)
    solution = solve(mdp)
    q = np.full((mdp.n_states, mdp.n_actions), float(q_init))
    q2 = q.copy()
    code = ALGO_CODES[algo]
    omega = -1.0 if lr.omega is None else float(lr.omega)
    visits, rng = np.zeros_like(q), seed_state(seed)
    gaps = np.empty(passes)

    def table() -> np.ndarray:  # double Q-learning is judged on the mean of its tables
        return 0.5 * (q + q2) if algo == "double-q" else q

    started = time.perf_counter()
    for p in range(passes):
        _learn_pass(
            code, log.state, log.action, log.reward, log.next_state, log.done, log.next_action,
            mdp.legal, float(solution.gamma), float(lr.alpha), omega, q, q2, visits, rng,
        )  # fmt: skip
        gaps[p] = gap(mdp, solution, table())
    seconds = time.perf_counter() - started
    return OfflineRun(mdp, solution, algo, passes, len(log), table(), gaps, seconds)
