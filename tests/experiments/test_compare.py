"""Comparisons reproduce the textbook results within their statistical error.

Every tolerance below is a multiple of a standard error computed from the seeds
(independent runs), never a fixed slack: a z of 5 or more is a claim that holds with
overwhelming probability if the textbook is right, and fails if it is not.
"""

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.core.stats import mean_se, window_means
from qlearn.experiments.compare import compare, comparison_summary, parse_window
from qlearn.viz.grid_figures import greedy_path


@pytest.fixture(scope="module")
def cliff():
    """Sutton & Barto Example 6.6: epsilon 0.1, alpha 0.5, 500 episodes, 100 seeds."""
    cmp = compare(
        "cliff", algos="q-learning,sarsa", episodes=500, seeds=100, alpha="0.5", epsilon="0.1"
    )
    return cmp, comparison_summary(cmp)


@pytest.fixture(scope="module")
def maxbias():
    """Sutton & Barto Example 6.7: 1000 seeds, 300 episodes, epsilon 0.1, alpha 0.1."""
    cmp = compare(
        "maxbias",
        algos="q-learning,double-q",
        episodes=300,
        seeds=1000,
        epsilon="0.1",
        alpha="0.1",
        window="201:300",
    )
    return cmp, comparison_summary(cmp)


def test_cliff_q_learning_walks_the_edge_and_sarsa_takes_the_safe_path(cliff):
    _, info = cliff
    q, sarsa = info["algos"]["q-learning"], info["algos"]["sarsa"]
    # Exact greedy returns: Q-learning's path along the edge is the optimal -13 everywhere.
    assert q["greedy_returns"] == [-13.0] * 100 and q["greedy_optimal"] == 100
    # SARSA's greedy path keeps away from the edge: longer, or (reported) never ending.
    assert all(r is None or r < -13 for r in sarsa["greedy_returns"])
    assert sarsa["never_terminates"] == sum(r is None for r in sarsa["greedy_returns"]) > 0
    assert sarsa["never_share"] == sarsa["never_terminates"] / 100


def test_cliff_sarsa_does_better_online(cliff):
    _, info = cliff
    q, sarsa = info["algos"]["q-learning"], info["algos"]["sarsa"]
    diff = sarsa["window_mean"] - q["window_mean"]
    se = np.hypot(q["window_se"], sarsa["window_se"])
    assert diff > 5 * se


def test_window_statistics_are_the_mean_and_se_over_seeds(cliff):
    cmp, info = cliff
    for arm in cmp.arms:
        per_seed = arm.run.arrays.returns[:, 250:500].mean(axis=1)
        reported = info["algos"][arm.label]
        assert reported["window_mean"] == pytest.approx(per_seed.mean(), rel=1e-9)
        assert reported["window_se"] == pytest.approx(per_seed.std(ddof=1) / 10, rel=1e-9)
        assert reported["curve"] == pytest.approx(arm.run.arrays.returns.mean(axis=0).tolist())
    assert info["window"] == [251, 500]


def test_the_standard_error_is_honest_on_fresh_seeds(cliff):
    """Two disjoint sets of 100 seeds must agree within 4 SE of their difference."""
    _, info = cliff
    other = comparison_summary(
        compare(
            "cliff",
            algos="q-learning,sarsa",
            episodes=500,
            seeds=100,
            seed=100,
            alpha="0.5",
            epsilon="0.1",
        )
    )
    for label in ("q-learning", "sarsa"):
        a, b = info["algos"][label], other["algos"][label]
        se = np.hypot(a["window_se"], b["window_se"])
        assert abs(a["window_mean"] - b["window_mean"]) < 4 * se


def test_maxbias_first_episode_is_a_coin_flip(maxbias):
    # All-zero tables: greedy ties broken at random, so P(left) = 0.05 + 0.9 / 2 = 0.5.
    _, info = maxbias
    se = np.sqrt(0.25 / 1000)
    for arm in info["algos"].values():
        assert abs(arm["left_share"][0] - 0.5) < 4 * se


def test_maxbias_q_learning_prefers_left_early_and_double_q_does_not(maxbias):
    cmp, _ = maxbias
    shares = {a.label: (a.run.arrays.first_action == 0) for a in cmp.arms}
    early_q = mean_se(window_means(shares["q-learning"], (10, 50)))
    early_d = mean_se(window_means(shares["double-q"], (10, 50)))
    assert early_q.mean - 0.5 > 5 * early_q.se  # left is worse, yet preferred
    assert early_q.mean - early_d.mean > 5 * np.hypot(early_q.se, early_d.se)


def test_maxbias_double_q_ends_nearer_the_optimal_five_percent(maxbias):
    _, info = maxbias
    q, d = info["algos"]["q-learning"], info["algos"]["double-q"]
    assert info["optimal_left_share"] == pytest.approx(0.05)
    # An epsilon-greedy learner picks left at least epsilon / 2 of the time, in expectation.
    assert d["left_share_window_mean"] > 0.05 - 4 * d["left_share_window_se"]
    excess_gap = q["left_share_window_mean"] - d["left_share_window_mean"]
    assert excess_gap > 5 * np.hypot(q["left_share_window_se"], d["left_share_window_se"])
    assert len(q["left_share"]) == 300


def test_greedy_trap_exploration_finds_the_corridor_more_often():
    cmp = compare(
        "detour", algos="q-learning", epsilon="0,0.1", episodes=500, seeds=400, alpha="0.5"
    )
    info = comparison_summary(cmp)
    greedy, explorer = (
        info["algos"]["q-learning epsilon=0"],
        info["algos"]["q-learning epsilon=0.1"],
    )
    assert info["v_star_start"] == pytest.approx(0.81)
    diff = explorer["greedy_optimal_share"] - greedy["greedy_optimal_share"]
    se = np.hypot(greedy["greedy_optimal_share_se"], explorer["greedy_optimal_share_se"])
    assert diff > 4 * se
    # The trapped seeds take the longer routes: 5 steps (0.9^4) or 7 (0.9^6, around the bottom).
    values = sorted(c["return"] for c in greedy["greedy_discounted_return_counts"])
    assert values == pytest.approx([0.9**6, 0.9**4, 0.81])


def test_a_greedy_learner_keeps_the_route_it_has():
    run = qlearn.train("detour", epsilon=0, episodes=500, seeds=200, snapshots=[100, 500])
    mdp = run.mdp
    for k in range(200):
        assert greedy_path(mdp, run.snapshot(100)[k]) == greedy_path(mdp, run.snapshot(500)[k])


def test_arms_cross_algorithms_alphas_and_epsilons():
    cmp = compare("classic", algos="q-learning,sarsa", alpha="0.1,0.5", episodes=20, seeds=2)
    assert [a.label for a in cmp.arms] == [
        "q-learning alpha=0.1",
        "q-learning alpha=0.5",
        "sarsa alpha=0.1",
        "sarsa alpha=0.5",
    ]
    assert cmp.window == (11, 20)
    # Every arm trains the same seeds.
    assert all(a.run.seeds == [0, 1] for a in cmp.arms)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"algos": "sarsa"}, "two arms or more"),
        ({"algos": "td0,sarsa"}, "cannot compare 'td0'"),
        ({"algos": "sarsa,sarsa"}, "lists a value twice"),
        ({"window": "0:10"}, "1 <= FROM <= TO <= 20"),
        ({"window": "15:12"}, "1 <= FROM <= TO <= 20"),
        ({"window": "a:b"}, "cannot read --window"),
        ({"epsilon": "0.1,2"}, "epsilon must be in [0, 1]"),
    ],
)
def test_bad_comparisons_say_what_to_fix(kwargs, message):
    options = {"algos": "q-learning,sarsa", "episodes": 20, "seeds": 2, **kwargs}
    with pytest.raises(QlearnError) as info:
        compare("classic", **options)
    assert message in str(info.value)


def test_default_window_is_the_second_half():
    assert parse_window(None, 500) == (251, 500)
    assert parse_window("1:1", 3) == (1, 1)
