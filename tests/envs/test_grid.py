"""Grid maps: parsing, conventions, dynamics and clear errors."""

import warnings
from fractions import Fraction

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError, QlearnWarning
from qlearn.envs.grid import grid_mdp, parse_map


def test_classic_layout_follows_the_textbook_conventions():
    mdp = qlearn.load_world("classic")
    layout = mdp.layout
    assert layout.char_at(1, 1) == "S"
    assert layout.char_at(4, 3) == "D"
    assert layout.char_at(4, 2) == "P"
    assert layout.char_at(2, 2) == "#"
    assert "(2,2)" not in mdp.state_names  # walls are not states
    assert mdp.n_states == 11 and mdp.gamma == 0.9
    assert mdp.start[mdp.state_index("(1,1)")] == 1.0


def step(mdp, cell, action):
    """The single outcome of a deterministic move: (landing cell, reward)."""
    s, a = mdp.state_index(cell), mdp.action_index(action)
    (nxt,) = np.flatnonzero(mdp.P[s, a])
    return mdp.state_names[nxt], mdp.R[s, a, nxt]


def test_walls_and_borders_leave_the_agent_in_place():
    mdp = qlearn.load_world("classic")
    assert step(mdp, "(1,2)", "E") == ("(1,2)", 0.0)  # wall at (2,2)
    assert step(mdp, "(1,1)", "S") == ("(1,1)", 0.0)  # bottom border
    assert step(mdp, "(3,3)", "E") == ("(4,3)", 1.0)  # diamond
    assert step(mdp, "(3,2)", "E") == ("(4,2)", -1.0)  # pit


def test_cliff_sends_back_to_start_with_minus_100():
    mdp = qlearn.load_world("cliff")
    assert step(mdp, "(1,1)", "E") == ("(1,1)", -100.0)
    assert step(mdp, "(1,2)", "N") == ("(1,3)", -1.0)
    assert step(mdp, "(12,2)", "S") == ("(12,1)", -1.0)  # the goal
    assert mdp.terminal[mdp.state_index("(12,1)")]


def test_ice_slips_to_each_side_with_exactly_one_third():
    mdp = qlearn.load_world("frozenlake4x4")
    s, a = mdp.state_index("(3,2)"), mdp.action_index("N")
    probs = {mdp.state_names[t]: p for t, p in enumerate(mdp.P[s, a]) if p > 0}
    assert probs == {"(3,3)": 1 / 3, "(4,2)": 1 / 3, "(2,2)": 1 / 3}  # (4,2) is a hole


def test_user_map_with_legend_and_parameters():
    text = """
name: tiny
gamma: 0.5
step_reward: -0.1
legend:
  X: {kind: terminal, reward: 5}
grid: |
  S.X
"""
    mdp = grid_mdp(parse_map(text))
    sol = qlearn.solve(mdp)
    # (1,1) -> (2,1) pays -0.1, then (3,1) pays 5: -0.1 + 0.5 * 5
    assert sol.v[mdp.state_index("(1,1)")] == pytest.approx(-0.1 + 0.5 * 5)


def test_bare_grid_file_uses_the_default_legend(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("S.G\n.#.\n")
    mdp = qlearn.load_world(map_file=path)
    assert mdp.name == "mine"
    assert mdp.terminal[mdp.state_index("(3,2)")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("S.Z\n...", "unknown map character 'Z' at row 1 from the top, column 3"),
        ("...\n..G", "no start cell"),
        ("S.G\nS..", "2 start cells"),
        ("S.G\n..", "ragged map: row 2"),
        ("", "the map is empty"),
        ("S#G", "no terminal cell can be reached"),
        ("grid: |\n  S.G\nwidth: 3", "unknown map key 'width'"),
        ("gamma: 2\ngrid: |\n  S.G", "gamma must be in [0, 1]"),
        ("slip: 1.5\ngrid: |\n  S.G", "'slip' must be in [0, 1]"),
        ("legend:\n  X: {kind: lava}\ngrid: |\n  SXG", "kind 'lava'"),
        ("name: [unclosed\ngrid: |\n  S.G", "not valid YAML at line 2: expected ','"),
        ("name: x\ngrid: |\n  S.G\n legend: 3", "not valid YAML at line 4"),
        ("name: x\ngamma: 0.9\n", "YAML without a 'grid' key"),
    ],
)
def test_malformed_maps_are_refused_with_a_clear_message(text, message):
    with pytest.raises(QlearnError, match=None) as info:
        grid_mdp(parse_map(text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_gymnasium_env_steps_like_the_mdp():
    env = qlearn.make("classic")
    s, info = env.reset(seed=0)
    assert env.mdp.state_names[s] == "(1,1)"
    assert info["action_mask"].tolist() == [1, 1, 1, 1]
    for action in ["N", "N", "E", "E"]:
        s, r, terminated, truncated, _ = env.step(env.mdp.action_index(action))
    assert env.mdp.state_names[s] == "(3,3)" and r == 0 and not terminated
    s, r, terminated, _, _ = env.step(env.mdp.action_index("E"))
    assert (r, terminated) == (1.0, True)


def test_slip_on_a_world_without_ice_is_a_warning_and_the_map_still_loads():
    gmap = parse_map("S.G")
    with pytest.warns(QlearnWarning, match="slip 2/3 does nothing on map"):
        assert gmap.with_params(slip="2/3").slip == Fraction(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_map("SFG").with_params(slip="1/2")  # ice: no warning
