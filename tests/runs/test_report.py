"""report.html renders in headless Chromium with its figures and numbers, offline."""

import re
import shutil
import subprocess
import uuid

import pytest
from conftest import run_cli, run_json

from qlearn.viz.png import png_size

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile; fails (not skips) when it is missing."""
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed: run `make chromium` (Debian: apt-get install chromium)"
    profile = tmp_path / f"profile-{uuid.uuid4().hex}"
    return subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def rendered_dom(tmp_path, page) -> str:
    """The page's DOM after its scripts ran (the image check writes into <body>)."""
    proc = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def images_loaded(dom: str) -> tuple[int, int]:
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    assert loaded and total, "the page's image check did not run"
    return int(loaded.group(1)), int(total.group(1))


def assert_offline(html: str) -> None:
    assert "http://" not in html and "https://" not in html and "//cdn" not in html


def test_train_report_renders_with_its_figures_and_numbers(tmp_path):
    out = tmp_path / "run"
    data = run_json(
        "train", "classic", "--seeds", "4", "--snapshots", "1,50,500", "--plot", "--out", str(out)
    )
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["curve.png", "gap.png", "q_values.png", "snapshots.png", "values.png"]
    html = (out / "report.html").read_text()
    assert_offline(html)
    dom = rendered_dom(tmp_path, out / "report.html")
    assert images_loaded(dom) == (5, 5)
    assert "<title>qlearn: q-learning on classic</title>" in dom
    assert "Headline numbers" in dom and "Per episode (over seeds)" in dom
    assert "<td>V*(start)</td><td>0.6561</td>" in dom
    assert f"<td>environment steps</td><td>{data['env_steps']}</td>" in dom
    assert dom.count("<tr>") > 500  # the per-episode table: one row per episode
    shot = tmp_path / "shot.png"
    proc = chromium(
        tmp_path, "--window-size=1000,1400", f"--screenshot={shot}", (out / "report.html").as_uri()
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png_size(shot.read_bytes()) == (1000, 1400)


@pytest.mark.slow
def test_tour_report_renders_every_stage(tmp_path):
    out = tmp_path / "tour"
    proc = run_cli("tour", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for line in [
        "[1/6] solve classic exactly",
        "0.5, 0.225, 0.75, 0.875, 0.9375",
        "16/16 seeds act optimally everywhere",
        "greedy return -13 x100",
        "[6/6] DQN on classic",
        "2/2 seeds act optimally everywhere",
    ]:
        assert line in proc.stdout
    stages = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert stages == ["1-solve", "2-explain", "3-train", "4-greedy-trap", "5-cliff", "6-dqn"]
    for stage in ("1-solve", "3-train", "4-greedy-trap", "5-cliff", "6-dqn"):
        assert (out / stage / "report.html").is_file()
    assert_offline((out / "report.html").read_text())
    dom = rendered_dom(tmp_path, out / "report.html")
    loaded, total = images_loaded(dom)
    assert loaded == total == 9
    for text in [
        "1. The exact answer",
        "new value  = 0 + 0.5 * 0.45 = 0.225",
        "0.421875",
        "4. The greedy trap",
        "q-learning epsilon=0.1",
        "5. One symbol",
        "-13 x100",
        "6. When the table dies",
    ]:
        assert text in dom
    # The cliff stage's own report renders too.
    loaded, total = images_loaded(rendered_dom(tmp_path, out / "5-cliff" / "report.html"))
    assert loaded == total == 1


def test_dqn_report_renders_with_its_figures_and_numbers(tmp_path):
    out = tmp_path / "dqn"
    data = run_json("train", "classic", "--algo", "dqn", "--steps", "4000", "--plot",
                    "--out", str(out))  # fmt: skip
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["curve.png", "q_values.png", "values.png"]
    assert png_size((out / "curve.png").read_bytes()) == (700, 400)
    html = (out / "report.html").read_text()
    assert_offline(html)
    dom = rendered_dom(tmp_path, out / "report.html")
    assert images_loaded(dom) == (3, 3)
    assert "<title>qlearn: dqn on classic</title>" in dom
    assert "Per evaluation (mean over seeds)" in dom and "Configuration" in dom
    assert f"<td>environment steps (all seeds)</td><td>{data['env_steps']}</td>" in dom
    assert "<td>V*(start)</td><td>0.6561</td>" in dom
    # qlearn plot draws them again from the saved files, byte for byte
    before = {name: (out / name).read_bytes() for name in pngs}
    for name in pngs:
        (out / name).unlink()
    assert run_cli("plot", str(out)).returncode == 0
    assert {name: (out / name).read_bytes() for name in pngs} == before
