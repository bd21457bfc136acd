"""How JAX runs for the text core: the same choices as :mod:`qlearn.deep` makes (the cores
do not import each other), applied before the first computation.

- LLVM optimisation level 1: compiles about twice as fast as the default and ran as fast
  here (the text networks are small; compiling dominates short runs and the tests);
- compiled programs kept on disk (``~/.cache/qlearn/jax``, or ``QLEARN_JAX_CACHE``; empty
  turns it off): a second run of the same configuration starts without compiling.
"""

from __future__ import annotations

import os


def configure_jax() -> None:
    """Set the XLA flag (unless the user set it) and the compilation cache directory."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_backend_optimization_level" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=1".strip()
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "qlearn", "jax"
    )
    path = os.environ.get("QLEARN_JAX_CACHE", default)
    if path:
        import jax

        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


configure_jax()
