"""``qlearn eval RUN``: evaluate a saved run's policy on fresh, seeded episodes.

DQN runs are evaluated with the trainer's own evaluation (compiled or host loop) on
the final parameters in ``params.npz``, or, for a run that has not finished, on the
online parameters of its last checkpoint. Tabular runs act greedily on each seed's
saved table in the world's Gymnasium environment, and also report the exact expected
return of that greedy policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qlearn.core.errors import QlearnError
from qlearn.runs.folder import load_npz, read_config, read_summary

#: Seeds evaluation episodes away from those of training's own evaluations.
EVAL_INDEX_OFFSET = 1_000_000


def evaluate_run(
    run_dir: Path,
    episodes: int | None = None,
    epsilon: float | None = None,
    seed: int = 0,
    best: bool = False,
) -> dict[str, Any]:
    """Per-seed returns of ``episodes`` fresh episodes (seeded by ``seed``); ``best``
    evaluates a DQN run's best-evaluated parameters instead of its final ones."""
    run_dir = Path(run_dir)
    if episodes is not None and episodes < 1:
        raise QlearnError(f"--episodes must be at least 1, got {episodes}")
    if epsilon is not None and not 0.0 <= epsilon <= 1.0:
        raise QlearnError(f"--epsilon must be in [0, 1], got {epsilon}")
    if seed < 0:
        raise QlearnError(f"--seed must be at least 0, got {seed}")
    kind = read_config(run_dir).get("kind")
    if kind == "dqn":
        return _evaluate_dqn(run_dir, episodes, epsilon, seed, best)
    if best:
        raise QlearnError("--best applies to DQN runs (a tabular run keeps its final tables)")
    if kind == "tabular":
        return _evaluate_tabular(run_dir, episodes or 10, epsilon or 0.0, seed)
    raise QlearnError(f"{run_dir} holds a {kind!r} run; qlearn eval takes train run folders")


def _dqn_params(run_dir: Path, cfg, backend, best: bool) -> tuple[Any, str]:
    from qlearn.deep.flat import unflatten

    name = "best.npz" if best else "params.npz"
    finished = (run_dir / "summary.json").exists()
    if finished and (run_dir / name).exists():
        read_summary(run_dir)  # a damaged summary means a damaged folder
        arrays = load_npz(run_dir / name, use="qlearn eval cannot use these parameters")
        source = "best-evaluated parameters" if best else "final parameters"
        template = backend.params_template()
        return unflatten(template, arrays, str(run_dir / name), "online/"), source
    if best:
        raise QlearnError(f"{run_dir} has no best.npz; it is not a finished DQN run")
    if (run_dir / "checkpoint.npz").exists():
        from qlearn.runs.job import load_dqn_checkpoint

        state, history, _ = load_dqn_checkpoint(run_dir, cfg, backend)
        step = int(history.arrays["eval_step"][-1]) if len(history.arrays["eval_step"]) else 0
        return backend.online_params(state), f"checkpoint after {step:,} steps"
    if not finished:
        raise QlearnError(
            f"{run_dir} is not a finished run (no summary.json) and has no checkpoint.npz "
            "to evaluate; train it again"
        )
    raise QlearnError(f"{run_dir} has neither params.npz nor checkpoint.npz to evaluate")


def _evaluate_dqn(run_dir: Path, episodes, epsilon, seed: int, best: bool) -> dict[str, Any]:
    from qlearn.deep.train import make_backend, resolve_target
    from qlearn.runs.folder import saved_config

    cfg = saved_config(run_dir, "dqn")
    cfg = cfg.replace(
        eval_episodes=episodes or cfg.eval_episodes,
        eval_epsilon=cfg.eval_epsilon if epsilon is None else epsilon,
    )
    target = resolve_target(cfg)
    backend = make_backend(cfg, target)
    params, source = _dqn_params(run_dir, cfg, backend, best)
    returns, lengths, _ = backend.evaluate(params, EVAL_INDEX_OFFSET + seed)
    return _result(run_dir, cfg.seed, np.asarray(returns), np.asarray(lengths), {
        "kind": "dqn", "world": target.name, "parameters": source,
        "epsilon": cfg.eval_epsilon, "episodes": cfg.eval_episodes, "eval_seed": seed,
    })  # fmt: skip


def _evaluate_tabular(run_dir: Path, episodes: int, epsilon: float, seed: int) -> dict[str, Any]:
    from qlearn.envs.finite import FiniteEnv
    from qlearn.exact import tie_policy
    from qlearn.judge import greedy_return
    from qlearn.runs.folder import saved_config
    from qlearn.tabular.train import world_of

    cfg = saved_config(run_dir, "tabular")
    if cfg.algo == "td0":
        raise QlearnError("td0 evaluates a fixed policy and learns none; nothing to evaluate")
    read_summary(run_dir)  # tables.npz is final only once summary.json is written
    path = run_dir / "tables.npz"
    if not path.exists():
        raise QlearnError(f"{run_dir} has no tables.npz; it is not a finished run")
    tables = load_npz(path, ("q",), use="qlearn eval cannot use these tables")
    mdp = world_of(cfg)
    if tables["q"].shape != (cfg.seeds, mdp.n_states, mdp.n_actions):
        raise QlearnError(
            f"{path.name} does not fit config.yaml ({cfg.seeds} seeds on {mdp.name}); one of "
            f"them is damaged ({path})"
        )
    rng = np.random.default_rng([seed, 7])
    env = FiniteEnv(mdp)
    horizon = cfg.max_steps or mdp.max_steps
    returns = np.zeros((cfg.seeds, episodes))
    lengths = np.zeros((cfg.seeds, episodes), np.int64)
    exact = []
    for k, q in enumerate(tables["q"]):
        policy = tie_policy(q, mdp.legal)
        exact.append(greedy_return(mdp, q, mdp.gamma).undiscounted)
        behaviour = (1 - epsilon) * policy + epsilon * mdp.legal / mdp.legal.sum(1, keepdims=True)
        for j in range(episodes):
            s, _ = env.reset(seed=int(rng.integers(2**31)))
            for t in range(horizon):
                a = int(rng.choice(mdp.n_actions, p=behaviour[s]))
                s, r, term, _, _ = env.step(a)
                returns[k, j] += r
                lengths[k, j] = t + 1
                if term:
                    break
    out = _result(run_dir, cfg.seed, returns, lengths, {
        "kind": "tabular", "world": mdp.name, "parameters": "final tables",
        "epsilon": epsilon, "episodes": episodes, "eval_seed": seed,
    })  # fmt: skip
    for entry, value in zip(out["per_seed"], exact, strict=True):
        entry["exact_greedy_return"] = value
    return out


def _result(run_dir, first_seed, returns, lengths, head: dict[str, Any]) -> dict[str, Any]:
    per_seed = [
        {
            "seed": first_seed + k,
            "eval_mean": float(returns[k].mean()),
            "eval_std": float(returns[k].std()),
            "mean_length": float(lengths[k].mean()),
        }
        for k in range(returns.shape[0])
    ]
    return {
        "run_dir": str(run_dir),
        **head,
        "eval_mean": float(returns.mean()),
        "per_seed": per_seed,
        "returns": returns.tolist(),
    }
