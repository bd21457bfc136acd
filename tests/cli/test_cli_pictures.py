"""The picture-making commands end to end: solve/train --plot, compare, plot, tour."""

import json

import pytest
from conftest import run_cli, run_json

from qlearn.viz.grid_figures import CELL, DPI
from qlearn.viz.png import expected_size, png_size


def test_solve_plot_writes_a_run_folder_with_figures_and_report(tmp_path):
    out = tmp_path / "solved"
    data = run_json("solve", "classic", "--plot", "--out", str(out))
    assert data["run_dir"] == str(out) and data["v"]["(1,1)"] == pytest.approx(0.6561)
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml",
        "q_values.png",
        "report.html",
        "summary.json",
        "tables.npz",
        "values.png",
    ]
    assert json.loads((out / "summary.json").read_text())["q"] == data["q"]
    assert png_size((out / "values.png").read_bytes()) == (580, 420)


def test_solve_plot_without_out_makes_a_folder_under_runs(tmp_path):
    proc = run_cli("solve", "classic", "--plot", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("classic-solve-") and (folder / "values.png").is_file()
    assert f"run folder: runs/{folder.name}" in proc.stdout


def test_plot_redraws_a_saved_run_identically(tmp_path):
    out = tmp_path / "run"
    run_json(
        "train",
        "classic",
        "--seeds",
        "2",
        "--episodes",
        "60",
        "--snapshots",
        "1,60",
        "--plot",
        "--out",
        str(out),
    )
    before = {p.name: p.read_bytes() for p in out.glob("*.png")}
    for p in out.glob("*.png"):
        p.unlink()
    data = run_json("plot", str(out))
    assert sorted(data["files"]) == sorted(
        [str(out / n) for n in before] + [str(out / "report.html")]
    )
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == before


def test_compare_cli_prints_the_table_and_writes_the_figure(tmp_path):
    out = tmp_path / "cmp"
    proc = run_cli(
        "compare",
        "cliff",
        "--algos",
        "q-learning,sarsa",
        "--episodes",
        "200",
        "--seeds",
        "20",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "q-learning" in proc.stdout and "sarsa - q-learning:" in proc.stdout
    assert "-13 x20" in proc.stdout and f"figure: {out / 'compare.png'}" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "compare.png",
        "config.yaml",
        "curves.csv",
        "report.html",
        "summary.json",
        "tables.npz",
    ]
    # Documented size: width max(10, arms * (cols * 0.8 * CELL + 0.6)), height 4 + grid + 1.4.
    width = max(10.0, 2 * (12 * CELL * 0.8 + 0.6))
    assert png_size((out / "compare.png").read_bytes()) == expected_size(
        (width, 4.0 + 4 * CELL * 0.8 + 1.4), DPI
    )
    # plot redraws a comparison too.
    before = (out / "compare.png").read_bytes()
    (out / "compare.png").unlink()
    assert run_cli("plot", str(out)).returncode == 0
    assert (out / "compare.png").read_bytes() == before


def test_compare_json_has_the_per_algorithm_keys(tmp_path):
    data = run_json(
        "compare",
        "maxbias",
        "--algos",
        "q-learning,double-q",
        "--episodes",
        "40",
        "--seeds",
        "30",
        "--epsilon",
        "0.1",
        "--alpha",
        "0.1",
        "--window",
        "21:40",
        "--out",
        str(tmp_path / "m"),
    )
    assert set(data["algos"]) == {"q-learning", "double-q"} and data["window"] == [21, 40]
    for arm in data["algos"].values():
        assert len(arm["curve"]) == 40 and len(arm["left_share"]) == 40
        assert len(arm["greedy_returns"]) == 30
        assert isinstance(arm["window_mean"], float) and arm["window_se"] > 0
    assert data["figure"] == str(tmp_path / "m" / "compare.png")


def test_compare_reports_never_ending_greedy_policies_as_null(tmp_path):
    data = run_json(
        "compare",
        "cliff",
        "--algos",
        "q-learning,sarsa",
        "--seeds",
        "20",
        "--out",
        str(tmp_path / "c"),
    )
    sarsa = data["algos"]["sarsa"]
    assert None in sarsa["greedy_returns"]
    assert sarsa["never_terminates"] == sarsa["greedy_returns"].count(None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "cliff", "--window", "0:10"], "1 <= FROM <= TO <= 500"),
        (["compare", "cliff", "--algos", "sarsa"], "two arms or more"),
        (["compare"], "name a world to compare on"),
        (["compare", "cliff", "--alpha", "0.5,7"], "alpha must be in (0, 1]"),
        (["plot", "/no/such/run"], "is not a folder"),
        (["train", "classic", "--snapshots", "1,x"], "cannot read --snapshots"),
        (["train", "classic", "--snapshots", "0"], "snapshot episodes must be integers"),
        (["explain", "classic", "--steps", "(3,3)E", "--episodes", "2"], "not both"),
    ],
)
def test_bad_picture_requests_exit_2_in_one_line(tmp_path, args, message):
    proc = run_cli(*args, "--out", str(tmp_path / "x")) if args[0] == "compare" else run_cli(*args)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_plot_refuses_a_folder_that_is_not_a_run(tmp_path):
    proc = run_cli("plot", str(tmp_path))
    assert proc.returncode == 2 and "not a run folder (no config.yaml)" in proc.stderr


def test_tour_refuses_an_existing_folder_before_working(tmp_path):
    proc = run_cli("tour", "--out", str(tmp_path))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert "[1/6]" not in proc.stdout
