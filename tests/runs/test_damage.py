"""Damaged files: every file qlearn reads back, truncated or with bytes changed, is refused
with one line naming it and exit 2, and nothing else in the folder is touched; or, where
the damage is harmless (a changed digit, a zip field nobody reads), the command succeeds.

Most cases run the CLI in this process (``main``, as ``qlearn`` runs it: fast); a few run
it in a fresh process (``run_cli``) to check the real exit status and that no traceback
reaches the user.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from qlearn.cli.commands import main
from qlearn.configs.tabular_config import TabularConfig
from qlearn.runs import job

TRAIN = ["--episodes", "20", "--seeds", "2", "--quiet"]


def qlearn(capsys, *args: str) -> tuple[int, str]:
    """``qlearn ARGS`` in this process: its exit status and what it printed on stderr."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(a) for a in args])
    return stop.value.code, capsys.readouterr().err


def cuts(n: int) -> list[int]:
    """Where a file of ``n`` bytes is truncated: empty, one byte, and through its body."""
    return sorted({0, 1, n // 10, n // 3, n // 2, n - 1})


def flips(n: int) -> list[tuple[int, int]]:
    """(offset, xor mask) of the byte changes tried: every bit of a byte, or its lowest."""
    return [(n // 7, 0xFF), (n // 3, 0x01), (n // 2, 0xFF), (2 * n // 3, 0x01), (n - 3, 0xFF)]


def damaged_copies(path: Path):
    """Yield a description of each damage after applying it to ``path`` (restored after)."""
    good = path.read_bytes()
    try:
        for at in cuts(len(good)):
            path.write_bytes(good[:at])
            yield f"truncated at {at}"
        for at, mask in flips(len(good)):
            data = bytearray(good)
            data[at] ^= mask
            path.write_bytes(bytes(data))
            yield f"byte {at} ^ {mask:#x}"
    finally:
        path.write_bytes(good)


def contents(folder: Path, skip: str) -> dict[str, bytes]:
    """Every file's bytes but ``skip``'s (what a refused command must not touch)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != skip}


def check_refused_or_fine(code: int, err: str, name: str, how: str) -> None:
    assert code in (0, 2), f"{name} {how}: exit {code}: {err}"
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{name} {how}: {err}"
        assert name.split(".")[0] in lines[0], f"{name} {how}: {err}"


@pytest.fixture(scope="module")
def tabular(tmp_path_factory):
    out = tmp_path_factory.mktemp("tab") / "run"
    proc = run_cli("train", "classic", *TRAIN, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    """A tabular run stopped after a checkpoint at episode 10 of 20."""
    out = tmp_path_factory.mktemp("ck") / "run"
    cfg = TabularConfig(world="classic", episodes=20, seeds=2)
    job.start(cfg, out)

    def stop(done, total, state):
        if done >= 10:
            raise StopIteration

    with pytest.raises(StopIteration):
        job.train(cfg, out, checkpoint_every=10, progress=stop)
    assert (out / job.CHECKPOINT).exists()
    return out


@pytest.mark.parametrize(
    "name, command",
    [
        ("tables.npz", ("eval", "{run}", "--episodes", "2")),
        ("tables.npz", ("plot", "{run}")),
        ("metrics.csv", ("plot", "{run}")),
        ("summary.json", ("eval", "{run}", "--episodes", "2")),
        ("summary.json", ("plot", "{run}")),
        ("config.yaml", ("eval", "{run}", "--episodes", "2")),
    ],
)
def test_each_damaged_file_of_a_run_is_refused_in_one_line_or_harmless(
    capsys, tmp_path, tabular, name, command
):
    run = tmp_path / "run"
    shutil.copytree(tabular, run)
    args = [a.format(run=run) for a in command]
    for how in damaged_copies(run / name):
        before = contents(run, name)
        code, err = qlearn(capsys, *args)
        check_refused_or_fine(code, err, name, how)
        if code == 2:
            assert contents(run, name) == before, f"{name} {how}: other files were touched"


def test_a_damaged_checkpoint_is_refused_and_says_there_is_no_earlier_one(
    capsys, tmp_path, checkpointed
):
    run = tmp_path / "run"
    shutil.copytree(checkpointed, run)
    refused = 0
    for how in damaged_copies(run / job.CHECKPOINT):
        before = contents(run, job.CHECKPOINT)
        code, err = qlearn(capsys, "train", "--resume", run, "--quiet")
        if code == 0:  # harmless damage: the run finished; start again from the checkpoint
            shutil.rmtree(run)
            shutil.copytree(checkpointed, run)
            continue
        check_refused_or_fine(code, err, job.CHECKPOINT, how)
        assert contents(run, job.CHECKPOINT) == before
        refused += 1
        if how.startswith("truncated"):
            assert "cannot be resumed" in err and "No earlier checkpoint" in err
    assert refused >= len(cuts(10))


def test_through_a_fresh_process_a_truncated_file_is_one_line_and_exit_2(tmp_path, tabular):
    run = tmp_path / "run"
    shutil.copytree(tabular, run)
    data = (run / "tables.npz").read_bytes()
    (run / "tables.npz").write_bytes(data[: len(data) // 2])
    for args in (("eval", run), ("plot", run)):
        proc = run_cli(*map(str, args))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("error: tables.npz is truncated or not an npz file")
        assert len(proc.stderr.strip().splitlines()) == 1


def test_a_truncated_metrics_table_names_its_rows(capsys, tmp_path, tabular):
    run = tmp_path / "run"
    shutil.copytree(tabular, run)
    lines = (run / "metrics.csv").read_text().splitlines(keepends=True)
    (run / "metrics.csv").write_text("".join(lines[:30]))
    code, err = qlearn(capsys, "plot", run)
    assert code == 2 and "metrics.csv is truncated or damaged" in err and "40" in err


def test_eval_refuses_a_folder_without_its_summary(capsys, tmp_path, tabular):
    run = tmp_path / "run"
    shutil.copytree(tabular, run)
    (run / "summary.json").unlink()
    code, err = qlearn(capsys, "eval", run)
    assert code == 2 and "not a finished run folder (no summary.json)" in err


def test_a_damaged_solution_and_comparison_are_refused(capsys, tmp_path):
    solved, compared = tmp_path / "solve", tmp_path / "cmp"
    assert qlearn(capsys, "solve", "classic", "--out", solved)[0] == 0
    code, err = qlearn(capsys, "compare", "classic", "--algos", "q-learning,sarsa",
                       "--episodes", "20", "--seeds", "2", "--out", compared)  # fmt: skip
    assert code == 0, err
    for folder, name in (
        (solved, "tables.npz"),
        (compared, "tables.npz"),
        (compared, "curves.csv"),
    ):
        good = (folder / name).read_bytes()
        for at in (0, len(good) // 2):
            (folder / name).write_bytes(good[:at])
            code, err = qlearn(capsys, "plot", folder)
            check_refused_or_fine(code, err, name, f"truncated at {at}")
            assert code == 2, f"{folder.name}/{name} truncated at {at} was accepted"
        (folder / name).write_bytes(good)


def test_a_damaged_log_is_refused(capsys, tmp_path):
    log = tmp_path / "log.csv"
    assert qlearn(capsys, "collect", "classic", "--episodes", "5", "--out", log)[0] == 0
    for how in damaged_copies(log):
        code, err = qlearn(capsys, "train", "classic", "--from-log", log, "--out", tmp_path / how)
        check_refused_or_fine(code, err, "log", how)


def test_a_sweep_folder_is_not_a_run_folder(capsys, tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "summary.json").write_text("{")
    code, err = qlearn(capsys, "plot", folder)
    assert code == 2 and "no config.yaml" in err


def test_an_npz_of_arrays_without_the_expected_ones_is_refused(capsys, tmp_path, tabular):
    run = tmp_path / "run"
    shutil.copytree(tabular, run)
    np.savez(run / "tables.npz", other=np.zeros(3))
    code, err = qlearn(capsys, "eval", run)
    assert code == 2 and "tables.npz" in err and "'q'" in err
