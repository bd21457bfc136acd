"""The host-loop DQN trainer: any Gymnasium environment with discrete actions, Atari
included, driven by the same jitted DQN functions as the compiled trainer.

Environments are stepped in Python; acting, storing transitions and training are
jitted and vmapped over seeds, with the replay buffer donated so it is updated in
place. Every random choice has an explicit seed: the agent's keys are folded from the
run seed and the step index, and every episode starts with ``reset(seed=...)`` from a
seed derived from (run seed, environment, episode number).

That is also how resuming stays exact without pickling environments: a checkpoint
keeps, for every environment, its episode number and the actions taken since that
episode began; resuming resets it with the same seed and replays those actions, then
checks that it arrived at the saved observation.

Atari (ale-py) gets the standard wrappers: up to 30 no-op actions on reset, frame skip
4 with max-pooling of the last two frames, 84x84 grayscale, a stack of 4 frames (all
from Gymnasium's ``AtariPreprocessing`` and ``FrameStackObservation``); while
learning, rewards are clipped to their sign and a lost life counts as the end of an
episode for the target (episodic life), while returns are reported unclipped over
whole games.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.deep import replay as rb
from qlearn.deep.chunks import (
    ChunkRecord,
    beta_at,
    epsilon_at,
    make_dqn,
    make_plan,
    total_updates,
)
from qlearn.deep.dqn import epsilon_greedy
from qlearn.deep.flat import flatten, unflatten
from qlearn.envs.registry import gym_env_id, is_atari, register_atari

ATARI_FRAME_STACK = 4
EVAL_STREAM = 1_000_003  # separates evaluation episode seeds from training ones


def episode_seed(seed: int, stream: int, env_index: int, episode: int) -> int:
    """The reset seed of one episode: a pure function of where it sits in the run."""
    return int(np.random.SeedSequence([seed, stream, env_index, episode]).generate_state(1)[0])


@dataclass(frozen=True)
class EnvSpec:
    """How to build the Gymnasium environments of a run, and what they look like."""

    gym_id: str
    atari: bool
    one_hot: int  # size of a Discrete observation space to one-hot encode (0: none)
    obs_shape: tuple[int, ...]
    obs_dtype: Any
    n_actions: int
    mdp: Any = None
    max_steps: int | None = None  # episode cap (the environment's own when None)

    def make(self, training: bool) -> gym.Env:
        """A fresh environment (training ones may differ: episodic life on Atari)."""
        if self.mdp is not None:
            from qlearn.envs.finite import FiniteEnv

            return gym.wrappers.TimeLimit(FiniteEnv(self.mdp), self.mdp.max_steps)
        cap = {} if self.max_steps is None else {"max_episode_steps": self.max_steps}
        if not self.atari:
            return gym.make(self.gym_id, **cap)
        register_atari()
        env = gym.make(self.gym_id, frameskip=1, **cap)
        env = gym.wrappers.AtariPreprocessing(
            env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True
        )
        return gym.wrappers.FrameStackObservation(env, ATARI_FRAME_STACK)

    def observe(self, obs: Any) -> np.ndarray:
        if self.one_hot:
            out = np.zeros(self.one_hot, np.float32)
            out[int(obs)] = 1.0
            return out
        return np.asarray(obs, dtype=self.obs_dtype)


def env_spec(cfg, target) -> EnvSpec:
    """Build one environment to read its spaces; refuse what DQN cannot learn."""
    if target.mdp is not None:
        mdp = target.mdp
        if cfg.max_steps is not None:
            from dataclasses import replace

            mdp = replace(mdp, max_steps=cfg.max_steps)
        n = mdp.n_states
        return EnvSpec(mdp.name, False, n, (n,), np.float32, mdp.n_actions, mdp)
    gym_id = gym_env_id(str(cfg.world))
    atari = is_atari(gym_id)
    probe = EnvSpec(gym_id, atari, 0, (), np.float32, 0, max_steps=cfg.max_steps)
    try:
        env = probe.make(training=False)
    except gym.error.Error as exc:
        raise QlearnError(f"cannot make {gym_id}: {exc}") from None
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise QlearnError(f"DQN needs a discrete action space; {gym_id} has {env.action_space}")
        space = env.observation_space
        n_actions = int(env.action_space.n)
        if isinstance(space, gym.spaces.Discrete):
            n = int(space.n)
            return EnvSpec(gym_id, atari, n, (n,), np.float32, n_actions, None, cfg.max_steps)
        if not isinstance(space, gym.spaces.Box):
            raise QlearnError(
                f"DQN needs a Box or Discrete observation space; {gym_id} has {space}"
            )
        dtype = np.uint8 if space.dtype == np.uint8 else np.float32
        return EnvSpec(gym_id, atari, 0, tuple(space.shape), dtype, n_actions, None, cfg.max_steps)
    finally:
        env.close()


class HostState:
    """The learner and buffer of every seed (device arrays), and the environments
    with the bookkeeping that lets them be rebuilt exactly."""

    def __init__(self, learners, replays, envs, obs, mask, lives, ep_return, ep_length,
                 episode, actions, iterations_done) -> None:  # fmt: skip
        self.learners = learners  # [seed] Learner
        self.replays = replays  # [seed] Replay
        self.envs = envs  # [seed][env] gym.Env
        self.obs = obs  # (N, E, *obs) the current observations
        self.mask = mask  # (N, E, A)
        self.lives = lives  # (N, E) Atari lives (0 elsewhere)
        self.ep_return = ep_return  # (N, E) unclipped return of the game in progress
        self.ep_length = ep_length  # (N, E)
        self.episode = episode  # (N, E) episode number of each environment
        self.actions = actions  # [seed][env] list of actions since the episode's reset
        self.iterations_done = iterations_done


def _mask_of(info: dict, n_actions: int) -> np.ndarray:
    mask = info.get("action_mask")
    if mask is None:
        return np.ones(n_actions, bool)
    return np.asarray(mask, bool)


class HostBackend:
    """Trains every seed in lockstep: one jitted act and one jitted store per vector
    step, one jitted training round per iteration, all vmapped over seeds."""

    def __init__(self, cfg, target) -> None:
        self.cfg, self.target = cfg, target
        self.spec = env_spec(cfg, target)
        self.plan = make_plan(cfg)
        self.chunks = self.plan.chunks
        self.env_steps = self.plan.env_steps
        self.steps_per_iteration = self.plan.steps_per_iteration
        torso = "nature" if self.spec.atari else "mlp"
        self.dqn = make_dqn(
            cfg, self.spec.n_actions, torso, self.spec.atari, total_updates(cfg, self.plan)
        )
        self.seeds = [cfg.seed + k for k in range(cfg.seeds)]
        self.keys = [jax.random.PRNGKey(seed) for seed in self.seeds]
        self._build_functions()

    # ---- jitted, seed-vmapped functions ----
    def _build_functions(self) -> None:
        cfg, dqn, spec = self.cfg, self.dqn, self.spec
        rows = rb.rows_for(cfg.buffer_size, cfg.num_envs)
        example = jnp.zeros(spec.obs_shape, spec.obs_dtype)

        def init(key):
            k_params = jax.random.split(key, 4)[2]
            replay = rb.init(rows, cfg.num_envs, spec.obs_shape, spec.obs_dtype, spec.n_actions)
            return dqn.init(k_params, example), replay

        def act(params, obs, mask, key, step, epsilon):
            """Training's actions and their behaviour probabilities (fresh layer noise)."""
            return dqn.act_with_prob(params, obs, mask, jax.random.fold_in(key, step), epsilon)

        def act_evaluating(params, obs, mask, key, step, epsilon):
            """Evaluation's actions: noisy layers use their mean weights."""
            q = dqn.q_values(params, obs)
            return epsilon_greedy(q, mask, jax.random.fold_in(key, step), epsilon)

        def learn(learner, replay, key, iteration, before, after, beta):
            k = jax.random.fold_in(jax.random.fold_in(key, 7), iteration)
            return dqn.train_round(learner, replay, k, before, after, cfg.gradient_steps, beta)

        # Every seed has its own learner and buffer, stepped by the same compiled
        # functions (batching seeds would copy whole buffers or, for CNNs, make XLA
        # run grouped convolutions, both slow on CPU; the environments are stepped in
        # Python anyway).
        self._init = jax.jit(init)
        self._act = jax.jit(act)
        self._act_evaluating = jax.jit(act_evaluating)
        self._q_values = jax.jit(dqn.q_values)
        self._add = jax.jit(rb.add, donate_argnums=0)
        self._learn = jax.jit(learn, donate_argnums=(0, 1))

    def epsilon_at(self, step: int) -> float:
        return float(epsilon_at(self.cfg, self.plan, step))

    def beta_at(self, step: int) -> float:
        return float(beta_at(self.cfg, self.plan, step))

    # ---- environments ----
    def _reset(self, state: HostState, k: int, e: int) -> None:
        """Start environment (k, e)'s next episode, seeded by its place in the run."""
        env = state.envs[k][e]
        obs, info = env.reset(seed=episode_seed(self.seeds[k], 0, e, int(state.episode[k, e])))
        state.obs[k, e] = self.spec.observe(obs)
        state.mask[k, e] = _mask_of(info, self.spec.n_actions)
        state.lives[k, e] = info.get("lives", 0)
        state.ep_return[k, e] = 0.0
        state.ep_length[k, e] = 0
        state.actions[k][e] = []

    def fresh(self) -> HostState:
        cfg, spec = self.cfg, self.spec
        n, e_count = cfg.seeds, cfg.num_envs
        made = [self._init(key) for key in self.keys]
        state = HostState(
            learners=[m[0] for m in made],
            replays=[m[1] for m in made],
            envs=[[spec.make(training=True) for _ in range(e_count)] for _ in range(n)],
            obs=np.zeros((n, e_count, *spec.obs_shape), spec.obs_dtype),
            mask=np.ones((n, e_count, spec.n_actions), bool),
            lives=np.zeros((n, e_count), np.int64),
            ep_return=np.zeros((n, e_count)),
            ep_length=np.zeros((n, e_count), np.int64),
            episode=np.zeros((n, e_count), np.int64),
            actions=[[[] for _ in range(e_count)] for _ in range(n)],
            iterations_done=0,
        )
        for k in range(n):
            for e in range(e_count):
                self._reset(state, k, e)
        return state

    def compile(self, state: HostState) -> float:
        """Compile acting, storing and training once, on throwaway copies."""
        began = time.perf_counter()
        online = state.learners[0].online
        jax.block_until_ready(self._act(online, state.obs[0], state.mask[0], self.keys[0], 0, 1.0))
        self._q_values(online, state.obs[0]).block_until_ready()
        learner, replay = jax.tree.map(jnp.copy, (state.learners[0], state.replays[0]))
        shape = state.obs.shape[1:2]
        t = rb.Transition(
            state.obs[0], np.zeros(shape, np.int32), np.zeros(shape, np.float32), state.obs[0],
            np.zeros(shape, bool), np.zeros(shape, bool), state.mask[0],
            np.ones(shape, np.float32),
        )  # fmt: skip
        replay = self._add(replay, t)
        jax.block_until_ready(self._learn(learner, replay, self.keys[0], 0, 0, 1, 0.4))
        return time.perf_counter() - began

    def _vector_step(self, state: HostState, step: int, records: list) -> None:
        """Act in every environment of every seed, store the transitions, start new
        episodes where they ended."""
        cfg, spec = self.cfg, self.spec
        n, e_count = cfg.seeds, cfg.num_envs
        eps = self.epsilon_at(step)
        vector_step = step // cfg.num_envs
        acted = [
            self._act(state.learners[k].online, state.obs[k], state.mask[k], self.keys[k],
                      vector_step, eps)
            for k in range(n)
        ]  # fmt: skip
        action = np.stack([np.asarray(a) for a, _ in acted])
        prob = np.stack([np.asarray(p) for _, p in acted])
        next_obs = np.empty_like(state.obs)
        next_mask = np.empty_like(state.mask)
        reward = np.zeros((n, e_count), np.float32)
        terminated = np.zeros((n, e_count), bool)
        done = np.zeros((n, e_count), bool)
        ended = []
        for k in range(n):
            for e in range(e_count):
                a = int(action[k, e])
                obs, r, term, trunc, info = state.envs[k][e].step(a)
                state.actions[k][e].append(a)
                state.ep_return[k, e] += r
                state.ep_length[k, e] += 1
                next_obs[k, e] = spec.observe(obs)
                next_mask[k, e] = _mask_of(info, spec.n_actions)
                life_lost = spec.atari and info.get("lives", 0) < state.lives[k, e]
                state.lives[k, e] = info.get("lives", 0)
                reward[k, e] = np.sign(r) if spec.atari else r
                terminated[k, e] = term or life_lost
                done[k, e] = term or trunc or life_lost
                if term or trunc:
                    ended.append((k, e))
        for k in range(n):
            t = rb.Transition(  # host arrays: jit takes them without per-array dispatch
                state.obs[k], action[k].astype(np.int32), reward[k], next_obs[k],
                terminated[k], done[k], next_mask[k], prob[k].astype(np.float32),
            )  # fmt: skip
            state.replays[k] = self._add(state.replays[k], t)
        state.obs, state.mask = next_obs, next_mask
        after = step + cfg.num_envs
        for k, e in ended:
            records.append((k, after, state.ep_return[k, e], state.ep_length[k, e]))
            state.episode[k, e] += 1
            self._reset(state, k, e)

    def evaluate(self, params, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, M) returns, lengths and start values (max legal Q at the first
        observation) of ``eval_episodes`` fresh episodes per seed, all stepped together,
        seeded by the evaluation's index."""
        cfg, spec = self.cfg, self.spec
        n, m = cfg.seeds, cfg.eval_episodes
        envs = [[spec.make(training=False) for _ in range(m)] for _ in range(n)]
        obs = np.zeros((n, m, *spec.obs_shape), spec.obs_dtype)
        mask = np.ones((n, m, spec.n_actions), bool)
        for k in range(n):
            for j in range(m):
                o, info = envs[k][j].reset(
                    seed=episode_seed(self.seeds[k], EVAL_STREAM + index, 0, j)
                )
                obs[k, j], mask[k, j] = spec.observe(o), _mask_of(info, spec.n_actions)
        returns = np.zeros((n, m))
        lengths = np.zeros((n, m), np.int64)
        seed_params = [jax.tree.map(lambda x, k=k: x[k], params) for k in range(n)]
        q0 = np.stack([np.asarray(self._q_values(seed_params[k], obs[k])) for k in range(n)])
        start_value = np.where(mask, q0, -np.inf).max(axis=-1)
        alive = np.ones((n, m), bool)
        keys = [jax.random.fold_in(key, EVAL_STREAM + index) for key in self.keys]
        t = 0
        while alive.any():
            action = np.stack([
                np.asarray(self._act_evaluating(seed_params[k], obs[k], mask[k], keys[k], t,
                                                cfg.eval_epsilon))
                for k in range(n)
            ])  # fmt: skip
            for k, j in zip(*np.nonzero(alive), strict=True):
                o, r, term, trunc, info = envs[k][j].step(int(action[k, j]))
                returns[k, j] += r
                lengths[k, j] += 1
                obs[k, j], mask[k, j] = spec.observe(o), _mask_of(info, spec.n_actions)
                if term or trunc:
                    alive[k, j] = False
            t += 1
        for row in envs:
            for env in row:
                env.close()
        return returns, lengths, start_value

    def run_chunk(self, state: HostState, index: int):
        cfg, plan = self.cfg, self.plan
        first = index * plan.iterations_per_chunk
        last = min(plan.iterations, first + plan.iterations_per_chunk)
        records: list = []
        loss, q_mean, eps_seen, trained = [], [], [], []
        for it in range(first, last):
            before = it * plan.steps_per_iteration
            for j in range(cfg.train_freq):
                self._vector_step(state, before + j * cfg.num_envs, records)
            after = before + plan.steps_per_iteration
            learns = after > cfg.learning_starts
            if learns:
                stats = []
                for k in range(cfg.seeds):
                    state.learners[k], state.replays[k], s = self._learn(
                        state.learners[k], state.replays[k], self.keys[k], it, before, after,
                        self.beta_at(after),
                    )  # fmt: skip
                    stats.append(s)
                loss.append(np.array([float(s.loss) for s in stats]))
                q_mean.append(np.array([float(s.q_mean) for s in stats]))
            else:
                loss.append(np.full(cfg.seeds, np.nan))
                q_mean.append(np.full(cfg.seeds, np.nan))
            trained.append(learns)
            eps_seen.append(np.full(cfg.seeds, self.epsilon_at(after - cfg.num_envs)))
            state.iterations_done = it + 1
        eval_ret, eval_len, eval_value = self.evaluate(self.online_params(state), index)
        rec = np.array(records, dtype=float).reshape(-1, 4)
        record = ChunkRecord(
            episode_seed=rec[:, 0].astype(np.int64),
            episode_step=rec[:, 1].astype(np.int64),
            episode_return=rec[:, 2],
            episode_length=rec[:, 3].astype(np.int64),
            trained=np.asarray(trained, bool),
            loss=np.stack(loss, axis=1),
            q_mean=np.stack(q_mean, axis=1),
            epsilon=np.stack(eps_seen, axis=1),
            eval_return=eval_ret,
            eval_length=eval_len,
            eval_start_value=eval_value,
            steps_done=plan.steps_after_chunk(index),
        )
        return state, record

    # ---- checkpoints ----
    def state_arrays(self, state: HostState) -> dict:
        arrays = flatten(self._stacked(state), prefix="state/")
        longest = max(1, max(len(a) for row in state.actions for a in row))
        actions = np.full((*state.episode.shape, longest), -1, np.int64)
        for k, row in enumerate(state.actions):
            for e, acts in enumerate(row):
                actions[k, e, : len(acts)] = acts
        arrays.update(
            {
                "envs/obs": state.obs,
                "envs/mask": state.mask,
                "envs/lives": state.lives,
                "envs/ep_return": state.ep_return,
                "envs/ep_length": state.ep_length,
                "envs/episode": state.episode,
                "envs/actions": actions,
                "envs/iterations_done": np.asarray(state.iterations_done),
            }
        )
        return arrays

    def load_state(self, arrays: dict, source: str) -> HostState:
        """Rebuild the learner and buffer from the file and every environment by
        replaying its episode so far; refuses environments that do not replay exactly."""
        one = jax.eval_shape(self._init, self.keys[0])
        n = self.cfg.seeds
        template = jax.tree.map(lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype), one)
        learners, replays = unflatten(template, arrays, source, prefix="state/")
        missing = [k for k in ("envs/obs", "envs/episode", "envs/actions") if k not in arrays]
        if missing:
            raise QlearnError(f"{source} is not a qlearn DQN checkpoint (missing {missing[0]!r})")
        state = self.fresh()
        for k in range(self.cfg.seeds):
            state.learners[k] = jax.device_put(jax.tree.map(lambda x, k=k: x[k], learners))
            state.replays[k] = jax.device_put(jax.tree.map(lambda x, k=k: x[k], replays))
        state.episode = np.array(arrays["envs/episode"])
        state.iterations_done = int(arrays["envs/iterations_done"])
        saved_obs = arrays["envs/obs"]
        for k in range(self.cfg.seeds):
            for e in range(self.cfg.num_envs):
                self._reset(state, k, e)
                for a in arrays["envs/actions"][k, e]:
                    if a < 0:
                        break
                    obs, _, _, _, info = state.envs[k][e].step(int(a))
                    state.actions[k][e].append(int(a))
                    state.obs[k, e] = self.spec.observe(obs)
                    state.mask[k, e] = _mask_of(info, self.spec.n_actions)
                if not np.array_equal(state.obs[k, e], saved_obs[k, e]):
                    raise QlearnError(
                        f"{self.spec.gym_id} did not replay to the saved state (seed "
                        f"{self.seeds[k]}, environment {e}): it is not deterministic given its "
                        "reset seed, so this run cannot be resumed exactly"
                    )
        state.lives = np.array(arrays["envs/lives"])
        state.ep_return = np.array(arrays["envs/ep_return"])
        state.ep_length = np.array(arrays["envs/ep_length"])
        state.mask = np.array(arrays["envs/mask"])
        return state

    @staticmethod
    def _stacked(state: HostState):
        """(learner, replay) of every seed, stacked on a leading seed axis (host arrays)."""
        per_seed = [jax.device_get(lr) for lr in zip(state.learners, state.replays, strict=True)]
        return jax.tree.map(lambda *xs: np.stack(xs), *per_seed)

    def params_template(self):
        """The shapes of :meth:`online_params` (nothing is computed)."""
        n = self.cfg.seeds
        one = jax.eval_shape(self._init, self.keys[0])[0].online
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype), one)

    def online_params(self, state: HostState):
        online = [jax.device_get(learner.online) for learner in state.learners]
        return jax.tree.map(lambda *xs: np.stack(xs), *online)
