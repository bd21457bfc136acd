"""A real peer trains on a qlearn world: Stable-Baselines3's DQN on qlearn/classic-v0."""

import gymnasium as gym
import numpy as np
import pytest

import qlearn

torch = pytest.importorskip("torch", reason="the dev extra installs torch 2.13.0")
sb3 = pytest.importorskip("stable_baselines3")


@pytest.mark.slow
def test_sb3_dqn_learns_an_optimal_greedy_policy_on_classic():
    torch.set_num_threads(1)  # tiny networks: threads only contend with the other worker
    env = gym.make("qlearn/classic-v0")
    mdp = env.unwrapped.mdp
    model = sb3.DQN(
        "MlpPolicy", env, learning_rate=1e-3, buffer_size=20_000, learning_starts=500,
        batch_size=64, gamma=mdp.gamma, target_update_interval=250, train_freq=4,
        gradient_steps=1, exploration_fraction=0.5, exploration_final_eps=0.1,
        policy_kwargs={"net_arch": [64, 64]}, seed=0, verbose=0,
    )  # fmt: skip
    model.learn(total_timesteps=15_000)
    with torch.no_grad():  # SB3 one-hot encodes the Discrete observation itself
        q = model.q_net(torch.arange(mdp.n_states)).numpy()
    exact = qlearn.solve(mdp)
    for s in np.flatnonzero(~mdp.terminal):
        greedy = int(q[s].argmax())
        assert exact.policy[s, greedy], f"{mdp.state_names[s]}: {mdp.action_names[greedy]}"
    live = ~mdp.terminal
    assert np.abs(q[live] - exact.q[live]).max() < 0.05
