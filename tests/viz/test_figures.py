"""Figures: valid PNGs of the size their docstrings promise, drawn from the right data."""

import numpy as np
import pytest

import qlearn
from qlearn.core.errors import QlearnError
from qlearn.runs.tabular_results import load_pictures, pictures_of, render_figures
from qlearn.viz.grid_figures import (
    CELL,
    DPI,
    common_paths,
    greedy_path,
    preferred_actions,
    q_figure,
    snapshots_figure,
    value_figure,
)
from qlearn.viz.png import expected_size, figure_png, png_size


def grid_size(mdp, panels):
    """The size rule of grid_figure: panels * (cols * CELL + 0.5) + 0.9 by rows * CELL + 0.9."""
    return expected_size(
        (panels * (mdp.layout.width * CELL + 0.5) + 0.9, mdp.layout.height * CELL + 0.9), DPI
    )


@pytest.fixture(scope="module")
def classic_run():
    return qlearn.train("classic", seeds=4, episodes=500, snapshots=[1, 50, 500])


def test_value_and_q_figures_are_pngs_of_the_promised_size():
    mdp = qlearn.load_world("classic")
    q_star = np.nan_to_num(qlearn.solve(mdp).q, neginf=0.0)
    one = figure_png(value_figure(mdp, {"Q*": q_star}))
    two = figure_png(q_figure(mdp, {"a": q_star, "b": q_star}))
    assert png_size(one) == grid_size(mdp, 1) == (580, 420)
    assert png_size(two) == grid_size(mdp, 2) == (1070, 420)
    cliff = qlearn.load_world("cliff")
    assert png_size(
        figure_png(value_figure(cliff, {"zeros": np.zeros((cliff.n_states, 4))}))
    ) == grid_size(cliff, 1)


def test_snapshots_figure_has_one_panel_per_episode(classic_run):
    mdp = classic_run.mdp
    snaps = {ep: classic_run.snapshot(ep)[0] for ep in (1, 50, 500)}
    fig = snapshots_figure(mdp, snaps)
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        "after episode 1",
        "after episode 50",
        "after episode 500",
    ]
    assert png_size(figure_png(fig)) == grid_size(mdp, 3)


def test_a_run_draws_values_q_snapshots_curve_and_gap(classic_run):
    pngs = render_figures(pictures_of(classic_run))
    assert set(pngs) == {"values.png", "q_values.png", "snapshots.png", "curve.png", "gap.png"}
    assert png_size(pngs["curve.png"]) == png_size(pngs["gap.png"]) == (700, 400)
    assert png_size(pngs["values.png"]) == grid_size(classic_run.mdp, 2)


def test_worlds_without_a_grid_get_curves_and_maxbias_its_left_share():
    run = qlearn.train("maxbias", episodes=50, seeds=20, epsilon=0.1, alpha=0.1)
    assert set(render_figures(pictures_of(run))) == {"curve.png", "gap.png", "left_share.png"}
    with pytest.raises(QlearnError, match="not a grid world"):
        value_figure(run.mdp, {"q": run.q})


def test_td0_draws_state_values_without_q_per_door():
    run = qlearn.train("classic", algo="td0", episodes=50, seeds=2)
    assert set(render_figures(pictures_of(run))) == {"values.png", "curve.png", "gap.png"}


def test_greedy_path_follows_the_table_and_notices_loops():
    mdp = qlearn.load_world("classic")
    q_star = np.nan_to_num(qlearn.solve(mdp).q, neginf=0.0)
    path, ends = greedy_path(mdp, q_star)
    # Ties at (1,1) (N and E are both optimal) go to the first action, N.
    assert [mdp.state_names[s] for s in path] == [
        "(1,1)",
        "(1,2)",
        "(1,3)",
        "(2,3)",
        "(3,3)",
        "(4,3)",
    ]
    assert ends
    # A table of zeros always says N: up to (1,3), then bumping the border forever.
    path, ends = greedy_path(mdp, np.zeros((mdp.n_states, 4)))
    assert [mdp.state_names[s] for s in path] == ["(1,1)", "(1,2)", "(1,3)", "(1,3)"]
    assert not ends


def test_common_paths_count_seeds():
    mdp = qlearn.load_world("classic")
    q_star = np.nan_to_num(qlearn.solve(mdp).q, neginf=0.0)
    tables = np.stack([q_star, q_star, np.zeros_like(q_star)])
    (first, ends, count), (second, ends2, count2) = common_paths(mdp, tables)
    assert (count, ends, count2, ends2) == (2, True, 1, False)


def test_arrows_only_where_the_table_prefers_something():
    mdp = qlearn.load_world("classic")
    q = np.zeros((mdp.n_states, 4))
    assert not preferred_actions(mdp, q).any()
    s = mdp.state_index("(3,3)")
    q[s, mdp.action_index("E")] = 0.5
    prefs = preferred_actions(mdp, q)
    assert prefs.sum() == 1 and prefs[s, mdp.action_index("E")]


def test_a_saved_run_draws_the_same_figures(classic_run, tmp_path):
    from qlearn.runs.job import write_run

    write_run(classic_run, tmp_path / "r")
    again = render_figures(load_pictures(tmp_path / "r"))
    fresh = render_figures(pictures_of(classic_run))
    assert again.keys() == fresh.keys()
    for name in fresh:
        assert again[name] == fresh[name], name


def test_png_size_refuses_what_is_not_a_png():
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + bytes(30))


def test_the_python_api_gives_the_same_pictures_as_the_cli(tmp_path):

    assert [u.new_value for u in qlearn.explain("classic").updates] == [
        0.5,
        0.225,
        0.75,
        0.875,
        0.9375,
    ]
    cmp = qlearn.compare("cliff", episodes=60, seeds=3)
    assert list(qlearn.figures_of(cmp)) == ["compare.png"]
    env = qlearn.make("classic")
    assert list(qlearn.figures_of((env.mdp, qlearn.solve(env)))) == ["values.png", "q_values.png"]
    path = qlearn.save_png(
        qlearn.figures_of(qlearn.train(env, episodes=20))["curve.png"], tmp_path / "curve.png"
    )
    assert png_size(path.read_bytes()) == (700, 400)
    with pytest.raises(TypeError):
        qlearn.figures_of("classic")
