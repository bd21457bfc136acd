"""The progress bar shows in a terminal, and stays out of pipes, --quiet and --json."""

import os
import pty
import subprocess
import sys

from conftest import run_cli


def _in_terminal(*args: str) -> str:
    """Run ``qlearn ARGS`` with a pseudo-terminal as stdout and stderr; return all output."""
    leader, follower = pty.openpty()
    env = dict(os.environ, COLUMNS="160", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "qlearn.cli", *args], stdout=follower,
                            stderr=follower, stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


# A random walk on an open field: about a second of training in few episodes.
FIELD = "\n".join(["G" + "." * 24] + ["." * 25] * 23 + ["." * 24 + "S"]) + "\n"


def _args(tmp_path) -> list[str]:
    (tmp_path / "field.txt").write_text(FIELD)
    return ["train", "--map", str(tmp_path / "field.txt"), "--episodes", "1500",
            "--epsilon", "1", "--max-steps", "100000"]  # fmt: skip


def test_a_terminal_gets_a_live_progress_bar(tmp_path):
    text = _in_terminal(*_args(tmp_path), "--out", str(tmp_path / "r"))
    assert "training" in text and "episodes" in text and "mean return" in text
    assert "|Q-Q*|" in text


def test_quiet_and_pipes_get_no_progress_bar(tmp_path):
    text = _in_terminal(*_args(tmp_path), "--quiet", "--out", str(tmp_path / "q"))
    assert "mean return" not in text
    piped = run_cli(*_args(tmp_path), "--out", str(tmp_path / "p"))
    assert piped.returncode == 0 and piped.stderr == ""
