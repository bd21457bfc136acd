"""Narrated updates of the learners with eligibility traces: Q(lambda) and SARSA(lambda).

The compiled loop plays real episodes (the ones ``train`` plays with the same seed and
options) and keeps its transitions; they are replayed here through the same rules
(:mod:`qlearn.tabular.rules`), trace by trace, and the replayed table must equal the
trained one. Each update shows the TD error of the visited entry, how its trace rose,
Watkins's cut where Q(lambda) explored, and every traced entry it moved, with the
arithmetic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from qlearn.configs.tabular_config import TRACE_ALGOS, TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP
from qlearn.tabular.loop import TRACE_FIELDS
from qlearn.tabular.narration import (
    Narration,
    _check_alpha_algo,
    _num,
    _operand,
    narrate_update,
)
from qlearn.tabular.rules import exploratory, trace_bump, trace_decay, traced_update

#: The one-step learner whose target each learner with traces uses.
ONE_STEP = {"q-lambda": "q-learning", "sarsa-lambda": "sarsa"}


@dataclass(frozen=True)
class TracedEntry:
    """One table entry moved by an update through its trace."""

    state: str
    action: str
    trace: float  # its trace when the update was made
    before: float
    after: float  # before + alpha * TD error * trace


@dataclass(frozen=True)
class TraceStep:
    """The trace side of one update: how the visited entry's trace rose, what was cut,
    and every entry that moved."""

    lam: float
    kind: str  # accumulating or replacing
    decay: float  # gamma * lambda: the traces' factor after the update
    alpha: float
    td_error: float
    exploratory: bool  # Q(lambda): the action was not greedy, so older traces were cut
    cut: int  # how many older traces the cut set to 0
    state: str  # the visited entry
    action: str
    trace_before: float  # the visited entry's trace before this visit (after any cut)
    trace_after: float
    entries: tuple[TracedEntry, ...]  # in the order they were first visited

    def lines(self) -> list[str]:
        """The update's trace arithmetic, a few lines of hand arithmetic."""
        e = f"e({self.state},{self.action})"
        lines = []
        if self.exploratory:
            lines.append(
                f"  cut        {self.action} is exploratory (not greedy in {self.state}): "
                f"Watkins sets the {self.cut} older trace(s) to 0"
            )
        if self.kind == "replacing":
            rise = f"{e} = 1 (replacing)"
        else:
            rise = f"{e} = {_num(self.trace_before)} + 1 = {_num(self.trace_after)} (accumulating)"
        lines.append(f"  trace      {rise}")
        step = f"{_num(self.alpha)} * {_operand(self.td_error)}"
        lines.append(
            f"  each traced entry moves by alpha * TD error * e = {step} * e "
            f"({len(self.entries)} entr{'y' if len(self.entries) == 1 else 'ies'}):"
        )
        for x in self.entries:
            q = f"Q({x.state},{x.action})"
            lines.append(
                f"    {q} = {_num(x.before)} + {step} * {_operand(x.trace)} = {_num(x.after)}"
            )
        lines.append(f"  then every trace decays: e = gamma * lambda * e = {_num(self.decay)} * e")
        return lines


def explain_traced(
    mdp: FiniteMDP,
    *,
    steps: str | None = None,
    episodes: int | None = None,
    algo: str = "q-lambda",
    alpha: float = 0.5,
    gamma: float | None = None,
    epsilon: str | float = "0.1",
    seed: int = 0,
    max_steps: int | None = None,
    lam: float | None = None,
    traces: str | None = None,
) -> Narration:
    """Run ``episodes`` (default 1) real episodes of a learner with traces and narrate
    each update with its traces."""
    from qlearn.tabular.train import fresh_runs, prepare, run_config

    episodes = 1 if episodes is None else episodes
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise QlearnError(f"episodes must be at least 1, got {episodes}; pass e.g. --episodes 2")
    cfg = TabularConfig(world=mdp.name, algo=algo, episodes=episodes, alpha=str(alpha),
                        gamma=gamma, epsilon=str(epsilon), seed=seed, seeds=1,
                        max_steps=max_steps, lam=lam, traces=traces)  # fmt: skip
    _check_alpha_algo(alpha, algo, TRACE_ALGOS)
    if steps is not None:
        raise QlearnError(
            f"--steps scripts one-step learners; {algo} is narrated over real episodes "
            "(--episodes K)"
        )
    cap = cfg.max_steps or mdp.max_steps
    runs = fresh_runs(prepare(cfg, mdp))
    runs = runs._replace(trace=np.full((1, episodes * cap, len(TRACE_FIELDS)), np.nan))
    run = run_config(cfg, mdp, runs=runs)
    rows = run.arrays.trace[0, : int(run.arrays.steps[0])]
    q, updates, cuts = replay(mdp, cfg, rows, run.gamma)
    if not np.array_equal(q, run.q_per_seed[0]):
        raise RuntimeError("narrated table differs from the trained one; please report this bug")
    lam_, kind = cfg.trace_lambda, "replacing" if cfg.replacing_traces else "accumulating"
    note = (
        f"{algo}: lambda {_num(lam_)}, {kind} traces, gamma * lambda = "
        f"{_num(run.gamma * lam_)}; traces start at 0 every episode."
    )
    if algo == "q-lambda":
        note += f" Watkins cut the traces after {cuts} exploratory action(s)."
    return Narration(mdp.name, algo, float(alpha), run.gamma, "episodes", tuple(updates), q,
                     mdp, note, tuple(float(x) for x in run.arrays.returns[0]))  # fmt: skip


def replay(
    mdp: FiniteMDP, cfg: TabularConfig, rows: np.ndarray, gamma: float
) -> tuple[np.ndarray, list, int]:
    """Replay the loop's transitions (rows of :data:`TRACE_FIELDS`) from a zero table with
    traces, as the loop does; returns the table, the narrated updates and the number of
    Watkins cuts."""
    col = {name: i for i, name in enumerate(TRACE_FIELDS)}
    A = mdp.n_actions
    lam, replacing = cfg.trace_lambda, cfg.replacing_traces
    decay = gamma * lam
    kind = "replacing" if replacing else "accumulating"
    q = np.zeros((mdp.n_states, A))
    elig = np.zeros((mdp.n_states, A))
    order: list[int] = []  # entries (s * A + a) whose trace is not 0, first visited first
    updates, cuts, episode = [], 0, -1
    names, cells = mdp.action_names, mdp.state_names
    for i, row in enumerate(rows):
        s, a, s2 = int(row[col["state"]]), int(row[col["action"]]), int(row[col["next_state"]])
        lr = float(row[col["alpha"]])
        if int(row[col["episode"]]) != episode:  # traces start at 0 every episode
            episode = int(row[col["episode"]])
            elig[:] = 0.0
            order = []
        explored = cfg.algo == "q-lambda" and bool(exploratory(q[s], mdp.legal[s], a))
        cut = len(order) if explored else 0
        if explored:
            cuts += 1
            elig[:] = 0.0
            order = []
        base = narrate_update(mdp, q, s, a, float(row[col["reward"]]), s2,
                              algo=ONE_STEP[cfg.algo], alpha=lr, gamma=gamma,
                              next_action=int(row[col["next_action"]]), step=i + 1,
                              episode=episode + 1)  # fmt: skip
        before = float(elig[s, a])
        if before == 0.0:
            order.append(s * A + a)
        elig[s, a] = trace_bump(elig[s, a], replacing)
        after = float(elig[s, a])
        entries, kept = [], []
        for flat in order:
            x, b = divmod(flat, A)
            old = float(q[x, b])
            q[x, b] = traced_update(q[x, b], base.td_error, elig[x, b], lr)
            entries.append(TracedEntry(cells[x], names[b], float(elig[x, b]), old, float(q[x, b])))
            elig[x, b] = trace_decay(elig[x, b], decay)
            if elig[x, b] != 0.0:
                kept.append(flat)
        order = kept
        step = TraceStep(lam, kind, decay, lr, base.td_error, explored, cut, cells[s], names[a],
                         before, after, tuple(entries))  # fmt: skip
        updates.append(
            dataclasses.replace(base, algo=cfg.algo, new_value=float(q[s, a]), trace=step)
        )
    return q, updates, cuts
