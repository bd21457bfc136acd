"""A finite MDP as a Gymnasium environment, and Gymnasium's toy_text worlds as MDPs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from qlearn.errors import QlearnError
from qlearn.mdp import FiniteMDP, validate_mdp


class FiniteEnv(gym.Env):
    """Any qlearn finite world, steppable as a Gymnasium environment.

    ``env.mdp`` holds the arrays the exact solvers and the tabular learners use, so a
    learner and a solver always see the same world. ``info["action_mask"]`` gives the
    legal actions of the current state.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(self, mdp: FiniteMDP, render_mode: str | None = None):
        validate_mdp(mdp)
        self.mdp = mdp
        self.observation_space = gym.spaces.Discrete(mdp.n_states)
        self.action_space = gym.spaces.Discrete(mdp.n_actions)
        self.render_mode = render_mode
        self.s = int(np.flatnonzero(mdp.start)[0])

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.mdp.legal[self.s].astype(np.int8)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(self.mdp.n_states, p=self.mdp.start))
        return self.s, self._info()

    def step(self, action: int):
        mdp, s, a = self.mdp, self.s, int(action)
        if not mdp.legal[s, a]:
            raise QlearnError(
                f"action {mdp.action_names[a]} is not legal in state {mdp.state_names[s]}"
            )
        nxt = int(self.np_random.choice(mdp.n_states, p=mdp.P[s, a]))
        reward = float(mdp.R[s, a, nxt])
        if mdp.R_std[s, a, nxt] > 0:
            reward += float(mdp.R_std[s, a, nxt] * self.np_random.standard_normal())
        self.s = nxt
        return nxt, reward, bool(mdp.terminal[nxt]), False, self._info()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        from qlearn.textview import render_state

        return render_state(self.mdp, self.s)


def mdp_from_toy_text(env: gym.Env, name: str, gamma: float) -> FiniteMDP:
    """Read a Gymnasium toy_text environment's ``P`` table into a FiniteMDP.

    Gymnasium marks ``done`` on transitions; qlearn marks terminal states. A state that
    is only ever entered with ``done`` (FrozenLake's holes and goal, CliffWalking's goal)
    becomes terminal itself. A state entered both ways (Taxi's passenger-at-destination
    states, reachable without ``done`` only from states no episode visits) keeps its
    index, and its ``done`` entries go to an extra terminal copy appended after
    Gymnasium's states, labelled ``"<index>:end"``.
    """
    raw = env.unwrapped
    table = getattr(raw, "P", None)
    if not isinstance(table, dict):
        raise QlearnError(f"{name} has no transition table env.P; it is not a finite world")
    n_s, n_a = raw.observation_space.n, raw.action_space.n
    entries = [
        (s, a, p, nxt, r, bool(done))
        for s in range(n_s)
        for a in range(n_a)
        for p, nxt, r, done in table[s][a]
        if p > 0
    ]
    ends = np.zeros(n_s, dtype=bool)
    goes_on = np.zeros(n_s, dtype=bool)
    for s, _, _, nxt, _, done in entries:
        if nxt != s or not done:
            (ends if done else goes_on)[nxt] = True
    terminal_here = ends & ~goes_on
    split = np.flatnonzero(ends & goes_on)
    copy_of = {int(t): n_s + i for i, t in enumerate(split)}
    total = n_s + len(split)
    P = np.zeros((total, n_a, total))
    R = np.zeros((total, n_a, total))
    for s, a, p, nxt, r, done in entries:
        if terminal_here[s]:
            continue
        target = copy_of.get(nxt, nxt) if done else nxt
        P[s, a, target] += p
        R[s, a, target] = r
    terminal = np.concatenate([terminal_here, np.ones(len(split), dtype=bool)])
    for t in np.flatnonzero(terminal):
        P[t, :, t] = 1.0
    start = np.zeros(total)
    isd = np.asarray(getattr(raw, "initial_state_distrib", None), dtype=float)
    if isd.shape == (n_s,):
        start[:n_s] = isd
    else:
        start[int(raw.reset(seed=0)[0])] = 1.0
    names, layout = _toy_text_labels(raw, n_s)
    names = names + tuple(f"{t}:end" for t in split)
    action_names = _TOY_TEXT_ACTIONS.get(type(raw).__name__, tuple(str(a) for a in range(n_a)))
    spec = getattr(env, "spec", None)
    max_steps = int(spec.max_episode_steps) if spec and spec.max_episode_steps else 1000
    mdp = FiniteMDP(
        P=P,
        R=R,
        R_std=np.zeros_like(R),
        terminal=terminal,
        start=start,
        legal=np.ones((total, n_a), dtype=bool),
        gamma=gamma,
        name=name,
        state_names=names,
        action_names=action_names,
        layout=layout if not len(split) else None,
        max_steps=max_steps,
    )
    validate_mdp(mdp)
    return mdp


_TOY_TEXT_ACTIONS = {
    "FrozenLakeEnv": ("W", "S", "E", "N"),
    "CliffWalkingEnv": ("N", "E", "S", "W"),
    "TaxiEnv": ("south", "north", "east", "west", "pickup", "dropoff"),
}


def _toy_text_labels(raw: gym.Env, n_s: int):
    """State labels: ``(col,row)`` for FrozenLake's grid, the index otherwise."""
    from qlearn.mdp import GridLayout

    desc = getattr(raw, "desc", None)
    if desc is not None and type(raw).__name__ == "FrozenLakeEnv":
        rows = tuple(b"".join(r).decode() for r in desc)
        height, width = len(rows), len(rows[0])
        positions = tuple((s % width + 1, height - s // width) for s in range(n_s))
        kinds = {"S": "start", "F": "empty", "H": "terminal", "G": "terminal"}
        return tuple(f"({c},{r})" for c, r in positions), GridLayout(rows, positions, kinds)
    return tuple(str(s) for s in range(n_s)), None
