"""``qlearn plan`` end to end: a saved run's table guides the planners; bad input gets one
line, exit status 2, and no folder."""

import json

import pytest
from conftest import run_cli, run_json


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "maze-run"
    proc = run_cli("train", "maze:9x9:seed=2", "--episodes", "40", "--seeds", "2",
                   "--out", str(out), "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def test_plan_from_a_run_folder_writes_its_own_folder(trained, tmp_path):
    out = tmp_path / "plan"
    planners = ["--planner", "greedy,mcts,astar", "--simulations", "2,8"]
    info = run_json("plan", "maze:9x9:seed=2", "--from", str(trained), *planners,
                    "--out", str(out), "--json")  # fmt: skip
    assert info["world"] == "maze:9x9:seed=2" and info["value_source"] == str(trained)
    rows = info["results"]
    assert [(r["planner"], r["simulations"]) for r in rows] == [
        ("greedy", None), ("mcts", 2), ("mcts", 8), ("astar", None),
    ]  # fmt: skip
    for r in rows:
        assert 0.0 <= r["regret_ci"][0] <= r["regret_mean"] <= r["regret_ci"][1] <= 1.0
        assert 0.0 <= r["success_rate"] <= 1.0 and r["decisions_per_s"] > 0
    assert "nodes_expanded" in rows[-1] and "nodes_expanded" not in rows[1]
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "per_state.csv", "plan.png", "report.html", "results.csv", "summary.json",
    ]  # fmt: skip
    assert json.loads((out / "summary.json").read_text())["results"] == rows


def test_plan_prints_a_table_a_person_can_read(tmp_path):
    proc = run_cli("plan", "classic", "--q", "exact", "--planner", "mcts,qstar",
                   "--simulations", "2", "--runs", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "classic, guided by exact: 9 start states x 1 episodes x 1 seeds"
    assert lines[1].split()[:4] == ["planner", "sims", "regret", "95%"]
    assert lines[2].split()[:3] == ["mcts", "2", "0"] and lines[3].split()[:2] == ["qstar", "0"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["classic", "--q", "exact", "--planner", "beam"], "unknown planner 'beam'"),
        (["classic", "--q", "exact", "--simulations", "0"], "--simulations must be whole"),
        (["classic", "--q", "exact", "--simulations", "many"], "cannot read --simulations"),
        (["frozenlake4x4", "--q", "exact", "--planner", "astar"], "is stochastic"),
        (["maze:8x8", "--q", "exact"], "maze sides must be odd numbers"),
        (["classic"], "give the values to plan with"),
        (["classic", "--q", "perfect"], "--q must be exact or zero"),
    ],
)
def test_bad_input_gets_one_line_exit_2_and_no_folder(tmp_path, args, message):
    proc = run_cli("plan", *args, "--runs", str(tmp_path / "runs"))
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_run_of_another_world_is_refused(trained, tmp_path):
    proc = run_cli("plan", "classic", "--from", str(trained), "--runs", str(tmp_path / "r"))
    assert proc.returncode == 2 and "trained on another world than classic" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_plot_draws_a_plan_folder_again_byte_for_byte(tmp_path):
    out = tmp_path / "plan"
    proc = run_cli("plan", "classic", "--q", "zero", "--planner", "greedy,mcts",
                   "--simulations", "2,4", "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    before = {name: (out / name).read_bytes() for name in ("plan.png", "report.html")}
    (out / "plan.png").unlink()
    info = run_json("plot", str(out), "--json")
    assert sorted(info["files"]) == [str(out / "plan.png"), str(out / "report.html")]
    assert {name: (out / name).read_bytes() for name in before} == before
