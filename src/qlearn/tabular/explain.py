"""Narrated updates: each step of a tabular learner written out as a person would by hand.

The arithmetic comes from the same compiled update rules the trainer uses
(:mod:`qlearn.tabular.rules`, called from Python), so a narration can never disagree
with training. Two sources of transitions:

- a script of moves (``"(3,3)E x4, (3,2)N"``), played from a zero table, and
- real epsilon-greedy episodes: the compiled loop runs them and keeps a trace of its
  transitions, which are then replayed through the rules; the replayed table must
  equal the trained one, so ``explain --episodes K --seed S`` narrates exactly what
  ``train --episodes K --seed S`` learns.
"""

from __future__ import annotations

import re

import numpy as np

from qlearn.configs.tabular_config import TRACE_ALGOS, TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP
from qlearn.tabular.loop import TRACE_FIELDS
from qlearn.tabular.narration import (
    Narration,
    Update,
    _check_alpha_algo,
    _num,
    _operand,
    narrate_update,
)

#: The tutorial's hand-run on ``classic``, in the order that gives its numbers: the
#: North update needs max Q((3,3), .) = 0.5, which holds after the first East visit.
TUTORIAL_STEPS = "(3,3)E, (3,2)N, (3,3)E x3"
#: The order the tutorial tells it in (all four East visits, then North).
TUTORIAL_TOLD_ORDER = "(3,3)E x4, (3,2)N"


# --- scripted moves --------------------------------------------------------------

_STEP = re.compile(
    r"^(?P<state>\(\s*\d+\s*,\s*\d+\s*\)|[^\s(]+)\s*(?P<action>[^\s×]+?)"
    r"(?:\s*[x×]\s*(?P<times>\d+))?$"
)


def parse_steps(text: str, mdp: FiniteMDP) -> list[tuple[int, int]]:
    """``"(3,3)E x4, (3,2)N"`` as a list of (state, action) index pairs.

    Each item is a state label, an action name (or one of its ``|``-separated aliases)
    and an optional repeat count ``xN``.
    """
    moves: list[tuple[int, int]] = []
    for item in _split_items(text):
        match = _STEP.match(item)
        if match is None:
            raise QlearnError(
                f"cannot read step {item!r}; write CELL ACTION [xN], e.g. '(3,3)E x4, (3,2)N'"
            )
        s = mdp.state_index(match["state"])
        a = _action_index(mdp, match["action"])
        if mdp.terminal[s]:
            raise QlearnError(f"{mdp.state_names[s]} is terminal: no action is taken there")
        if not mdp.legal[s, a]:
            raise QlearnError(
                f"action {mdp.action_names[a]} is not allowed in {mdp.state_names[s]}"
            )
        times = int(match["times"] or 1)
        if times < 1:
            raise QlearnError(f"repeat count in {item!r} must be at least 1")
        moves.extend([(s, a)] * times)
    if not moves:
        raise QlearnError("--steps is empty; write e.g. '(3,3)E x4, (3,2)N'")
    return moves


def _split_items(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    items, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += ch
    items.append(current.strip())
    return [i for i in items if i]


def _action_index(mdp: FiniteMDP, name: str) -> int:
    for a, label in enumerate(mdp.action_names):
        if name == label or name in label.split("|"):
            return a
    raise QlearnError(f"unknown action {name!r}; actions are {', '.join(mdp.action_names)}")


def explain_steps(
    mdp: FiniteMDP,
    steps: str | list[tuple[int, int]],
    *,
    algo: str = "q-learning",
    alpha: float = 0.5,
    gamma: float | None = None,
    epsilon: float = 0.1,
    seed: int = 0,
) -> Narration:
    """Play scripted moves from a zero table and narrate every update.

    Where a move has several outcomes (slippery ice) or a noisy reward, they are drawn
    with ``seed``. SARSA's next action is the next scripted move when that move starts
    where this one landed, and otherwise the greedy action there (the first of ties).
    """
    _check_alpha_algo(alpha, algo)
    gamma = mdp.gamma if gamma is None else float(gamma)
    moves = parse_steps(steps, mdp) if isinstance(steps, str) else list(steps)
    rng = np.random.default_rng(seed)
    q = np.zeros((mdp.n_states, mdp.n_actions))
    updates = []
    for i, (s, a) in enumerate(moves):
        used = np.flatnonzero(mdp.next_probs[s, a] > 0)
        k = used[rng.choice(used.size, p=mdp.next_probs[s, a, used])]
        s2 = int(mdp.next_states[s, a, k])
        r = float(mdp.next_rewards[s, a, k] + mdp.next_reward_std[s, a, k] * rng.standard_normal())
        a2 = -1
        if algo == "sarsa" and not mdp.terminal[s2]:
            following = moves[i + 1] if i + 1 < len(moves) else None
            a2 = following[1] if following and following[0] == s2 else _first_greedy(q, mdp, s2)
        update = narrate_update(
            mdp,
            q,
            s,
            a,
            r,
            s2,
            algo=algo,
            alpha=alpha,
            gamma=gamma,
            next_action=a2,
            epsilon=epsilon,
            step=i + 1,
        )
        q[s, a] = update.new_value
        updates.append(update)
    return Narration(mdp.name, algo, float(alpha), gamma, "steps", tuple(updates), q, mdp)


def _first_greedy(q: np.ndarray, mdp: FiniteMDP, s: int) -> int:
    return int(np.argmax(np.where(mdp.legal[s], q[s], -np.inf)))


def tutorial_narration(mdp: FiniteMDP, alpha: float = 0.5, algo: str = "q-learning") -> Narration:
    """The tutorial's hand-run on ``classic``, with a note on the order it is told in.

    Played in the tutorial's own order, North would land on max Q((3,3), .) = 0.9375
    after four East visits, not the 0.5 its arithmetic uses; the note computes both.
    """
    played = explain_steps(mdp, TUTORIAL_STEPS, alpha=alpha, algo=algo)
    told = explain_steps(mdp, TUTORIAL_TOLD_ORDER, alpha=alpha, algo=algo)
    north_played = played.updates[1]
    north_told = told.updates[-1]
    note = (
        f"Order: the tutorial tells the four East visits first and North last. Played "
        f"in that order, North lands on a best value of {_num(north_told.next_value)} "
        f"and gives {north_told.state} {north_told.action} = {_num(north_told.new_value)}; "
        f"its {_num(north_played.new_value)} uses the landing value "
        f"{_num(north_played.next_value)}, which holds right after the first East visit, "
        "so North is played second here."
    )
    return Narration(
        played.world,
        algo,
        played.alpha,
        played.gamma,
        "steps",
        played.updates,
        played.q,
        mdp,
        note,
    )


# --- real episodes ---------------------------------------------------------------


def explain_episodes(
    mdp: FiniteMDP,
    episodes: int = 1,
    *,
    algo: str = "q-learning",
    alpha: float = 0.5,
    gamma: float | None = None,
    epsilon: str | float = "0.1",
    seed: int = 0,
    max_steps: int | None = None,
) -> Narration:
    """Run ``episodes`` real epsilon-greedy episodes and narrate each update.

    The compiled loop plays them (so they are the episodes ``train`` with the same
    seed and options would play); each traced transition is then replayed through the
    update rules, and the replayed table is checked against the trained one.
    """
    from qlearn.tabular.train import fresh_runs, prepare, run_config

    _check_alpha_algo(alpha, algo)
    cfg = TabularConfig(
        world=mdp.name,
        algo=algo,
        episodes=episodes,
        alpha=str(alpha),
        gamma=gamma,
        epsilon=str(epsilon),
        seed=seed,
        seeds=1,
        max_steps=max_steps,
    )
    cap = cfg.max_steps or mdp.max_steps
    runs = fresh_runs(prepare(cfg, mdp))
    runs = runs._replace(trace=np.full((1, episodes * cap, len(TRACE_FIELDS)), np.nan))
    run = run_config(cfg, mdp, runs=runs)
    trace = run.arrays.trace[0, : int(run.arrays.steps[0])]
    col = {name: i for i, name in enumerate(TRACE_FIELDS)}
    q = np.zeros((mdp.n_states, mdp.n_actions))
    updates = []
    for i, row in enumerate(trace):
        s, a, s2 = int(row[col["state"]]), int(row[col["action"]]), int(row[col["next_state"]])
        update = narrate_update(
            mdp,
            q,
            s,
            a,
            float(row[col["reward"]]),
            s2,
            algo=algo,
            alpha=float(row[col["alpha"]]),
            gamma=run.gamma,
            next_action=int(row[col["next_action"]]),
            epsilon=float(row[col["explore"]]),
            step=i + 1,
            episode=int(row[col["episode"]]) + 1,
        )
        q[s, a] = update.new_value
        updates.append(update)
    if not np.array_equal(q, run.q_per_seed[0]):
        raise RuntimeError("narrated table differs from the trained one; please report this bug")
    return Narration(
        mdp.name,
        algo,
        float(alpha),
        run.gamma,
        "episodes",
        tuple(updates),
        q,
        mdp,
        episode_returns=tuple(float(x) for x in run.arrays.returns[0]),
    )


# --- text ------------------------------------------------------------------------


def update_lines(u: Update) -> list[str]:
    """One update as a few lines of hand arithmetic."""
    q_sa = f"Q({u.state},{u.action})"
    where = f"episode {u.episode}, " if u.episode is not None else ""
    head = f"update {u.step} ({where}{u.algo}): {q_sa}"
    lands = f"  reward {_num(u.reward)}, lands on {u.next_state}"
    if u.done:
        lines = [
            head,
            lands + " (terminal: no future value)",
            f"  target     = r = {_num(u.target)}",
        ]
    else:
        bootstrap = _bootstrap_words(u)
        lines = [
            head,
            lands + f"; {bootstrap}",
            f"  target     = r + gamma * {_bootstrap_symbol(u)} = {_num(u.reward)} + "
            f"{_num(u.gamma)} * {_operand(u.next_value)} = {_num(u.target)}",
        ]
    lines += [
        f"  prediction = {q_sa} = {_num(u.prediction)}",
        f"  TD error   = {_num(u.target)} - {_operand(u.prediction)} = {_num(u.td_error)}",
    ]
    if u.trace is not None:  # every traced entry moves, not only Q(s, a)
        return lines + u.trace.lines()
    lines.append(
        f"  new value  = {_num(u.prediction)} + {_num(u.alpha)} * {_operand(u.td_error)} = "
        f"{_num(u.new_value)}"
    )
    return lines


def _bootstrap_symbol(u: Update) -> str:
    if u.algo in ("q-learning", "q-lambda"):
        return f"max Q({u.next_state},.)"
    if u.algo in ("sarsa", "sarsa-lambda"):
        return f"Q({u.next_state},{u.bootstrap_actions[0]})"
    return f"E_pi Q({u.next_state},.)"


def _bootstrap_words(u: Update) -> str:
    if u.algo in ("q-learning", "q-lambda"):
        acts = ", ".join(u.bootstrap_actions)
        tie = " (tied)" if len(u.bootstrap_actions) > 1 else ""
        return f"best there: {acts}{tie} with {_num(u.next_value)}"
    if u.algo in ("sarsa", "sarsa-lambda"):
        return f"next action taken there: {u.bootstrap_actions[0]}, worth {_num(u.next_value)}"
    return (
        f"expected value there under epsilon-greedy (epsilon {_num(u.epsilon)}): "
        f"{_num(u.next_value)}"
    )


def narration_lines(n: Narration, full: bool = False) -> list[str]:
    """The whole narration as text. Unless ``full``, runs of three or more updates that
    change nothing (target = prediction) are folded into one line."""
    lines = [
        f"{n.algo} on {n.world}: alpha {_num(n.alpha)}, gamma {_num(n.gamma)}, "
        f"{len(n.updates)} update(s) from a table of zeros",
        "",
    ]
    pending: list[Update] = []

    def flush() -> None:
        if len(pending) >= 3 and not full:
            first, last = pending[0], pending[-1]
            path = " ".join(f"{u.state}{u.action}" for u in pending[:8])
            more = " ..." if len(pending) > 8 else ""
            lines.append(
                f"updates {first.step}-{last.step}: {len(pending)} updates with TD error 0 "
                f"(nothing to pass on yet): {path}{more}"
            )
            lines.append("")
        else:
            for u in pending:
                lines.extend(update_lines(u) + [""])
        pending.clear()

    for u in n.updates:
        if u.td_error == 0.0:
            pending.append(u)
            continue
        flush()
        lines.extend(update_lines(u) + [""])
    flush()
    if n.episode_returns:
        returns = ", ".join(_num(r) for r in n.episode_returns)
        lines.append(f"episode returns: {returns}")
    if n.note:
        lines.append(n.note)
    return lines


def explain(
    mdp: FiniteMDP,
    *,
    steps: str | None = None,
    episodes: int | None = None,
    algo: str = "q-learning",
    alpha: float = 0.5,
    gamma: float | None = None,
    epsilon: str | float = "0.1",
    seed: int = 0,
    max_steps: int | None = None,
    lam: float | None = None,
    traces: str | None = None,
) -> Narration:
    """Narrate scripted ``steps``, or ``episodes`` real episodes.

    With neither: the tutorial's hand-run on ``classic``, one real episode elsewhere (and
    always real episodes for the learners with traces, each update with its traces).
    """
    if steps is not None and episodes is not None:
        raise QlearnError("give either --steps or --episodes, not both")
    if algo in TRACE_ALGOS or lam is not None or traces is not None:
        from qlearn.tabular.explain_traces import explain_traced

        return explain_traced(mdp, steps=steps, episodes=episodes, algo=algo, alpha=alpha,
                              gamma=gamma, epsilon=epsilon, seed=seed, max_steps=max_steps,
                              lam=lam, traces=traces)  # fmt: skip
    if steps is not None:
        eps = _constant_epsilon(epsilon)
        return explain_steps(
            mdp, steps, algo=algo, alpha=alpha, gamma=gamma, epsilon=eps, seed=seed
        )
    if episodes is None and mdp.name == "classic" and gamma in (None, mdp.gamma):
        return tutorial_narration(mdp, alpha=alpha, algo=algo)
    episodes = 1 if episodes is None else episodes
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise QlearnError(f"episodes must be at least 1, got {episodes}; pass e.g. --episodes 2")
    return explain_episodes(
        mdp,
        episodes,
        algo=algo,
        alpha=alpha,
        gamma=gamma,
        epsilon=epsilon,
        seed=seed,
        max_steps=max_steps,
    )


def _constant_epsilon(epsilon: str | float) -> float:
    from qlearn.core.schedules import Schedule

    schedule = Schedule.parse(epsilon)
    schedule.check_range(0.0, 1.0, "epsilon")
    if schedule.kind != "constant":
        raise QlearnError("with --steps, epsilon is one number (expected SARSA's policy)")
    return schedule.start


def changed_entries(n: Narration) -> list[str]:
    """``Q((3,3),E) = 0.9375`` for every entry the narration moved away from zero."""
    return [
        f"Q({n.mdp.state_names[s]},{n.mdp.action_names[a]}) = {_num(n.q[s, a])}"
        for s, a in zip(*np.nonzero(n.q), strict=True)
    ]
