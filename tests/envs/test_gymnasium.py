"""qlearn's worlds as registered Gymnasium environments, and parity with the compiled loop."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import qlearn
from qlearn.core.rng import seed_state
from qlearn.envs.kernels import sample_start, sample_step, world_arrays

WORLDS = ["classic", "cliff", "frozenlake4x4", "frozenlake8x8", "maxbias", "detour"]


@pytest.mark.parametrize("name", WORLDS)
def test_every_world_is_registered_and_passes_the_env_checker(name):
    env = gym.make(f"qlearn/{name}-v0")
    check_env(env.unwrapped, skip_render_check=False)
    assert env.spec.max_episode_steps == qlearn.load_world(name).max_steps
    assert env.unwrapped.mdp.name == name


@pytest.mark.parametrize("name", WORLDS)
def test_p_is_the_mdp_in_toy_text_format(name):
    env = gym.make(f"qlearn/{name}-v0").unwrapped
    mdp = env.mdp
    for s, by_action in env.P.items():
        for a, outcomes in by_action.items():
            assert sum(p for p, *_ in outcomes) == pytest.approx(1.0)
            for p, nxt, reward, done in outcomes:
                assert p == mdp.P[s, a, nxt] and reward == mdp.R[s, a, nxt]
                assert done == bool(mdp.terminal[nxt])


def test_toy_text_p_round_trips_through_the_importer():
    env = gym.make("qlearn/frozenlake8x8-v0")
    from qlearn.envs.finite import mdp_from_toy_text

    again = mdp_from_toy_text(env, "again", 0.99)
    np.testing.assert_array_equal(again.P, env.unwrapped.mdp.P)
    np.testing.assert_allclose(qlearn.solve(again).q, qlearn.solve("frozenlake8x8").q, atol=1e-12)


def test_a_user_map_through_grid_v0_from_text_and_from_a_file(tmp_path):
    env = gym.make("qlearn/grid-v0", map="S.G\n.#.", gamma=0.5)
    assert env.unwrapped.mdp.n_states == 5 and env.unwrapped.mdp.gamma == 0.5
    path = tmp_path / "m.txt"
    path.write_text("S..G\n")
    env = gym.make("qlearn/grid-v0", map=str(path))
    check_env(env.unwrapped)
    with pytest.raises(qlearn.QlearnError, match="unknown map character"):
        gym.make("qlearn/grid-v0", map="S.Z")


def test_render_ansi_and_rgb_array():
    env = gym.make("qlearn/classic-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "...D\n.#.P\nA...\n"
    env = gym.make("qlearn/cliff-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (4 * 48, 12 * 48, 3) and frame.dtype == np.uint8
    # The agent's disc is dark, at the centre of the start cell (bottom left).
    assert frame[3 * 48 + 24, 24].tolist() == [20, 20, 20]


@pytest.mark.parametrize("name", ["frozenlake8x8", "maxbias", "cliff"])
def test_gymnasium_steps_equal_the_compiled_sampler_from_the_same_seed(name):
    """Same seed, same start, same actions: identical transitions in both."""
    env = gym.make(f"qlearn/{name}-v0").unwrapped
    world = world_arrays(env.mdp)
    actions = np.random.default_rng(1).integers(0, env.mdp.n_actions, size=400)
    for seed in range(5):
        s, _ = env.reset(seed=seed)
        rng = seed_state(seed)
        assert s == sample_start(world, rng)
        for a in actions:
            s_gym, r_gym, done, _, _ = env.step(int(a))
            s_loop, r_loop = sample_step(world, s, int(a), rng)
            assert (s_gym, r_gym) == (s_loop, r_loop)
            s = s_gym
            if done:  # reset without a seed continues the same stream
                s, _ = env.reset()
                assert s == sample_start(world, rng)


def test_sampled_transitions_follow_p():
    """On slippery ice each of three outcomes has probability 1/3 (5 standard errors)."""
    env = gym.make("qlearn/frozenlake4x4-v0").unwrapped
    mdp = env.mdp
    s0, a = mdp.state_index("(3,2)"), mdp.action_index("N")
    n = 30_000
    counts = np.zeros(mdp.n_states)
    env.reset(seed=0)
    for _ in range(n):
        env.s = s0
        nxt, *_ = env.step(a)
        counts[nxt] += 1
    se = np.sqrt(mdp.P[s0, a] * (1 - mdp.P[s0, a]) / n)
    assert np.all(np.abs(counts / n - mdp.P[s0, a]) <= 5 * se + 1e-12)


def test_maxbias_rewards_are_drawn_from_the_worlds_normal():
    env = gym.make("qlearn/maxbias-v0").unwrapped
    rewards = []
    for seed in range(3000):
        env.reset(seed=seed)
        env.step(0)  # left: A -> B
        _, r, done, _, _ = env.step(3)
        assert done
        rewards.append(r)
    rewards = np.array(rewards)
    assert abs(rewards.mean() + 0.1) < 5 / np.sqrt(rewards.size)
    assert abs(rewards.std() - 1.0) < 0.05
