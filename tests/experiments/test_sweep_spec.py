"""Sweep specs: what they expand to, and one-line refusals that name the bad key."""

import pytest

from qlearn.core.errors import QlearnError
from qlearn.experiments.sweep_spec import load_spec, parse_spec


def spec(**changes):
    data = {"world": "classic", "fixed": {"episodes": 20}, "seeds": 2}
    data.update(changes)
    return data


def test_grid_expands_to_every_combination_last_key_fastest():
    s = parse_spec(spec(grid={"algo": ["q-learning", "sarsa"], "alpha": [0.1, 0.5, "1/n^0.8"]}))
    assert [c.params for c in s.configurations] == [
        {"algo": a, "alpha": x} for a in ["q-learning", "sarsa"] for x in ["0.1", "0.5", "1/n^0.8"]
    ]
    assert [c.id for c in s.configurations] == list(range(6))
    first = s.configurations[0].options
    assert first["world"] == "classic" and first["episodes"] == 20
    assert "seeds" not in first and "seed" not in first
    # the resolved spec makes every default explicit and keeps swept keys out of fixed
    resolved = s.to_dict()
    assert resolved["fixed"]["gamma"] is None and "alpha" not in resolved["fixed"]
    assert resolved["seeds"] == 2 and resolved["metric"] == "mean_return"
    assert resolved["goal"] == "max" and resolved["rank_by"] == "iqm"
    assert parse_spec(resolved).configurations == s.configurations


def test_no_grid_is_one_configuration():
    s = parse_spec(spec())
    assert len(s.configurations) == 1 and s.configurations[0].params == {}


def test_random_search_is_reproducible_and_crossed_with_the_grid():
    data = spec(
        grid={"algo": ["q-learning", "sarsa"]},
        random={
            "alpha": {"uniform": [0.05, 1.0]},
            "q_init": {"randint": [0, 2]},
            "epsilon": {"choice": [0.1, "1:0.05"]},
            "gamma": {"loguniform": [0.5, 0.99]},
        },
        samples=5,
        sampler_seed=3,
    )
    a, b = parse_spec(data), parse_spec(data)
    assert a.configurations == b.configurations
    configs = a.configurations
    assert len(configs) == 10
    for sample in range(5):
        q, s = configs[2 * sample], configs[2 * sample + 1]
        assert (q.params["algo"], s.params["algo"]) == ("q-learning", "sarsa")
        # both algorithms see the same random draw
        assert {k: v for k, v in q.params.items() if k != "algo"} == {
            k: v for k, v in s.params.items() if k != "algo"
        }
        assert 0.05 <= float(q.params["alpha"]) <= 1.0
        assert q.params["q_init"] in (0, 1, 2)
        assert q.params["epsilon"] in ("0.1", "1:0.05")
        assert 0.5 <= q.params["gamma"] <= 0.99
    other = parse_spec({**data, "sampler_seed": 4}).configurations
    assert [c.params for c in other] != [c.params for c in configs]


def test_map_files_are_found_next_to_the_spec(tmp_path):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "corridor.txt").write_text("S..G\n")
    path = tmp_path / "sweep.yaml"
    path.write_text("map_file: maps/corridor.txt\nfixed: {episodes: 5}\nseeds: 1\n")
    s = load_spec(path)
    options = s.configurations[0].options
    assert options["map_file"] == str(tmp_path / "maps" / "corridor.txt")
    assert options["world"] is None
    assert s.name == "sweep"


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {"metirc": "mean_return"},
            "'metirc' in the sweep spec.*did you mean 'metric'",
        ),
        ({"fixed": {"episodes": 20, "q-init": 1}}, "unknown key 'q-init' in fixed.*'q_init'"),
        ({"grid": {"alfa": [0.1]}}, "unknown key 'alfa' in grid.*'alpha'"),
        ({"fixed": {"seeds": 4}}, "'seeds' in fixed.*set once, at the top level"),
        ({"grid": {}}, "grid is empty"),
        ({"grid": {"alpha": []}}, "grid.alpha must be a non-empty list"),
        ({"grid": {"alpha": 0.5}}, "grid.alpha must be a non-empty list"),
        ({"grid": {"episodes": [10, "many"]}}, r"grid.episodes\[1\] must be an integer"),
        ({"grid": {"episodes": [10, 2.5]}}, r"grid.episodes\[1\] must be an integer"),
        ({"fixed": {"gamma": "high"}}, "fixed.gamma must be a number"),
        ({"fixed": {"alpha": True}}, "fixed.alpha must be a number or text"),
        ({"fixed": {"episodes": 0}}, "fixed options: episodes must be at least 1"),
        ({"grid": {"alpha": [0.5, 2.0]}}, r"configuration 1 \(alpha=2.0\): .*alpha"),
        ({"grid": {"algo": ["sarsa", "ppo"]}}, "configuration 1 .*unknown algorithm 'ppo'"),
        ({"algo": "dqn"}, "episodes is not an option of algo dqn; use steps"),
        ({"metric": "accuracy"}, "unknown metric 'accuracy'"),
        ({"metric": "mean_return_last_0"}, "window must be at least 1"),
        ({"metric": "mean_return_last_50"}, "needs at least 50 episodes.*trains 20"),
        ({"algo": "td0", "metric": "optimal_share"}, "td0 evaluates a fixed one"),
        ({"grid": {"algo": ["sarsa", "td0"]}, "metric": "greedy_return"}, "configuration 1 "),
        ({"goal": "up"}, "goal must be max or min"),
        ({"rank_by": "median"}, "rank_by must be one of mean, iqm"),
        ({"rank_by": ["iqm"]}, "rank_by must be one of mean, iqm"),
        ({"confidence": 95}, r"confidence must be a number in \(0, 1\)"),
        ({"seeds": 0}, "seeds must be at least 1"),
        ({"seeds": "8"}, "seeds must be an integer"),
        ({"bootstrap": 10}, "bootstrap must be at least 100"),
        ({"name": "my sweep/1"}, "name must be letters"),
        ({"fixed": {"alpha": 0.5}, "grid": {"alpha": [0.1]}}, "alpha is in both fixed and grid"),
        ({"fixed": {"world": "cliff"}}, "world is given both at the top level and in fixed"),
        ({"random": {"alpha": {"uniform": [0.1]}}, "samples": 2}, "random.alpha.uniform must be"),
        ({"random": {"alpha": {"normal": [0, 1]}}, "samples": 2}, "unknown distribution 'normal'"),
        ({"random": {"alpha": {"uniform": [1, 0.1]}}, "samples": 2}, "low must be below high"),
        ({"random": {"gamma": {"loguniform": [0, 1]}}, "samples": 2}, "bounds must be above 0"),
        ({"random": {"alpha": {"uniform": [0.1, 1]}}}, "random needs samples"),
        ({"samples": 3}, "samples only applies with random"),
        (
            {"random": {"max_steps": {"uniform": [5, 10]}}, "samples": 1},
            "random.max_steps.uniform must be an integer",
        ),
        ({"world": "atlantis"}, "configuration 0: unknown world"),
        ({"map_file": "nowhere.txt"}, "give either world"),
    ],
)
def test_bad_specs_are_refused_in_one_line(changes, message):
    with pytest.raises(QlearnError, match=message) as info:
        parse_spec(spec(**changes))
    assert "\n" not in str(info.value)


def test_a_missing_map_file_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("map_file: nowhere.txt\nworld: null\nseeds: 1\n")
    with pytest.raises(QlearnError, match="nowhere.txt"):
        load_spec(path)


def test_bad_files_are_refused_in_one_line(tmp_path):
    with pytest.raises(QlearnError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {alpha: [0.1, 0.5}\n")
    with pytest.raises(QlearnError, match=r"not valid YAML: .*line 1") as info:
        load_spec(bad)
    assert "\n" not in str(info.value)
    listing = tmp_path / "list.yaml"
    listing.write_text("- alpha\n")
    with pytest.raises(QlearnError, match="must be a mapping"):
        load_spec(listing)
