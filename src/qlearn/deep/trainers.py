"""Which compiled trainer a run gets (DQN's or PQN's), the whole run as one pure function,
and the backend that drives the compiled trainer seed group by seed group.

Apart from :mod:`qlearn.deep.compiled` so that PQN's trainer (:mod:`qlearn.deep.pqn`),
which builds on the DQN trainer, and the choice between them import in one direction.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from qlearn.configs.dqn_config import DQNConfig
from qlearn.deep.chunks import ChunkRecord, make_dqn, make_plan, total_updates
from qlearn.deep.compiled import CompiledTrainer, seed_keys
from qlearn.deep.flat import flatten, unflatten
from qlearn.deep.functional_envs import FunctionalEnv
from qlearn.deep.pqn import make_pqn_trainer


def make_trainer(cfg: DQNConfig, env: FunctionalEnv) -> CompiledTrainer:
    """Compile-ready trainer for ``cfg`` on a functional environment (PQN's own for
    ``algo: pqn``)."""
    if cfg.algo == "pqn":
        return make_pqn_trainer(cfg, env)
    plan = make_plan(cfg)
    dqn = make_dqn(cfg, env.n_actions, env.torso, False, total_updates(cfg, plan))
    return CompiledTrainer(cfg, env, dqn, plan)


def make_train(cfg: DQNConfig, env: FunctionalEnv):
    """PureJaxRL-style: ``train(seed) -> (final RunState, ChunkOutputs stacked over
    chunks)``, the whole run as one pure function. ``jax.jit(jax.vmap(train))(seeds)``
    trains many seeds in one program."""
    trainer = make_trainer(cfg, env)
    per_chunk = trainer.plan.iterations_per_chunk

    def train(seed: jax.Array):
        def one(run, index):
            return trainer.chunk(run, index * per_chunk, index)

        return jax.lax.scan(one, trainer.init(seed), jnp.arange(trainer.plan.chunks))

    return train


class CompiledBackend:
    """Drives a :class:`CompiledTrainer` for every seed, a chunk per call, and turns
    its outputs into host-side :class:`~qlearn.deep.train.ChunkRecord`s.

    Seeds run in groups of one per CPU device (qlearn gives JAX one device per core,
    see :mod:`qlearn.deep`), every seed in the same one-seed-per-device program, so a
    seed's numbers are the same alone or among others. A group with fewer seeds than
    devices is filled with extra seeds whose results are dropped: the core they use
    would otherwise sit idle.
    """

    def __init__(self, cfg: DQNConfig, target) -> None:
        from qlearn.deep.functional_envs import finite_env, gymnax_env

        if target.mdp is not None:
            env = finite_env(target.mdp, cfg.max_steps)
        else:
            env = gymnax_env(str(cfg.world))
        self.cfg = cfg
        self.trainer = make_trainer(cfg, env)
        self.plan = self.trainer.plan
        self.chunks = self.plan.chunks
        self.env_steps = self.plan.env_steps
        self.steps_per_iteration = self.plan.steps_per_iteration
        self.devices = jax.local_device_count()
        self.groups = -(-cfg.seeds // self.devices)
        padded = self.groups * self.devices
        self.seed_ids = np.arange(cfg.seed, cfg.seed + padded, dtype=np.int32)
        self._init, self._chunk = self.trainer.parallel()
        self._compiled = None

    def _group_seeds(self, g: int) -> np.ndarray:
        return self.seed_ids[g * self.devices : (g + 1) * self.devices]

    def fresh(self) -> list:
        """One state per group of seeds (leading axis: device). The chunk compiles in
        a second thread meanwhile (XLA compiles without holding the GIL), since the
        initial state is itself a small compiled program. The initial state is built
        once the chunk is traced and lowered: both are Python work that would otherwise
        take turns on the GIL and delay the chunk's (longer) compile."""
        import threading
        import time

        shapes = jax.eval_shape(self._init, self._group_seeds(0))
        lowered = threading.Event()

        def compile_chunk() -> None:
            began = time.perf_counter()
            try:
                program = self._chunk.lower(shapes, 0)
            finally:
                lowered.set()
            self._compiled = program.compile()
            self._compile_seconds = time.perf_counter() - began

        self._compiling = threading.Thread(target=compile_chunk, daemon=True)
        self._compiling.start()
        lowered.wait()
        return [self._init(self._group_seeds(g)) for g in range(self.groups)]

    def compile(self, state: list) -> float:
        """Wait for the chunk's compilation (started by :meth:`fresh`, or start it for a
        state loaded from a checkpoint); returns the seconds it took."""
        import time

        if getattr(self, "_compiling", None) is not None:
            self._compiling.join()
            self._compiling = None
            if self._compiled is not None:
                return self._compile_seconds
        began = time.perf_counter()
        self._compiled = self._chunk.lower(state[0], 0).compile()
        return time.perf_counter() - began

    def _gather(self, trees: list):
        """Per-group trees (leading axis: device) -> one tree over the real seeds."""
        n = self.cfg.seeds
        host = [jax.device_get(t) for t in trees]
        return jax.tree.map(lambda *xs: np.concatenate(xs, axis=0)[:n], *host)

    def run_chunk(self, state: list, index: int):
        outs = []
        for g in range(self.groups):
            state[g], out = self._compiled(state[g], index)
            outs.append(out)
        out = self._gather(outs)
        plan, cfg = self.plan, self.cfg
        first = index * plan.iterations_per_chunk
        ran = min(plan.iterations_per_chunk, plan.iterations - first)
        # finished_return: (N, I, F, E); the environment step each vector step ends at
        ret = np.asarray(out.finished_return)[:, :ran]
        length = np.asarray(out.finished_length)[:, :ran]
        it = np.arange(first, first + ran)[:, None]
        j = np.arange(cfg.train_freq)[None, :]
        step_at = (it * plan.steps_per_iteration + (j + 1) * cfg.num_envs)[..., None]
        step_at = np.broadcast_to(step_at, ret.shape[1:])
        seed_idx, i_idx, f_idx, e_idx = np.nonzero(np.isfinite(ret))
        trained = (it[:, 0] + 1) * plan.steps_per_iteration > cfg.learning_starts
        record = ChunkRecord(
            episode_seed=seed_idx,
            episode_step=step_at[i_idx, f_idx, e_idx],
            episode_return=ret[seed_idx, i_idx, f_idx, e_idx],
            episode_length=length[seed_idx, i_idx, f_idx, e_idx],
            trained=trained,
            loss=np.asarray(out.loss)[:, :ran],
            q_mean=np.asarray(out.q_mean)[:, :ran],
            epsilon=np.asarray(out.epsilon)[:, :ran],
            eval_return=np.asarray(out.eval_return),
            eval_length=np.asarray(out.eval_length),
            eval_start_value=np.asarray(out.eval_start_value),
            steps_done=plan.steps_after_chunk(index),
        )
        return state, record

    def state_arrays(self, state: list) -> dict:
        """Every seed's state (the filler seeds included), leading axis: seed."""
        host = [jax.device_get(t) for t in state]
        return flatten(jax.tree.map(lambda *xs: np.concatenate(xs, axis=0), *host), "state/")

    def load_state(self, arrays: dict, source: str) -> list:
        template = jax.eval_shape(jax.vmap(self.trainer.init), self.seed_ids)
        whole = unflatten(template, arrays, source, prefix="state/")
        d = self.devices
        return [
            jax.tree.map(lambda x, g=g: x[g * d : (g + 1) * d], whole) for g in range(self.groups)
        ]

    def online_params(self, state: list):
        return self._gather([s.learner.online for s in state])

    def evaluate(self, params: Any, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each seed's ``params`` on the evaluation episodes numbered ``index``: the
        episodes training's own evaluation after chunk ``index`` plays."""
        seeds = range(self.cfg.seed, self.cfg.seed + self.cfg.seeds)
        keys = jnp.stack([jax.random.fold_in(seed_keys(s)[1], index) for s in seeds])
        out = jax.device_get(jax.jit(jax.vmap(self.trainer.evaluate))(params, keys))
        return tuple(np.asarray(x) for x in out)

    def params_template(self):
        """The shapes of :meth:`online_params` (nothing is computed)."""
        n = self.cfg.seeds
        one = jax.eval_shape(self.trainer.init, jnp.int32(0)).learner.online
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype), one)
