"""Training on logged walks: one compiled loop shared by every method.

A method is a loss (see :mod:`qlearn.text.token_losses`); the loop draws minibatches of
whole walks with replacement, takes Adam steps (gradients clipped at norm 1) and, for
ILQL, moves the target Q heads. The whole run is a ``lax.scan`` under ``jit``; it can be
cut into chunks (for progress, checkpoints and resume) without changing a number, because
step ``i`` draws its minibatch from ``fold_in(key, i)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from qlearn.core.errors import QlearnError
from qlearn.text.logged import Walks
from qlearn.text.token_losses import Batch, IlqlSettings, bc_loss, ilql_loss, value_loss
from qlearn.text.transformer import ModelSize, init_params

#: What can be trained: the policies, and the prefix value model (value-guided decoding,
#: the learned outcome reward model of best-of-n).
TRAINED = ("bc", "filtered-bc", "ilql", "value")


@dataclass(frozen=True)
class FitSettings:
    """How a network is trained on logged walks."""

    steps: int = 400
    """Gradient steps."""
    batch: int = 64
    """Walks per minibatch (drawn with replacement)."""
    lr: float = 1e-3
    """Adam learning rate."""
    top_percent: float = 20.0
    """Filtered BC: the share of walks (best scores first) it clones."""
    ilql: IlqlSettings = field(default_factory=IlqlSettings)
    """ILQL's coefficients."""


class FitState(NamedTuple):
    """Everything a run needs to go on: parameters, ILQL's target heads, Adam's state and
    the steps done."""

    params: dict
    target: dict
    opt: Any
    step: jax.Array


class Normaliser(NamedTuple):
    """ILQL's rewards are ``(score - shift) / scale`` (trlx: the data's mean and std)."""

    shift: float
    scale: float


def optimiser(settings: FitSettings) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(settings.lr))


def normaliser(walks: Walks, method: str) -> Normaliser:
    """ILQL normalises the scores as trlx does; the others see them as they are."""
    if method != "ilql":
        return Normaliser(0.0, 1.0)
    r = np.asarray(walks.rewards, dtype=np.float64)
    return Normaliser(float(r.mean()), float(r.std() + 1e-8))


def training_batch(walks: Walks, method: str, settings: FitSettings) -> Batch:
    """The walks a method trains on, as arrays: filtered BC keeps the top ``top_percent``
    scores (ties at the cut kept); ILQL's rewards are normalised."""
    if method not in TRAINED:
        raise QlearnError(f"unknown method to train {method!r}; choose one of {TRAINED}")
    keep = np.ones(len(walks.rewards), dtype=bool)
    if method == "filtered-bc":
        cut = np.percentile(walks.rewards, 100.0 - settings.top_percent)
        keep = walks.rewards >= cut
    norm = normaliser(walks, method)
    rewards = (walks.rewards[keep] - norm.shift) / norm.scale
    return Batch(
        jnp.asarray(walks.tokens[keep]), jnp.asarray(walks.lengths[keep]),
        jnp.asarray(rewards, dtype=jnp.float32), jnp.ones(int(keep.sum()), jnp.float32),
    )  # fmt: skip


def init_state(size: ModelSize, settings: FitSettings, key: jax.Array) -> FitState:
    """Fresh parameters (from ``key``), target heads equal to the Q heads, step 0."""
    params = init_params(size, key)
    target = {"q1": params["q1"], "q2": params["q2"]}
    return FitState(params, target, optimiser(settings).init(params), jnp.asarray(0))


def method_loss(size: ModelSize, settings: FitSettings, method: str):
    """``loss(params, target, batch) -> (total, parts)`` of a method."""
    if method == "ilql":
        return lambda p, t, b: ilql_loss(size, settings.ilql, p, t, b)
    one = value_loss if method == "value" else bc_loss
    return lambda p, t, b: (one(size, p, b), {})


@partial(jax.jit, static_argnames=("size", "settings", "method", "count"))
def run_steps(state: FitState, key: jax.Array, data: Batch, *, size: ModelSize,
              settings: FitSettings, method: str,
              count: int) -> tuple[FitState, jax.Array]:  # fmt: skip
    """``count`` more gradient steps; returns the new state and each step's loss (count,)."""
    loss_fn = method_loss(size, settings, method)
    opt = optimiser(settings)
    hp = settings.ilql
    n = data.tokens.shape[0]

    def step(state: FitState, _):
        pick = jax.random.randint(jax.random.fold_in(key, state.step), (settings.batch,), 0, n)
        batch = jax.tree_util.tree_map(lambda x: x[pick], data)
        (loss, _parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, state.target, batch
        )
        updates, opt_state = opt.update(grads, state.opt, state.params)
        params = optax.apply_updates(state.params, updates)
        due = (state.step + 1) % hp.target_every == 0
        mix = jnp.where(due, hp.polyak, 0.0)
        target = jax.tree_util.tree_map(
            lambda t, q: (1.0 - mix) * t + mix * q, state.target,
            {"q1": params["q1"], "q2": params["q2"]},
        )  # fmt: skip
        return FitState(params, target, opt_state, state.step + 1), loss

    return jax.lax.scan(step, state, None, length=count)


def fit(walks: Walks, method: str, size: ModelSize, settings: FitSettings,
        key: jax.Array) -> tuple[FitState, np.ndarray]:  # fmt: skip
    """Train one network on ``walks`` from scratch; returns its state and the loss per step."""
    data = training_batch(walks, method, settings)
    init_key, data_key = jax.random.split(key)
    state = init_state(size, settings, init_key)
    state, losses = run_steps(state, data_key, data, size=size, settings=settings,
                              method=method, count=settings.steps)  # fmt: skip
    return state, np.asarray(losses)
