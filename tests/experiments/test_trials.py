"""Trials: per-seed metrics a user can check against the run, and capped greedy returns."""

import numpy as np
import pytest

from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError
from qlearn.envs.registry import load_world
from qlearn.exact import deterministic, solve
from qlearn.experiments.trials import (
    TrialResult,
    TrialSpec,
    check_metric,
    parse_metric,
    run_trial,
)
from qlearn.judge import capped_return
from qlearn.tabular.train import run_config


def test_capped_return_by_hand_on_cliff():
    mdp = load_world("cliff")
    west = mdp.action_names.index("W")
    # Always W from the start: bumps the border forever at -1 a step.
    always_west = deterministic(np.full(mdp.n_states, west), mdp.n_actions)
    assert capped_return(mdp, always_west, 1000) == -1000.0
    assert capped_return(mdp, always_west, 7) == -7.0
    # The optimal path: N, 11 x E, S = 13 steps at -1 (the goal's step costs -1 too).
    optimal = solve(mdp).policy.astype(float)
    optimal /= optimal.sum(axis=1, keepdims=True)
    assert capped_return(mdp, np.nan_to_num(optimal), 1000) == pytest.approx(-13.0)
    assert capped_return(mdp, np.nan_to_num(optimal), 5) == pytest.approx(-5.0)


def test_tabular_trial_reports_what_the_run_holds():
    options = {"world": "cliff", "episodes": 60, "epsilon": "0.1", "algo": "sarsa"}
    result = run_trial(TrialSpec(3, options, seeds=4, seed=10, metric="mean_return_last_20"))
    run = run_config(TabularConfig(**options, seeds=4, seed=10))
    assert result.config_id == 3 and result.seeds == [10, 11, 12, 13]
    assert list(result.values)[0] == "mean_return_last_20"
    assert result.values["mean_return_last_20"] == run.arrays.returns[:, -20:].mean(1).tolist()
    assert result.values["mean_return"] == run.arrays.returns.mean(1).tolist()
    assert result.values["final_gap"] == run.arrays.gaps[:, -1].tolist()
    assert result.values["env_steps"] == run.arrays.steps.tolist()
    assert result.curve_unit == "episode" and result.curve_mean == run.curve.tolist()
    se = run.arrays.returns.std(axis=0, ddof=1) / 2
    assert np.allclose(result.curve_se, se)
    # plain data: it survives JSON (how Ray carries it) exactly
    assert TrialResult.from_json(result.to_json()) == result


def test_greedy_policies_that_never_finish_score_the_capped_episode():
    # After 3 episodes on cliff every seed's greedy policy still loops somewhere safe.
    options = {"world": "cliff", "episodes": 3, "epsilon": "0.1"}
    result = run_trial(TrialSpec(0, options, seeds=4, seed=0, metric="greedy_return"))
    run = run_config(TabularConfig(**options, seeds=4))
    assert all(r.undiscounted is None for r in run.greedy_returns)
    assert result.values["greedy_finishes"] == [0, 0, 0, 0]
    assert result.values["greedy_return"] == [-1000.0] * 4  # 1000 capped steps at -1


def test_greedy_return_of_finishing_policies_is_the_exact_one():
    options = {"world": "classic", "episodes": 300, "epsilon": "0.2"}
    result = run_trial(TrialSpec(0, options, seeds=3, seed=0, metric="greedy_return"))
    run = run_config(TabularConfig(**options, seeds=3))
    assert result.values["greedy_return"] == [r.undiscounted for r in run.greedy_returns]
    assert result.values["greedy_finishes"] == [1, 1, 1]


def test_metric_names():
    assert parse_metric("mean_return_last_100").window == 100
    assert parse_metric("final_gap").goal == "min"
    with pytest.raises(QlearnError, match="unknown metric 'mean_return_last_N'"):
        parse_metric("mean_return_last_N")


def test_dqn_trial_reports_what_the_run_holds():
    from qlearn.deep.train import resolve_config, run

    options = {"world": "classic", "algo": "dqn", "steps": 1500, "learning_starts": 200}
    trial = TrialSpec(2, options, seeds=2, seed=5, metric="mean_return_last_10")
    result = run_trial(trial)
    dqn = run(resolve_config({**options, "seeds": 2, "seed": 5}))
    assert result.config_id == 2 and result.seeds == [5, 6]
    assert list(result.values)[0] == "mean_return_last_10"
    returns = [dqn.episodes[dqn.episodes.seed == s]["return"].to_numpy() for s in (5, 6)]
    assert result.values["mean_return_last_10"] == [r[-10:].mean() for r in returns]
    assert result.values["mean_return"] == [r.mean() for r in returns]
    assert result.values["train_episodes"] == [len(r) for r in returns]
    assert result.values["eval_return"] == dqn.final_eval.mean(axis=1).tolist()
    assert result.values["best_eval_return"] == dqn.best_eval[0].tolist()
    assert result.values["env_steps"] == [1500, 1500]
    # exact numbers on a finite world, as the tabular trials judge a table
    mdp, sol = dqn.target.mdp, dqn.solution
    live = ~mdp.terminal[:, None] & mdp.legal
    gaps = [np.abs(q - sol.q)[live].max() for q in dqn.q_per_seed]
    assert result.values["final_gap"] == pytest.approx(gaps)
    assert result.curve_unit == "evaluation" and result.curve_mean == dqn.curve.tolist()
    assert result.curve_steps == dqn.eval_steps.tolist()
    se = dqn.eval_returns.mean(axis=2).std(axis=0, ddof=1) / np.sqrt(2)
    assert np.allclose(result.curve_se, se)
    assert TrialResult.from_json(result.to_json()) == result


def test_dqn_metrics_need_what_the_configuration_has():
    from qlearn.deep.train import resolve_config

    cartpole = resolve_config({"world": "CartPole-v1", "steps": 1000})
    for name in ["final_gap", "optimal_share", "greedy_return"]:
        with pytest.raises(QlearnError, match=f"{name} needs the exact solution"):
            check_metric(parse_metric(name), cartpole)
    check_metric(parse_metric("eval_return"), cartpole)
    with pytest.raises(QlearnError, match="DQN's greedy evaluations"):
        check_metric(parse_metric("best_eval_return"), TabularConfig())
