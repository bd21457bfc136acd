"""A finite MDP as a Gymnasium environment, and Gymnasium's toy_text worlds as MDPs."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.mdp import FiniteMDP, compact_successors, validate_mdp


class FiniteEnv(gym.Env):
    """Any qlearn finite world, steppable as a Gymnasium environment.

    ``env.mdp`` holds the arrays the exact solvers and the tabular learners use, so a
    learner and a solver always see the same world; ``env.P`` is the same table in
    Gymnasium's toy_text format. Steps are drawn by the compiled sampler the training
    loop uses, from a generator seeded by ``reset(seed=...)``, so the same seed gives the
    same transitions here and in training. ``info["action_mask"]`` marks the legal
    actions; an illegal action follows the world's table (it leaves you in place).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, mdp: FiniteMDP, render_mode: str | None = None):
        validate_mdp(mdp)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise QlearnError(f"render_mode must be 'ansi' or 'rgb_array', got {render_mode!r}")
        from qlearn.envs.kernels import world_arrays

        self.mdp = mdp
        self.world = world_arrays(mdp)
        self.observation_space = gym.spaces.Discrete(mdp.n_states)
        self.action_space = gym.spaces.Discrete(mdp.n_actions)
        self.render_mode = render_mode
        self.s = int(np.flatnonzero(mdp.start)[0])
        self._rng: np.ndarray | None = None

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """The transition table as toy_text's ``P[s][a] = [(prob, next, reward, done)]``
        (rewards are means: maxbias draws noise around them)."""
        return toy_text_table(self.mdp)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.mdp.legal[self.s].astype(np.int8)}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        from qlearn.core.rng import seed_state
        from qlearn.envs.kernels import sample_start

        super().reset(seed=seed)
        if seed is not None or self._rng is None:
            key = seed if seed is not None else int(self.np_random.integers(2**63))
            self._rng = seed_state(key)
        self.s = int(sample_start(self.world, self._rng))
        return self.s, self._info()

    def step(self, action: int):
        from qlearn.envs.kernels import sample_step

        if self._rng is None:
            raise QlearnError("call reset() before step()")
        nxt, reward = sample_step(self.world, self.s, int(action), self._rng)
        self.s = int(nxt)
        return self.s, float(reward), bool(self.mdp.terminal[self.s]), False, self._info()

    def render(self) -> str | np.ndarray | None:
        if self.render_mode == "ansi":
            from qlearn.textview import render_state

            return render_state(self.mdp, self.s)
        if self.render_mode == "rgb_array":
            from qlearn.envs.frames import render_frame

            return render_frame(self.mdp, self.s)
        return None


def toy_text_table(mdp: FiniteMDP) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """``mdp`` as Gymnasium toy_text's ``P[s][a] = [(prob, next, reward, terminated)]``."""
    table: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
    for s in range(mdp.n_states):
        table[s] = {}
        for a in range(mdp.n_actions):
            table[s][a] = [
                (prob, nxt, reward, bool(mdp.terminal[nxt]))
                for nxt, prob, reward, _ in mdp.outcomes(s, a)
            ]
    return table


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
    width = max(1, max((len(table[s][a]) for s in range(n_s) for a in range(n_a)), default=1))
    lands = np.broadcast_to(np.arange(total)[:, None, None], (total, n_a, width)).copy()
    probs = np.zeros((total, n_a, width))
    rewards = np.zeros((total, n_a, width))
    filled = np.zeros((total, n_a), dtype=np.int64)
    for s, a, p, nxt, r, done in entries:
        if terminal_here[s]:
            continue
        k = filled[s, a]
        lands[s, a, k] = copy_of.get(nxt, nxt) if done else nxt
        probs[s, a, k], rewards[s, a, k] = p, r
        filled[s, a] += 1
    terminal = np.concatenate([terminal_here, np.ones(len(split), dtype=bool)])
    probs[terminal, :, 0] = 1.0  # a terminal state is absorbing
    rewards[terminal] = 0.0
    lands[terminal] = np.flatnonzero(terminal)[:, None, None]
    next_states, next_probs, next_rewards, next_std = compact_successors(lands, probs, rewards, 0.0)
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
        next_states=next_states,
        next_probs=next_probs,
        next_rewards=next_rewards,
        next_reward_std=next_std,
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
