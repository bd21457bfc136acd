"""DQN learns what the exact solver knows, is deterministic per seed, and masks actions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import qlearn
from qlearn.deep.functional_envs import finite_env
from qlearn.deep.train import resolve_config, run
from qlearn.deep.trainers import make_train

# A short classic run: the shipped settings for finite worlds, fewer steps.
CLASSIC = {"world": "classic", "steps": 12_000, "seeds": 2}


@pytest.fixture(scope="module")
def classic_run():
    return qlearn.train("classic", algo="dqn", steps=12_000, seeds=2)


def test_dqn_on_classic_is_optimal_everywhere_and_within_005_of_q_star(classic_run):
    run_ = classic_run
    mdp, sol = run_.target.mdp, run_.solution
    assert run_.config.gamma == 0.9  # the world's own discount
    decision = np.flatnonzero(~mdp.terminal)
    for q in run_.q_per_seed:
        legal = mdp.legal[decision]
        assert np.abs(q[decision] - sol.q[decision])[legal].max() < 0.05
        greedy = np.argmax(np.where(mdp.legal, q, -np.inf), axis=1)
        assert all(sol.policy[s, greedy[s]] for s in decision)
    assert run_.final_eval.mean() == pytest.approx(1.0)  # every greedy episode reaches +1


def test_same_seed_same_parameters_and_different_seeds_differ(classic_run):
    again = run(resolve_config(CLASSIC))
    for a, b in zip(
        jax.tree.leaves(classic_run.params), jax.tree.leaves(again.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    first = jax.tree.leaves(again.params)[0]
    assert not np.array_equal(first[0], first[1])


def test_initial_weights_differ_between_seeds():
    from qlearn.deep.trainers import make_trainer

    cfg = resolve_config({"world": "classic", "steps": 100})
    trainer = make_trainer(cfg, finite_env(qlearn.load_world("classic")))
    states = jax.vmap(trainer.init)(jnp.arange(2))
    w = jax.tree.leaves(states.learner.online)
    assert any(not np.array_equal(x[0], x[1]) for x in w)


def test_a_seed_gives_the_same_numbers_alone_and_among_others(classic_run):
    alone = run(resolve_config({**CLASSIC, "seeds": 1, "seed": 1}))
    for a, b in zip(
        jax.tree.leaves(alone.params), jax.tree.leaves(classic_run.params), strict=True
    ):
        np.testing.assert_array_equal(a[0], b[1])
    np.testing.assert_array_equal(alone.eval_returns[0], classic_run.eval_returns[1])


def test_make_train_is_one_pure_function_that_vmaps_over_seeds():
    cfg = resolve_config({"world": "classic", "steps": 2_000, "learning_starts": 200})
    train = jax.jit(jax.vmap(make_train(cfg, finite_env(qlearn.load_world("classic")))))
    final, outputs = train(jnp.arange(3))
    assert outputs.eval_return.shape == (3, 10, cfg.eval_episodes)
    again, _ = train(jnp.arange(3))
    for a, b in zip(jax.tree.leaves(final.learner), jax.tree.leaves(again.learner), strict=True):
        np.testing.assert_array_equal(a, b)


def test_masked_actions_are_never_taken_on_maxbias():
    # in A only left and right are legal; B's ten actions all are
    cfg = resolve_config({"world": "maxbias", "steps": 3_000, "learning_starts": 200})
    mdp = qlearn.load_world("maxbias")
    final, _ = jax.jit(make_train(cfg, finite_env(mdp)))(0)
    obs = np.asarray(final.replay.obs[:, 0])  # (rows, S) one-hot
    actions = np.asarray(final.replay.action[:, 0])
    written = int(final.replay.written)
    in_a = obs[:written, 0] == 1.0
    assert set(actions[:written][in_a].tolist()) == {0, 1}
    assert len(set(actions[:written][~in_a].tolist())) == 10
    run_ = run(cfg)
    assert np.isneginf(run_.q[0, 2:]).all() and np.isfinite(run_.q[0, :2]).all()


def test_double_dqn_overestimates_less_on_maxbias():
    # Maximization bias (Sutton & Barto, Example 6.7): the start A is truly worth 0 (go
    # right), but a max over B's ten noisy action values makes left look better. With
    # a small buffer, a fast learner and a target network that lags behind, DQN's value
    # of the start (max Q at the first observation, read at every evaluation) stays
    # above 0; Double DQN's, which values the online network's choice with the target
    # network, much less so.
    opts = {"world": "maxbias", "steps": 3_000, "seeds": 16, "lr": 0.01, "buffer_size": 300,
            "batch_size": 32, "learning_starts": 100, "target_update": 300,
            "exploration_fraction": 0.3, "final_eps": 0.1}  # fmt: skip
    true_value = qlearn.solve("maxbias").v[0]
    assert true_value == 0.0
    bias = {}
    for double in (False, True):
        values = run(resolve_config({**opts, "double": double})).start_values  # (seeds, evals)
        bias[double] = values.mean(axis=1) - true_value
    diff = bias[False] - bias[True]
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    assert bias[False].mean() > 0.1  # DQN is clearly optimistic about the start
    assert diff.mean() > 3 * se  # and Double DQN clearly less so, seed for seed


def test_every_variant_combines_with_parallel_environments():
    # Double + dueling + 2-step + prioritized replay + Polyak targets, 4 envs per seed
    opts = {"world": "classic", "steps": 12_000, "seeds": 2, "double": True, "dueling": True,
            "n_step": 2, "per": True, "tau": 0.05, "target_update": 4, "num_envs": 4}  # fmt: skip
    r = run(resolve_config(opts))
    assert r.env_steps == 12_000 and r.config.num_envs == 4
    assert r.final_eval.mean() == pytest.approx(1.0)  # every greedy episode reaches +1
    assert np.isfinite(r.q[~r.target.mdp.terminal][:, :]).all()
    assert len(r.episodes) > 1000


def test_gymnasium_host_loop_takes_parallel_environments_too():
    opts = {"world": "CartPole-v1", "backend": "gymnasium", "steps": 2048, "num_envs": 2,
            "eval_every": 2048, "eval_episodes": 2, "per": True, "n_step": 3}  # fmt: skip
    r = run(resolve_config(opts))
    assert r.env_steps == 2048 and (r.eval_returns >= 8).all()
    assert r.episodes.step.max() <= 2048


def test_production_training_gives_the_numbers_of_make_train():
    """The job runner drives the trainer a chunk at a time, one seed per CPU device; the
    same configuration as one pure ``make_train(cfg, env)(seed)`` gives the same numbers,
    bit for bit."""
    cfg = resolve_config({"world": "classic", "steps": 2_000, "learning_starts": 200, "seeds": 2})
    produced = run(cfg)
    train = jax.jit(make_train(cfg, finite_env(qlearn.load_world("classic"))))
    for k in range(cfg.seeds):
        _, outputs = train(cfg.seed + k)
        history = produced.history.arrays
        np.testing.assert_array_equal(history["eval_return"][k], outputs.eval_return)
        np.testing.assert_array_equal(history["loss"][k], np.ravel(outputs.loss))
