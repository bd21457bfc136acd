"""Shared helpers: run the real CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """``qlearn ARGS`` in a fresh process; returns the completed process (text output)."""
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "qlearn.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def start_cli(*args: str) -> subprocess.Popen:
    """``qlearn ARGS`` started in the background (text pipes), for tests that interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "qlearn.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip


def wait_for_file(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Wait until ``path`` exists, failing if ``proc`` ends first or time runs out."""
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def run_json(*args: str, cwd: Path | None = None) -> dict:
    """``qlearn ARGS --json``: asserts success and that stdout is exactly one JSON object."""
    proc = run_cli(*args, "--json", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def cli():
    return run_cli
