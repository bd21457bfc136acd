"""Which of train's options set which config: derived from the config dataclasses, and
the same as the lists the command line used to keep by hand."""

from typer.main import get_command

from qlearn.cli import app
from qlearn.cli.options import config_options, one_kind_options
from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.tabular_config import TabularConfig

TRAIN = get_command(app).commands["train"]

# The hand-kept lists of the single-module cli.py, as they were (and lam, traces since
# the tabular traces).
CONFIG_OPTIONS = (
    "world", "map_file", "algo", "episodes", "alpha", "gamma", "epsilon", "decay",
    "decay_unit", "explore", "temperature", "q_init", "seeds", "seed", "max_steps",
    "policy", "step_reward", "slip", "lam", "traces", "snapshots",
)  # fmt: skip
DQN_OPTIONS = (
    "world", "map_file", "algo", "double", "dueling", "n_step", "per", "per_alpha",
    "per_beta", "steps", "seeds", "seed", "num_envs", "lr", "lr_end", "batch_size",
    "buffer_size", "learning_starts", "target_update", "tau", "train_freq", "gradient_steps",
    "exploration_fraction", "start_eps", "final_eps", "net", "loss", "max_grad_norm", "gamma",
    "eval_every", "eval_episodes", "eval_epsilon", "max_steps", "backend", "distributional",
    "atoms", "v_min", "v_max", "quantiles", "noisy", "munchausen", "rainbow",
    "n_step_correction", "lam",
)  # fmt: skip
TABULAR_ONLY = sorted(set(CONFIG_OPTIONS) - set(DQN_OPTIONS)) + ["from_log", "passes"]
DQN_ONLY = sorted(set(DQN_OPTIONS) - set(CONFIG_OPTIONS))


def test_the_option_lists_derived_from_the_configs_are_the_hand_kept_ones():
    assert set(config_options(TRAIN, TabularConfig)) == set(CONFIG_OPTIONS)
    assert set(config_options(TRAIN, DQNConfig)) == set(DQN_OPTIONS)
    only = one_kind_options(TRAIN)
    assert only == {"tabular": TABULAR_ONLY, "dqn": DQN_ONLY}


def test_tabular_options_come_in_the_order_of_train_help():
    assert config_options(TRAIN, TabularConfig) == CONFIG_OPTIONS
