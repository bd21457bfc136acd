"""Deep Q-networks: DQN with Double, Dueling, n-step and prioritized-replay variants.

:mod:`~qlearn.deep.dqn` holds the pure learning functions, :mod:`~qlearn.deep.replay`
the buffer, :mod:`~qlearn.deep.networks` the networks; :mod:`~qlearn.deep.compiled`
trains functional environments end to end under ``jit``, :mod:`~qlearn.deep.host`
drives Gymnasium environments; :mod:`~qlearn.deep.train` picks between them.
"""

import os as _os


def _configure_xla() -> None:
    """Before JAX starts: one CPU device per core (seeds train on all cores at once, see
    :class:`~qlearn.deep.trainers.CompiledBackend`) and LLVM optimisation level 1
    (compiles about twice as fast as the default, and ran as fast here). Flags the user
    set in ``XLA_FLAGS`` win; ``QLEARN_CPU_DEVICES`` overrides the device count."""
    flags = _os.environ.get("XLA_FLAGS", "")
    extra = []
    if "xla_force_host_platform_device_count" not in flags:
        try:
            cores = len(_os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            cores = _os.cpu_count() or 1
        devices = int(_os.environ.get("QLEARN_CPU_DEVICES", cores))
        extra.append(f"--xla_force_host_platform_device_count={max(1, devices)}")
    if "xla_backend_optimization_level" not in flags:
        extra.append("--xla_backend_optimization_level=1")
    if extra:
        _os.environ["XLA_FLAGS"] = " ".join([flags, *extra]).strip()


_configure_xla()


def _configure_compilation_cache() -> None:
    """Keep compiled programs on disk (``~/.cache/qlearn/jax``, or ``QLEARN_JAX_CACHE``;
    empty to turn it off): the same configuration then starts without recompiling."""
    default = _os.path.join(
        _os.environ.get("XDG_CACHE_HOME") or _os.path.expanduser("~/.cache"), "qlearn", "jax"
    )
    path = _os.environ.get("QLEARN_JAX_CACHE", default)
    if not path:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


_configure_compilation_cache()
