"""Beyond Rainbow end to end: distributional heads, noisy layers, Munchausen, corrected
n-step targets and PQN learn the exact answers of small worlds; bad options are
refused in one line; --rainbow is written out in the run's config.yaml."""

import json

import numpy as np
import pytest
import yaml
from conftest import run_cli, run_json

from qlearn.configs.dqn_config import RAINBOW, tuned_defaults
from qlearn.core.errors import QlearnError
from qlearn.deep.train import resolve_config, train
from qlearn.judge import judge

SHORT = {"steps": 6000, "learning_starts": 200, "seeds": 2}


def gaps(run) -> list[float]:
    """max |Q - Q*| of each seed's network (non-terminal states, legal actions)."""
    return [judge(run.target.mdp, run.solution, q).gap for q in run.q_per_seed]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"distributional": "c51", "atoms": 1}, "atoms must be at least 2"),
        ({"distributional": "c51", "v_min": 5.0, "v_max": 5.0}, "v_min (5) must be below v_max"),
        ({"distributional": "qr", "quantiles": 0}, "quantiles must be at least 1"),
        ({"n_step_correction": "retrace", "lam": 1.5}, "lambda must be in [0, 1]"),
        ({"noisy": True, "final_eps": 0.2}, "makes no sense with --noisy"),
        ({"distributional": "c52"}, "choose c51 or qr"),
        ({"algo": "pqn", "per": True}, "--algo pqn has no replay"),
        ({"distributional": "qr", "n_step_correction": "peng"}, "plain value head"),
    ],
)
def test_bad_options_are_refused_with_what_to_do(options, words):
    with pytest.raises(QlearnError, match=None) as caught:
        resolve_config({"world": "classic", **options})
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_the_command_line_refuses_them_in_one_line_with_exit_2():
    proc = run_cli("train", "classic", "--algo", "dqn", "--n-step-correction", "peng",
                   "--lambda", "2")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "lambda must be in [0, 1], got 2" in proc.stderr


def test_rainbow_is_the_preset_written_out_and_flags_still_win():
    cfg = resolve_config({"world": "CartPole-v1", "rainbow": True, "n_step": 5})
    assert cfg.double and cfg.dueling and cfg.per and cfg.noisy and cfg.rainbow
    assert cfg.distributional == "c51" and cfg.n_step == 5  # the flag given wins
    assert (cfg.v_min, cfg.v_max) == (0.0, 100.0)  # the support is written out
    saved = cfg.to_dict()
    assert {k: saved[k] for k in RAINBOW if k != "n_step"} == {
        k: v for k, v in RAINBOW.items() if k != "n_step"
    }


def test_noisy_layers_explore_alone_unless_epsilon_is_given_or_tuned_for_rainbow():
    noisy = resolve_config({"world": "CartPole-v1", "noisy": True})
    assert (noisy.start_eps, noisy.final_eps, noisy.steps) == (0.0, 0.0, 50_000)
    given = resolve_config({"world": "CartPole-v1", "noisy": True, "start_eps": 0.3})
    assert (given.start_eps, given.final_eps) == (0.3, 0.0)
    # Rainbow's own CartPole settings keep the DQN defaults' epsilon-greedy schedule
    # (the noise alone solved half the seeds) and stop sooner; flags still win
    rainbow = resolve_config({"world": "CartPole-v1", "rainbow": True})
    assert (rainbow.start_eps, rainbow.final_eps, rainbow.steps) == (1.0, 0.04, 40_000)
    assert rainbow.lr == noisy.lr and rainbow.gradient_steps == noisy.gradient_steps
    mine = resolve_config({"world": "CartPole-v1", "rainbow": True, "final_eps": 0.0})
    assert (mine.start_eps, mine.final_eps) == (1.0, 0.0)
    acrobot = resolve_config({"world": "Acrobot-v1", "rainbow": True})  # nothing tuned
    assert (acrobot.start_eps, acrobot.final_eps, acrobot.steps) == (0.0, 0.0, 100_000)


def test_qr_dqn_on_cartpole_learns_from_two_step_returns_unless_told_otherwise():
    options = {"world": "CartPole-v1"}
    assert resolve_config({**options, "distributional": "qr"}).n_step == 2
    assert resolve_config({**options, "distributional": "qr", "n_step": 1}).n_step == 1
    assert resolve_config({**options, "distributional": "c51"}).n_step == 1
    assert resolve_config(options).n_step == 1
    assert resolve_config({**options, "rainbow": True, "distributional": "qr"}).n_step == 3


def test_what_is_tuned_for_a_variant_never_undoes_the_variant():
    table = tuned_defaults()
    defining = {"rainbow": {*RAINBOW, "algo"}, "c51": {"distributional", "rainbow", "algo"}}
    defining["qr"] = defining["c51"]
    for variant, keys in defining.items():
        for settings in table.get(variant, {}).values():
            assert not set(settings) & keys, (variant, settings)


@pytest.mark.slow
def test_c51_and_qr_means_on_classic_end_within_0_05_of_q_star():
    for head in ("c51", "qr"):
        run = train("classic", distributional=head, **SHORT)
        assert run.config.distributional == head
        assert np.mean(gaps(run)) < 0.05, (head, gaps(run))
        assert (run.final_eval.mean(axis=1) == 1.0).all()


@pytest.mark.slow
def test_retrace_removes_the_n_step_bias_on_classic():
    """The README caveat: 3-step targets without correction end about 1 from Q*."""
    plain = train("classic", n_step=3, **SHORT)
    retrace = train("classic", n_step=3, n_step_correction="retrace", **SHORT)
    assert min(gaps(plain)) > 0.3, gaps(plain)
    assert max(gaps(retrace)) < 0.05, gaps(retrace)


@pytest.mark.slow
def test_noisy_munchausen_and_pqn_train_classic_to_the_diamond():
    for options in ({"noisy": True, **SHORT}, {"munchausen": True, **SHORT}, {"algo": "pqn"}):
        run = train("classic", **{"seeds": 2, **options})
        assert (run.final_eval.mean(axis=1) == 1.0).all(), options
    # PQN: no target network, 16 environments, Q(0.65) returns; its defaults for finite
    # worlds (20k steps) reach the diamond, its values stay about 1 from Q* (lambda
    # returns of the exploring policy)
    assert run.config.algo == "pqn" and run.config.num_envs == 16
    assert run.config.start_eps == 1.0


@pytest.mark.slow
def test_c51_on_slippery_frozenlake_learns_the_exact_start_distribution(tmp_path):
    """The learnt CDF of the return from the start within W1 0.15 of the exact one of the
    network's own greedy policy (20k steps, the defaults); distribution.png drawn."""
    out = tmp_path / "fl"
    data = run_json(
        "train", "frozenlake4x4", "--algo", "dqn", "--distributional", "c51", "--seeds", "2",
        "--out", str(out),
    )  # fmt: skip
    dist = data["start_distribution"]
    atoms = np.load(out / dist["atoms_file"])  # the atoms are there, not in the summary
    for p, entry in zip(data["per_seed"], dist["per_seed"], strict=True):
        exact = atoms[f"exact_values_{p['seed']}"], atoms[f"exact_probs_{p['seed']}"]
        assert entry["exact"] and entry["exact_atoms"] == exact[0].size > 1
        assert (
            abs(exact[1].sum() - 1) < 1e-9 and abs(exact[0] @ exact[1] - entry["exact_mean"]) < 1e-9
        )
        learned = atoms[f"learned_values_{p['seed']}"], atoms[f"learned_probs_{p['seed']}"]
        assert abs(learned[0] @ learned[1] - entry["learned_mean"]) < 1e-9
        assert p["start_w1"] < 0.15 and p["start_cramer"] < 0.2, p
        assert abs(entry["learned_mean"] - entry["exact_mean"]) < 0.15
    assert (out / "distribution.png").read_bytes()[:4] == b"\x89PNG"
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["distributional"] == "c51" and (saved["v_min"], saved["v_max"]) == (0.0, 1.0)
    assert json.loads((out / "summary.json").read_text())["variant"] == "c51(51) dqn"
