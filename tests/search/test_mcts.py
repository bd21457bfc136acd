"""Our wrapper of mctx keeps mctx's own promises: masking at the root, and Gumbel MuZero's
policy improvement over the prior on random bandits."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import qlearn
from qlearn.mdp import FiniteMDP
from qlearn.search.mcts import Guide, chosen_action, guide, search, world_model


def bandits(rewards: np.ndarray, legal: np.ndarray | None = None) -> FiniteMDP:
    """One decision state per bandit (B, A): every action ends the episode in the last
    state and pays its reward."""
    n_bandits, n_actions = rewards.shape
    s = n_bandits + 1
    P = np.zeros((s, n_actions, s))
    P[:, :, -1] = 1.0
    R = np.zeros_like(P)
    R[:n_bandits, :, -1] = rewards
    terminal = np.zeros(s, bool)
    terminal[-1] = True
    start = np.zeros(s)
    start[0] = 1.0
    legal = np.ones((s, n_actions), bool) if legal is None else legal
    names = tuple(str(i) for i in range(s))
    actions = tuple(f"a{i}" for i in range(n_actions))
    return FiniteMDP.from_dense(
        P,
        R,
        terminal=terminal,
        start=start,
        legal=legal,
        gamma=1.0,
        name="bandits",
        state_names=names,
        action_names=actions,
    )


def test_an_invalid_action_is_never_searched_even_with_the_highest_prior():
    legal = np.array([[True, True, True, False], [True] * 4])
    mdp = bandits(np.zeros((1, 4)), legal)
    prior = np.array([[-1.0, 0.0, 2.0, 3.0], [0.0] * 4])
    g = guide(mdp, prior)  # prior = softmax(q / 1) over the legal actions
    out = search(world_model(mdp), g, jnp.array([0]), jax.random.PRNGKey(0), planner="mcts",
                 simulations=1)  # fmt: skip
    np.testing.assert_array_equal(np.asarray(out.action_weights), [[0.0, 0.0, 1.0, 0.0]])
    assert int(chosen_action(out, "mcts")[0]) == 2


@pytest.mark.parametrize("simulations", [2, 4, 16])
def test_gumbel_muzero_never_picks_worse_than_the_prior_with_the_same_noise(simulations):
    """The policy-improvement property of Danihelka et al. (2022): with the same Gumbel
    noise, the searched action is worth at least the prior's sampled action."""
    key = jax.random.PRNGKey(7)
    k_prior, k_q, k_search = jax.random.split(key, 3)
    n_bandits, n_actions = 256, 24
    prior = np.asarray(jax.random.normal(k_prior, (n_bandits + 1, n_actions)))
    q = np.asarray(jax.random.uniform(k_q, (n_bandits, n_actions)))
    mdp = bandits(q)
    g = Guide(jnp.asarray(prior, jnp.float32), jnp.zeros(n_bandits + 1, jnp.float32))
    states = jnp.arange(n_bandits)
    out = search(world_model(mdp), g, states, k_search, planner="gumbel",
                 simulations=simulations, gumbel_scale=1.0)  # fmt: skip
    chosen = np.asarray(out.action)
    noise = np.asarray(out.search_tree.extra_data.root_gumbel)
    by_prior = np.argmax(noise + prior[:n_bandits], axis=1)
    rows = np.arange(n_bandits)
    improvement = q[rows, chosen] - q[rows, by_prior]
    assert improvement.min() >= -1e-6 and improvement.mean() > 0


def test_the_model_samples_the_worlds_own_transitions():
    """Every successor a search can reach has positive probability in P, with its reward."""
    mdp = qlearn.load_world("frozenlake4x4")
    model = world_model(mdp)
    probs = np.exp(np.asarray(model.log_prob))
    nxt = np.asarray(model.next_state)
    for s in range(mdp.n_states):
        for a in range(mdp.n_actions):
            mass = {int(n): float(p) for n, p in zip(nxt[s, a], probs[s, a], strict=True) if p > 0}
            expected = {int(n): float(p) for n, p in enumerate(mdp.P[s, a]) if p > 0}
            assert mass.keys() == expected.keys()
            assert sum(mass.values()) == pytest.approx(1.0, abs=1e-6)
