"""Evaluating trained networks: every method and setting on the same prompts and seed.

A seed's networks (``bc``, ``filtered-bc``, ``ilql``, ``value``: see
:mod:`qlearn.text.fitting`) answer each evaluation prompt (``task.prompts``: graph-walk's
every non-goal start, star-graph's held-out instances) ``samples`` times per setting.
Best-of-n draws its candidates from a separate pool of ``pool`` behaviour-cloning samples
per prompt (with replacement: the pool's empirical distribution is the base policy whose
KL is computed exactly), so that its success can be held against ``1 - (1 - p)^n`` with
``p`` measured on the independent BC samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from qlearn.text.decoding import (
    Sampled,
    outcome_scores,
    sample_tokens,
    sample_walks,
    start_tokens,
    taken_logp,
    taken_values,
    walk_lengths_of,
)
from qlearn.text.graph_tasks import Task, optimality
from qlearn.text.text_metrics import (
    best_of_n_kl,
    best_of_n_success,
    gap_stats,
)
from qlearn.text.token_qstar import taken_q_star
from qlearn.text.transformer import ModelSize


@dataclass(frozen=True)
class DecodeSettings:
    """Which settings each method is evaluated at, and on how many samples."""

    samples: int = 32
    """Answers per evaluation prompt and setting."""
    betas: tuple[float, ...] = (0.0, 1.0, 100.0)
    """ILQL: weights of the advantage added to log pi_beta (trlx: 0, 1, 100)."""
    top_k: int = 10
    """ILQL: tokens kept after the advantage is added (trlx: 10)."""
    lambdas: tuple[float, ...] = (10.0,)
    """Value-guided tokenwise: weights of V([prefix, z]) added to log p_bc(z)."""
    etas: tuple[float, ...] = (0.1,)
    """Q#-style reweighting: temperatures (smaller steers harder)."""
    blocks: tuple[tuple[int, int], ...] = ((4, 3),)
    """Blockwise value-guided decoding: (K candidates, M tokens per block)."""
    best_of: tuple[int, ...] = (1, 4, 16, 64)
    """Best-of-n: numbers of candidates."""
    pool: int = 128
    """Best-of-n: BC samples per prompt its candidates are drawn from."""


class SeedResult(NamedTuple):
    """One method and setting on one seed."""

    method: str
    setting: str
    optimality: float
    success: float
    kl: float | None
    tokens_per_answer: float
    q_gap_mean: float | None
    q_gap_max: float | None
    predicted_success: float | None  # best-of-n with the checker: 1 - (1 - p)^n


class Networks(NamedTuple):
    """A seed's trained parameters, by what they were trained as (missing: None), and
    ILQL's reward normaliser (shift, scale)."""

    bc: dict | None
    filtered_bc: dict | None
    ilql: dict | None  # {"params": ..., "target": ...}
    value: dict | None
    ilql_norm: tuple[float, float] = (0.0, 1.0)
    ilql_gamma: float = 0.99


def _scored(task: Task, sampled: Sampled) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tokens = np.asarray(sampled.tokens)
    opt = optimality(task, tokens)
    return tokens, opt, opt > 0  # success: the goal in fewer than max_length nodes


def visited_gap(task: Task, tokens: np.ndarray, q: np.ndarray, gamma: float = 1.0,
                shift: float = 0.0, scale: float = 1.0) -> tuple[float, float]:  # fmt: skip
    """Mean and max of ``|q - Q*|`` (times ``scale``) over the (prefix, taken token) pairs
    of the answers, Q* for rewards ``(score - shift) / scale`` discounted by ``gamma``;
    ``q`` is (B, M-1), the learned value of token t+1 after prefix 0..t."""
    p = task.prompt_length
    lengths = np.asarray(walk_lengths_of(jnp.asarray(tokens), p))
    t = np.arange(tokens.shape[1] - 1)[None, :]
    visited = (t < lengths[:, None] - 1) & (t >= p - 1)
    q_star = taken_q_star(task, tokens, gamma, shift, scale)
    mean, worst = gap_stats(q * scale, q_star * scale, visited)
    return mean, worst


def _policy_result(task, size, method, setting, sampled, bc, gap=(None, None)) -> SeedResult:
    tokens, opt, succ = _scored(task, sampled)
    kl = None
    if bc is not None:
        kl = float(
            np.mean(np.asarray(sampled.logp) - np.asarray(taken_logp(size, bc, sampled.tokens)))
        )
        kl = max(kl, 0.0) if abs(kl) < 1e-6 else kl
    return SeedResult(method, setting, float(opt.mean()), float(succ.mean()), kl,
                      float(np.mean(sampled.count)), gap[0], gap[1], None)  # fmt: skip


def evaluate_seed(task: Task, size: ModelSize, nets: Networks, settings: DecodeSettings,
                  key: jax.Array, methods: tuple[str, ...]) -> list[SeedResult]:  # fmt: skip
    """Every setting of ``methods`` on one seed's networks (keys split per setting)."""
    prompts = jnp.asarray(np.repeat(task.prompts, settings.samples, axis=0))
    keys = iter(jax.random.split(key, 64))
    out: list[SeedResult] = []
    bc = nets.bc
    bc_sampled = None
    if bc is not None:
        bc_sampled = sample_walks("lm", size, {"policy": bc}, 0.0, prompts, next(keys))
        if "bc" in methods:
            out.append(_policy_result(task, size, "bc", "temperature=1", bc_sampled, bc))
    if "filtered-bc" in methods and nets.filtered_bc is not None:
        s = sample_walks("lm", size, {"policy": nets.filtered_bc}, 0.0, prompts, next(keys))
        out.append(_policy_result(task, size, "filtered-bc", "temperature=1", s, bc))
    if "ilql" in methods and nets.ilql is not None:
        out += _ilql_results(task, size, nets, settings, prompts, keys)
    if "value-guided" in methods and nets.value is not None and bc is not None:
        out += _value_guided_results(task, size, nets, settings, prompts, keys)
    if "best-of-n" in methods and bc is not None:
        out += _best_of_n_results(task, size, nets, settings, bc_sampled, next(keys))
    return out


def _ilql_results(task, size, nets, settings, prompts, keys) -> list[SeedResult]:
    shift, scale = nets.ilql_norm
    params = {"policy": nets.ilql["params"], "target": nets.ilql["target"]}
    out = []
    for beta in settings.betas:
        s = sample_walks("ilql", size, params, beta, prompts, next(keys), settings.top_k)
        q = np.asarray(taken_values(size, params["policy"], params["target"], s.tokens, "min"))
        gap = visited_gap(task, np.asarray(s.tokens), q, nets.ilql_gamma, shift, scale)
        out.append(_policy_result(task, size, "ilql", f"beta={beta:g}", s, nets.bc, gap))
    return out


def _value_guided_results(task, size, nets, settings, prompts, keys) -> list[SeedResult]:
    params = {"bc": nets.bc, "value": nets.value}
    out = []
    runs = [("tokenwise", f"tokenwise, lambda={x:g}", x) for x in settings.lambdas]
    runs += [("qsharp", f"q-sharp, eta={x:g}", x) for x in settings.etas]
    for kind, label, knob in runs:
        s = sample_walks(kind, size, params, knob, prompts, next(keys))
        q = np.asarray(taken_values(size, nets.value, nets.value, s.tokens, "q1"))
        gap = visited_gap(task, np.asarray(s.tokens), q)  # raw scores, undiscounted
        out.append(_policy_result(task, size, "value-guided", label, s, nets.bc, gap))
    for k, m in settings.blocks:
        s, bound = blockwise(size, nets.bc, nets.value, prompts, next(keys), k, m)
        q = np.asarray(taken_values(size, nets.value, nets.value, s.tokens, "q1"))
        gap = visited_gap(task, np.asarray(s.tokens), q)  # raw scores, undiscounted
        tokens, opt, succ = _scored(task, s)
        label = f"blockwise, K={k}, M={m}"
        out.append(SeedResult("value-guided", label, float(opt.mean()), float(succ.mean()),
                              bound, float(np.mean(s.count)), *gap, None))  # fmt: skip
    return out


def blockwise(size: ModelSize, bc: dict, value: dict, prompts: jax.Array, key: jax.Array,
              k: int, m: int) -> tuple[Sampled, float]:  # fmt: skip
    """Blockwise value-guided decoding: from each prefix, ``k`` continuations of ``m``
    tokens sampled from BC, the one whose last prefix the value model rates best kept.

    Returns the walks (``count``: every token sampled, rejected blocks included) and an
    upper bound on the KL from BC: each block is a best-of-k choice, so at most
    ``log k - (k - 1) / k`` per block (Beirami et al. 2024)."""
    from qlearn.text.text_metrics import best_of_n_bound

    tokens = start_tokens(prompts, size.length)
    b = tokens.shape[0]
    done = jnp.zeros(b, dtype=bool)
    count = jnp.zeros(b, dtype=jnp.int32)
    blocks = 0
    for first in range(size.prompt - 1, size.length - 1, m):
        steps = min(m, size.length - 1 - first)
        rep = lambda x: jnp.repeat(x, k, axis=0)  # noqa: E731
        cand = sample_tokens("lm", size, {"policy": bc}, jnp.float32(0.0), rep(tokens),
                             rep(done), jax.random.fold_in(key, first), first,
                             count=steps)  # fmt: skip
        ends = jnp.minimum(walk_lengths_of(cand.tokens, size.prompt) - 1, first + steps)
        values = taken_values(size, value, value, cand.tokens, "q1")  # (B*k, M-1)
        score = jnp.take_along_axis(values, (ends - 1)[:, None], 1)[:, 0].reshape(b, k)
        pick = jnp.arange(b) * k + jnp.argmax(score, axis=1)
        tokens, done = cand.tokens[pick], cand.done[pick]
        count = count + cand.count.reshape(b, k).sum(axis=1)
        blocks += 1
    bound = blocks * best_of_n_bound(k)
    return Sampled(tokens, done, jnp.zeros(b), count), bound


def _best_of_n_results(task, size, nets, settings, bc_sampled, key) -> list[SeedResult]:
    """Best-of-n from a pool of BC samples per prompt, with the true checker and with the
    learned outcome reward model (the value model read at the walk's end)."""
    starts = task.prompts
    pool_prompts = jnp.asarray(np.repeat(starts, settings.pool, axis=0))
    pool_key, pick_key = jax.random.split(key)
    pool = sample_walks("lm", size, {"policy": nets.bc}, 0.0, pool_prompts, pool_key)
    tokens, opt, succ = _scored(task, pool)
    count = np.asarray(pool.count)
    shape = (len(starts), settings.pool)
    opt, succ, count = opt.reshape(shape), succ.reshape(shape), count.reshape(shape)
    scorers = {"true": opt}
    if nets.value is not None:
        scorers["learned"] = np.asarray(outcome_scores(size, nets.value, pool.tokens)).reshape(
            shape
        )
    # p per prompt from the independent BC samples
    _, _, bc_succ = _scored(task, bc_sampled)
    p = bc_succ.reshape(len(starts), -1).mean(axis=1)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(pick_key)).ravel())
    out = []
    for checker, score in scorers.items():
        for n in settings.best_of:
            picks = rng.integers(0, settings.pool, size=(len(starts), settings.samples, n))
            s = np.take_along_axis(score[:, None, :], picks.reshape(len(starts), 1, -1), 2)
            s = s.reshape(picks.shape)
            best = np.take_along_axis(picks, s.argmax(axis=2)[..., None], 2)[..., 0]
            rows = np.arange(len(starts))[:, None]
            kl = np.mean([best_of_n_kl(score[i], n) for i in range(len(starts))])
            spent = np.take_along_axis(count[:, None, :], picks.reshape(len(starts), 1, -1), 2)
            predicted = float(best_of_n_success(p, n).mean()) if checker == "true" else None
            out.append(SeedResult(
                "best-of-n", f"n={n}, checker={checker}", float(opt[rows, best].mean()),
                float(succ[rows, best].mean()), float(kl),
                float(spent.reshape(picks.shape).sum(axis=2).mean()), None, None, predicted,
            ))  # fmt: skip
    return out
