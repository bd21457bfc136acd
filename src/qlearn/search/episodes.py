"""Play a planner from every start state and judge it against the exact optimum.

Every non-terminal state (or the ones asked for) starts ``episodes`` episodes for each
of ``seeds`` seeds; an episode ends on entering a terminal state or after ``horizon``
decisions. What counts:

- the return G(s): discounted with the world's gamma, as V* is;
- the normalised regret (V*(s) - G(s)) / (V*(s) - V_min(s)), where V_min(s) is the worst
  expected return any policy can get from s within the same horizon (finite-horizon
  dynamic programming with min instead of max), so 0 is optimal and 1 is as bad as
  possible; 0 where V* = V_min (nothing to choose);
- success: the episode ended in the world's best-paying terminal (the diamond, the goal),
  where a terminal's pay is the reward of entering it;
- simulations per decision, and decisions per second of the compiled episode loop (its
  compile time is measured apart).

MCTS and Gumbel MuZero (:mod:`qlearn.search.mcts`) and the greedy baseline run as one
jitted loop over the whole batch of episodes; the best-first planners
(:mod:`qlearn.search.best_first`) plan one path per start state of a deterministic
world and follow it.
"""

from __future__ import annotations

import time
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.exact import Solution
from qlearn.mdp import FiniteMDP
from qlearn.search import best_first
from qlearn.search.mcts import Guide, WorldModel, decide, guide, world_model

SEARCH_PLANNERS = ("mcts", "gumbel")
PATH_PLANNERS = ("astar", "dijkstra", "qstar")
PLANNERS = ("greedy", *SEARCH_PLANNERS, *PATH_PLANNERS)


class Played(NamedTuple):
    """Episodes of one planner: one row per start state, one column per episode x seed."""

    returns: np.ndarray  # (N, E) discounted returns
    success: np.ndarray  # (N, E) bool: ended in the best-paying terminal
    decisions: int  # actions taken over all episodes
    seconds: float  # wall time of playing (compiling excluded)
    nodes_expanded: np.ndarray | None = None  # (N,) best-first planners only
    nodes_generated: np.ndarray | None = None


def default_horizon(mdp: FiniteMDP) -> int:
    """The decision cap of an episode: the world's own, but at most 4 per state (every
    optimal path of a deterministic world is shorter than the number of states)."""
    return int(min(mdp.max_steps, 4 * mdp.n_states))


def worst_values(mdp: FiniteMDP, horizon: int) -> np.ndarray:
    """(S,) V_min: the lowest expected discounted return of any policy within ``horizon``
    decisions (finite-horizon dynamic programming with min)."""
    reward = mdp.expected_reward  # (S, A)
    v = np.zeros(mdp.n_states)
    for _ in range(horizon):
        q = reward + mdp.gamma * mdp.expected_next(v)  # (S, A)
        v = np.where(mdp.terminal, 0.0, np.where(mdp.legal, q, np.inf).min(axis=1))
    return v


def terminal_pay(mdp: FiniteMDP) -> np.ndarray:
    """(S,) the reward of entering each terminal state (nan for other states)."""
    return np.where(mdp.terminal, mdp.entry_reward, np.nan)


def regret(mdp: FiniteMDP, solution: Solution, starts: np.ndarray, returns: np.ndarray,
           horizon: int) -> np.ndarray:  # fmt: skip
    """(N, E) normalised regret of each episode's return (see the module docstring)."""
    v_star = solution.v[starts][:, None]
    span = v_star - worst_values(mdp, horizon)[starts][:, None]
    return np.where(span > 0, (v_star - returns) / np.where(span > 0, span, 1.0), 0.0)


@partial(jax.jit, static_argnames=("planner", "simulations", "horizon", "gumbel_scale"))
def _play_batch(model: WorldModel, g: Guide, greedy_q: jax.Array, starts: jax.Array,
                key: jax.Array, *, planner: str, simulations: int, horizon: int,
                gumbel_scale: float):  # fmt: skip
    """Every episode of the batch at once, until all have ended or the horizon is reached.
    Returns the states entered (B, horizon + 1) and the actions taken (B, horizon), -1
    once an episode has ended: returns are added up afterwards, in float64."""
    batch = starts.shape[0]

    def running(carry):
        t, _, done, *_ = carry
        return (t < horizon) & ~done.all()

    def step(carry):
        t, state, done, states, actions, key = carry
        key, k_search, k_env = jax.random.split(key, 3)
        if planner == "greedy":
            action = jnp.argmax(jnp.where(model.legal[state], greedy_q[state], -jnp.inf), axis=1)
        else:
            action = decide(model, g, state, k_search, planner=planner, simulations=simulations,
                            gumbel_scale=gumbel_scale)  # fmt: skip
        keys = jax.random.split(k_env, batch)
        pick = jax.vmap(jax.random.categorical)(keys, model.log_prob[state, action])
        nxt = jnp.where(done, -1, model.next_state[state, action, pick])
        actions = actions.at[:, t].set(jnp.where(done, -1, action))
        states = states.at[:, t + 1].set(nxt)
        done = done | model.terminal[jnp.maximum(nxt, 0)]
        return t + 1, jnp.where(nxt < 0, state, nxt), done, states, actions, key

    states = jnp.full((batch, horizon + 1), -1, jnp.int32).at[:, 0].set(starts)
    actions = jnp.full((batch, horizon), -1, jnp.int32)
    carry = (0, starts, model.terminal[starts], states, actions, key)
    _, _, _, states, actions, _ = jax.lax.while_loop(running, step, carry)
    return states, actions


def episode_returns(mdp: FiniteMDP, states: np.ndarray, actions: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(B,) discounted return of each recorded episode, in float64 from the world's own
    rewards, and (B,) whether it ended in the best-paying terminal."""
    taken = actions >= 0  # (B, H)
    s, a, s2 = states[:, :-1], np.maximum(actions, 0), np.maximum(states[:, 1:], 0)
    rewards = np.where(taken, mdp.landing_reward(np.maximum(s, 0), a, s2), 0.0)
    discounts = mdp.gamma ** np.arange(actions.shape[1])
    last = np.where(taken.any(axis=1), s2[np.arange(len(s2)), taken.sum(axis=1) - 1], 0)
    last_reward = np.where(taken.any(axis=1), rewards[np.arange(len(s2)), taken.sum(axis=1) - 1],
                           -np.inf)  # fmt: skip
    pay = terminal_pay(mdp)
    best = np.nanmax(pay) if np.isfinite(pay).any() else np.inf
    won = mdp.terminal[last] & taken.any(axis=1) & (last_reward >= best)
    return rewards @ discounts, won


def play_search(mdp: FiniteMDP, q: np.ndarray | None, starts: np.ndarray, *, planner: str,
                simulations: int = 0, episodes: int = 1, seeds: int = 1, seed: int = 0,
                horizon: int | None = None, prior: str = "learned", leaf: str = "learned",
                temperature: float = 1.0, gumbel_scale: float = 0.0) -> Played:  # fmt: skip
    """Greedy, MCTS or Gumbel MuZero episodes from each of ``starts`` (see the module
    docstring); seed k of ``seeds`` plays its episodes with the key of ``seed + k``."""
    horizon = horizon or default_horizon(mdp)
    model = world_model(mdp)
    g = guide(mdp, q, prior=prior, leaf=leaf, temperature=temperature)
    greedy_q = jnp.asarray(np.nan_to_num(q if q is not None else np.zeros(mdp.legal.shape),
                                         nan=0.0, neginf=-1e30), jnp.float32)  # fmt: skip
    batch = np.repeat(np.asarray(starts, np.int32), episodes)  # (N * E_per_seed,)
    options = {"planner": planner, "simulations": int(simulations), "horizon": int(horizon),
               "gumbel_scale": float(gumbel_scale)}  # fmt: skip
    returns, won, decisions, seconds = [], [], 0, 0.0
    compiled = None
    for k in range(seeds):
        args = (model, g, greedy_q, jnp.asarray(batch), jax.random.PRNGKey(seed + k))
        if compiled is None:
            compiled = _play_batch.lower(*args, **options).compile()
        began = time.perf_counter()
        states, actions = (np.asarray(x) for x in jax.device_get(compiled(*args)))
        seconds += time.perf_counter() - began
        ret, ok = episode_returns(mdp, states, actions)
        returns.append(ret.reshape(len(starts), episodes))
        won.append(ok.reshape(len(starts), episodes))
        decisions += int((actions >= 0).sum())
    returns, won = np.concatenate(returns, axis=1), np.concatenate(won, axis=1)
    return Played(returns, won, decisions, seconds)


def play_paths(mdp: FiniteMDP, q: np.ndarray | None, starts: np.ndarray, *, planner: str,
               episodes: int = 1, seeds: int = 1) -> Played:  # fmt: skip
    """A*, Dijkstra or Q* search: one planned path per start state, followed; the world
    is deterministic, so every episode from a state returns the same."""
    best_first.check_world(mdp, planner)
    q = np.zeros(mdp.legal.shape) if q is None else q
    v_hat = np.where(mdp.legal, np.nan_to_num(q, nan=-np.inf), -np.inf).max(axis=1)
    pay = terminal_pay(mdp)
    best = np.nanmax(pay) if np.isfinite(pay).any() else np.inf
    results = []
    began = time.perf_counter()
    for s in starts:
        if planner == "astar":
            results.append(best_first.astar(mdp, int(s), v_hat))
        elif planner == "dijkstra":
            results.append(best_first.dijkstra(mdp, int(s)))
        else:
            results.append(best_first.qstar(mdp, int(s), q))
    seconds = time.perf_counter() - began
    returns = np.array([r.discounted_return for r in results])
    won = np.array([r.reached_terminal and pay[r.states[-1]] >= best for r in results])
    repeat = episodes * seeds
    return Played(
        returns=np.repeat(returns[:, None], repeat, axis=1),
        success=np.repeat(won[:, None], repeat, axis=1),
        decisions=int(sum(len(r.actions) for r in results)),
        seconds=seconds,
        nodes_expanded=np.array([r.nodes_expanded for r in results]),
        nodes_generated=np.array([r.nodes_generated for r in results]),
    )


def play(mdp: FiniteMDP, q: np.ndarray | None, starts: np.ndarray, *, planner: str,
         **options) -> Played:  # fmt: skip
    """Episodes of any planner of :data:`PLANNERS` from ``starts``."""
    if planner in PATH_PLANNERS:
        keep = {k: options[k] for k in ("episodes", "seeds") if k in options}
        return play_paths(mdp, q, starts, planner=planner, **keep)
    if planner not in PLANNERS:
        raise QlearnError(f"unknown planner {planner!r}; choose one of {', '.join(PLANNERS)}")
    return play_search(mdp, q, starts, planner=planner, **options)
