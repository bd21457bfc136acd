"""What each kind of command loads before its work starts: start-up time users feel."""

import subprocess
import sys


def loaded_after(*modules: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after importing ``modules`` in a fresh process."""
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    code += "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(proc.stdout.split())


def test_the_dqn_command_path_does_not_load_numba_and_the_tabular_loop_does():
    dqn = loaded_after("qlearn", "qlearn.cli", "qlearn.deep.job")
    assert "numba" not in dqn and "jax" in dqn
    assert "numba" in loaded_after("qlearn.tabular.loop")


def test_the_tabular_command_path_does_not_load_jax():
    assert "jax" not in loaded_after("qlearn", "qlearn.cli", "qlearn.tabular.train")
