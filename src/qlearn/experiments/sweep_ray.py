"""Run sweep trials as Ray Tune trials, on this machine or on a Ray cluster.

Ray is an optional extra (``pip install 'qlearn[ray]'``) imported only here, only when
asked for. Each configuration becomes one Tune trial that runs the very same
:func:`qlearn.experiments.trials.run_trial` as a local sweep (tabular or DQN), so the
numbers are the same. Every node of a cluster needs qlearn installed (the same
version) and, for ``map_file`` worlds, the map at the same path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from qlearn.core.errors import QlearnError
from qlearn.experiments.trials import TrialResult, TrialSpec, run_trial

RAY_EXTRA = "pip install 'qlearn[ray]'"


def import_ray() -> tuple[Any, Any]:
    """``(ray, ray.tune)``, or a one-line error saying how to install them."""
    try:
        import ray
        from ray import tune
    except ImportError:
        raise QlearnError(f"--ray needs Ray Tune, which is not installed; {RAY_EXTRA}") from None
    return ray, tune


def run_on_ray(
    trials: list[TrialSpec],
    *,
    address: str = "local",
    on_result: Callable[[TrialResult], None] | None = None,
    name: str = "sweep",
    cpus_per_trial: float = 1,
) -> list[TrialResult]:
    """Run one Tune trial per configuration and return their results (any order).

    ``address`` is ``"local"`` (start or join a Ray instance on this machine, honouring
    ``RAY_ADDRESS``), ``"auto"``, or ``HOST:PORT`` of a running cluster's head. If Ray is
    already initialised in this process it is used as it is and left running.
    """
    ray, tune = import_ray()
    notify = on_result or (lambda _: None)
    storage = tempfile.mkdtemp(prefix="qlearn-tune-")
    connected_here = False
    try:
        # Ray and Tune print progress on stdout; keep stdout for qlearn's own output.
        with _stdout_to_stderr(), _quiet_tune():
            if not ray.is_initialized():
                _connect(ray, address)
                connected_here = True
            grid = _fit(tune, trials, notify, name, storage, cpus_per_trial)
        return _collect(grid, len(trials))
    finally:
        if connected_here:
            with _stdout_to_stderr():
                ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)


def _connect(ray: Any, address: str) -> None:
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address == "local":
        if not os.environ.get("RAY_ADDRESS"):
            options["include_dashboard"] = False
        target = None
    else:
        _check_reachable(address)
        target = address
    try:
        ray.init(address=target, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QlearnError(
            f"cannot reach a Ray cluster at {address}: {first} (start one with "
            "`ray start --head`, then pass --ray HEAD_IP:6379)"
        ) from None


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nothing listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": leave them to Ray
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise QlearnError(
            f"cannot reach a Ray cluster at {address} ({reason}); start one with "
            "`ray start --head --port=6379` and pass --ray HEAD_IP:6379"
        ) from None


def _fit(
    tune: Any,
    trials: list[TrialSpec],
    notify: Callable[[TrialResult], None],
    name: str,
    storage: str,
    cpus_per_trial: float,
) -> Any:
    by_id = {t.config_id: t for t in trials}

    class Progress(tune.Callback):
        """Tells the caller about each finished trial (in the driver, as results arrive)."""

        def __init__(self, notify: Callable[[TrialResult], None]):
            self.notify = notify

        def __getstate__(self) -> dict:
            # Tune pickles its callbacks with the experiment state; ``notify`` may hold
            # unpicklable things (a console, a lock) and is only needed in this process.
            return {"notify": None}

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if self.notify is not None:
                self.notify(TrialResult.from_json(result["trial"]))

    trainable = tune.with_resources(
        tune.with_parameters(ray_trainable, trials=by_id), {"cpu": cpus_per_trial}
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"config": tune.grid_search(sorted(by_id))},
        tune_config=tune.TuneConfig(
            trial_name_creator=_trial_name,
            trial_dirname_creator=_trial_name,
            # A fresh worker per trial would import qlearn and compile its loops again.
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            verbose=0,
            callbacks=[Progress(notify)],
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    return tuner.fit()


def _trial_name(trial: Any) -> str:
    return f"config_{trial.config['config']}"


def ray_trainable(config: dict[str, Any], trials: dict[int, TrialSpec]) -> None:
    """The Tune trainable: run one configuration's trial and report it as JSON text.

    Numba's threads and JAX's devices are limited to the CPUs Ray gave this trial, so
    trials sharing a node do not oversubscribe it.
    """
    import ray
    from ray import tune

    from qlearn.experiments.trials import use_threads

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    use_threads(max(1, int(cpus)))
    trial = trials[config["config"]]
    result = run_trial(trial)
    values = result.values[trial.metric]
    tune.report({"score": sum(values) / len(values), "trial": result.to_json()})


def _collect(grid: Any, expected: int) -> list[TrialResult]:
    failures = [r for r in grid if r.error is not None]
    if failures:
        first = failures[0]
        config = first.config.get("config") if first.config else "?"
        message = _last_line(first.error)
        raise QlearnError(
            f"{len(failures)} of {expected} Ray trials failed; configuration {config}: {message}"
        )
    results = [TrialResult.from_json(r.metrics["trial"]) for r in grid]
    if len(results) != expected:
        raise QlearnError(f"Ray returned {len(results)} trial results, expected {expected}")
    return results


def _last_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__


@contextlib.contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune's classic reporter at verbose=0 prints nothing (the newer one still prints a
    header and a results path that qlearn deletes); qlearn reports progress itself."""
    saved = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = saved


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 (also by children) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
