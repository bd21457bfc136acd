"""Tianshou 2.0.1's DQN on Gymnasium's CartPole-v1 with the RL Zoo settings of
``dqn_vs_sb3.py`` (its ``ZOO``), one seed; prints one JSON line:
``{"seconds": training wall-clock, "steps": env steps done, "returns": [10 greedy
episode returns]}``, the returns from ``dqn_vs_sb3.evaluate_policy``.

Tianshou 2.0.1 needs pandas<3 and qlearn pins pandas 3, so this runs in its own venv
(``dqn_vs_sb3.py --tianshou`` makes ``.venv-tianshou`` and calls this once per seed).
It imports ``ZOO`` and ``evaluate_policy`` from ``dqn_vs_sb3.py`` beside it, whose top
level imports nothing but the standard library.

The pieces are Tianshou's own: ``Net`` (256x256 ReLU MLP), ``DiscreteQLearningPolicy``
(epsilon-greedy), ``DQN`` (``is_double=False``, Huber loss with delta 1 = SB3's smooth
L1), Adam, a ``VectorReplayBuffer`` of 100,000 fed by a ``Collector`` over one env, and
the ``OffPolicyTrainer`` collecting 256 env steps and then taking 0.5 x 256 = 128
gradient steps of batch 64, no test episodes while training (SB3 runs none either);
torch on the CPU with its default threads. Where Tianshou differs from the zoo (SB3):

- Target network: SB3 copies it every 10 *env* steps, but takes no gradient step while
  it collects 256, so each phase of 128 gradient steps starts from a fresh copy and
  keeps it. Tianshou counts its ``target_update_freq`` in *gradient* steps; 128 gives
  the same copies, except that Tianshou computes a batch's targets before it copies,
  so the first of each phase's 128 steps still uses the previous phase's copy.
- Learning starts: Tianshou's trainer has no ``learning_starts``; as SB3 does, the
  first 1,000 steps act uniformly at random (``collect(random=True)``, timed, counted
  in the steps), then the trainer collects the rest in 256-step phases without
  resetting the episode in progress. SB3 trains after each 256 steps from step 1,024;
  here from 1,256 (1,000 + 256): 50,000 steps give 50,152 env steps and 192 x 128 =
  24,576 gradient steps, against SB3's 50,176 and 193 x 128 = 24,704.
- Epsilon: Tianshou has no schedule; a step hook on the collector sets
  ``eps_training`` after every env step from SB3's linear schedule (1 -> 0.04 over the
  first 16% of ``--steps``, counted from the first random step).
- Gradient clipping: ``DQN`` takes no ``max_grad_norm``; the subclass below passes 10
  to Tianshou's own optimizer wrapper through its ``_create_policy_optimizer`` hook.
- Every target is computed by Tianshou with an extra forward pass of the online net
  on the next observations (it needs it for double DQN, and does it for plain DQN
  too): that is the library's cost, kept.
- Tianshou 2.0.1 draws its "Offpolicy gradient update" progress bar on stderr despite
  ``show_progress=False`` (its trainer passes its own ``disable=``); left as it is, and
  ``dqn_vs_sb3.py`` captures stderr.

    .venv-tianshou/bin/python bench/tianshou_dqn.py [--seed 0] [--steps 50000]
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
from dqn_vs_sb3 import ZOO, evaluate_policy
from tianshou.algorithm import DQN
from tianshou.algorithm.algorithm_base import Algorithm
from tianshou.algorithm.modelfree.dqn import DiscreteQLearningPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory, OptimizerFactory
from tianshou.data import Collector, CollectStats, VectorReplayBuffer
from tianshou.env import DummyVectorEnv
from tianshou.trainer import OffPolicyTrainerParams
from tianshou.utils.net.common import Net


class ClippedDQN(DQN):
    """Tianshou's DQN with the gradient norm clipped at ``ZOO["max_grad_norm"]``."""

    def _create_policy_optimizer(self, optim: OptimizerFactory) -> Algorithm.Optimizer:
        return self._create_optimizer(self.policy, optim, max_grad_norm=ZOO["max_grad_norm"])


def epsilon(step: int, steps: int) -> float:
    """SB3's linear exploration schedule after ``step`` of ``steps`` env steps."""
    progress = min(step / (ZOO["exploration_fraction"] * steps), 1.0)
    return 1.0 + progress * (ZOO["final_eps"] - 1.0)


def target_update_gradient_steps() -> int:
    """The zoo's target update (in env steps) as gradient steps, as SB3's copies act.

    No gradient step happens between SB3's copies while it collects, so a copy takes
    effect at the start of a training phase: every phase when the interval is at most
    ``train_freq``, every k-th phase when it is about k times that.
    """
    phases = max(1, round(ZOO["target_update"] / ZOO["train_freq"]))
    return phases * ZOO["gradient_steps"]


def train_seed(seed: int, steps: int) -> dict:
    """Train one seed for about ``steps`` env steps; the JSON line's fields."""
    if ZOO["dueling"] or ZOO["lr_end"] is not None or ZOO["loss"] != "huber":
        raise SystemExit("tianshou_dqn.py maps plain DQN with Huber loss and a fixed lr only")
    if steps <= ZOO["learning_starts"]:
        raise SystemExit(f"--steps must exceed learning_starts ({ZOO['learning_starts']})")
    np.random.seed(seed)  # Tianshou's epsilon-greedy and replay sampling use np.random
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    envs = DummyVectorEnv([lambda: gym.make("CartPole-v1")])
    envs.seed(seed)  # the env's reset and its action space's sampler

    net = Net(state_shape=env.observation_space.shape, action_shape=int(env.action_space.n),
              hidden_sizes=ZOO["net"])  # fmt: skip
    policy = DiscreteQLearningPolicy(model=net, action_space=env.action_space,
                                     observation_space=env.observation_space,
                                     eps_training=1.0, eps_inference=0.0)  # fmt: skip
    algorithm = ClippedDQN(policy=policy, optim=AdamOptimizerFactory(lr=ZOO["lr"]),
                           gamma=ZOO["gamma"], n_step_return_horizon=1,
                           target_update_freq=target_update_gradient_steps(),
                           is_double=ZOO["double"], huber_loss_delta=1.0)  # fmt: skip

    done_steps = 0

    def anneal(_action_batch, _rollout_batch) -> None:
        nonlocal done_steps
        done_steps += 1
        policy.set_eps_training(epsilon(done_steps, steps))

    collector = Collector[CollectStats](
        algorithm, envs, VectorReplayBuffer(ZOO["buffer_size"], 1),
        exploration_noise=True, on_step_hook=anneal,
    )  # fmt: skip
    params = OffPolicyTrainerParams(
        training_collector=collector, max_epochs=1,
        epoch_num_steps=steps - ZOO["learning_starts"],
        collection_step_num_env_steps=ZOO["train_freq"],
        update_step_num_gradient_steps_per_sample=ZOO["gradient_steps"] / ZOO["train_freq"],
        batch_size=ZOO["batch_size"], verbose=False, show_progress=False,
    )  # fmt: skip
    trainer = algorithm.create_trainer(params)

    began = time.perf_counter()
    collector.reset()
    collector.collect(n_step=ZOO["learning_starts"], random=True)
    trainer.run(reset_collectors=False)  # carry on the episode the random steps began
    seconds = time.perf_counter() - began

    with torch.no_grad():
        returns = evaluate_policy(lambda o: int(policy.compute_action(o)), seed)
    return {"seconds": seconds, "steps": collector.collect_step, "returns": returns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50_000)
    args = parser.parse_args()
    print(json.dumps(train_seed(args.seed, args.steps)))


if __name__ == "__main__":
    main()
