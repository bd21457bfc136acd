"""qlearn: value-based reinforcement learning, from exact tabular worlds to deep Q-networks.

>>> import qlearn
>>> env = qlearn.make("classic")
>>> round(float(qlearn.solve(env).v[env.mdp.state_index("(1,1)")]), 4)
0.6561
"""

from pathlib import Path

from qlearn.core.errors import QlearnError
from qlearn.core.schedules import LearningRate, Schedule
from qlearn.core.version import __version__  # noqa: F401
from qlearn.envs.finite import FiniteEnv
from qlearn.envs.grid import GridMap, load_map, parse_map
from qlearn.envs.gym_register import register_envs as _register_envs
from qlearn.envs.registry import builtin_worlds, load_world, make
from qlearn.exact import Solution, evaluate_policy, policy_return, value_iteration
from qlearn.exact import solve as _solve_mdp
from qlearn.mdp import FiniteMDP

_register_envs()

from qlearn import text  # noqa: E402  (token-level Q: qlearn.text.make_task/train/compare)


def as_mdp(env: "FiniteEnv | FiniteMDP | str") -> FiniteMDP:
    """The MDP behind a world name, a :class:`FiniteEnv`, or an MDP itself."""
    if isinstance(env, FiniteMDP):
        return env
    if isinstance(env, FiniteEnv):
        return env.mdp
    if isinstance(env, str):
        return load_world(env)
    raise QlearnError(f"expected a world name, FiniteEnv or FiniteMDP, got {type(env).__name__}")


def solve(
    env: "FiniteEnv | FiniteMDP | str", gamma: float | None = None, tol: float = 1e-10
) -> Solution:
    """Q*, V* and every optimal action of a finite world, exactly."""
    return _solve_mdp(as_mdp(env), gamma, tol)


def train(env=None, *, algo: str | None = None, **options):
    """Train on a world or environment and return the run.

    Tabular algorithms (q-learning, sarsa, expected-sarsa, double-q, td0) return a
    :class:`~qlearn.tabular.train.TabularRun` (tables, metrics, greedy returns);
    ``algo="dqn"`` (or ``"pqn"``) returns a :class:`~qlearn.deep.train.DQNRun` (parameters per seed,
    evaluations, episodes; on finite worlds the network's Q table). With no ``algo``,
    finite worlds train Q-learning and other environments DQN.
    """
    if algo is None:
        algo = "q-learning" if _is_finite(env) else "dqn"
    if algo in ("dqn", "pqn"):
        from qlearn.deep.train import train as train_dqn

        return train_dqn(env, algo=algo, **options)
    from qlearn.tabular.train import train as train_tabular

    return train_tabular(env, algo=algo, **options)


def _is_finite(env) -> bool:
    from qlearn.configs.kind import training_kind

    finite = env is None or isinstance(env, FiniteEnv | FiniteMDP)
    return finite or training_kind(world=env) == "tabular"


def explain(env: "FiniteEnv | FiniteMDP | str" = "classic", **options):
    """Narrate updates with their arithmetic (see :func:`qlearn.tabular.explain.explain`).

    With no ``steps`` or ``episodes`` on ``classic``: the tutorial's hand-run.
    """
    from qlearn.tabular.explain import explain as narrate

    return narrate(as_mdp(env), **options)


def compare(env: "FiniteEnv | FiniteMDP | str" = "cliff", **options):
    """Train several learners on the same seeds (see :func:`qlearn.experiments.compare.compare`)."""
    from qlearn.experiments.compare import compare as run_comparison

    return run_comparison(env if isinstance(env, str) else as_mdp(env), **options)


def plan(env: "FiniteEnv | FiniteMDP | str" = "classic", *, q="exact", planner="mcts",
         simulations=16, **settings):  # fmt: skip
    """Plan with a value table from every start state and judge it against Q* (see
    :mod:`qlearn.experiments.plan`). ``q`` is a table (S, A) such as ``run.q``,
    ``"exact"``, ``"zero"`` (or None: no knowledge), or a finished run folder; ``planner``
    and ``simulations`` take one value or several. The other settings are the fields of
    :class:`~qlearn.experiments.plan.PlanSettings`. Returns a ``PlanResult``: ``.table``
    (one row per planner and budget) and ``.per_state`` (each start state's regret)."""
    import numpy as np

    from qlearn.experiments.plan import PlanSettings, plan_with
    from qlearn.experiments.plan import plan as run_plan

    planners = (planner,) if isinstance(planner, str) else tuple(planner)
    budgets = (simulations,) if isinstance(simulations, int) else tuple(simulations)
    config = PlanSettings(planners=planners, simulations=budgets, **settings)
    mdp = as_mdp(env)
    if q is None or isinstance(q, str):
        return plan_with(mdp, "zero" if q is None else q, config)
    return run_plan(mdp, np.asarray(q, dtype=float), config, "table")


def sweep(spec, *, ray: str | None = None, workers: int | None = None):
    """Run a sweep (a spec file, a mapping in the spec format, or a SweepSpec).

    Returns a :class:`qlearn.experiments.sweep.SweepResult`: per-seed ``table``, mean
    ``curves``, per-configuration statistics ``configs`` and the ``best`` one.
    ``ray="local"`` or ``ray="HEAD:6379"`` runs the trials on Ray Tune.
    """
    from qlearn.experiments.sweep import run_sweep

    return run_sweep(spec, ray=ray, workers=workers)


def figures_of(result) -> dict:
    """Every figure of a trained run (:func:`qlearn.train`), a comparison
    (:func:`qlearn.compare`) or a solution's world and Q* given as ``(mdp, solution)``."""
    from qlearn.experiments.compare import Comparison
    from qlearn.tabular.train import TabularRun
    from qlearn.viz import comparison_figure, run_figures, solution_figures

    if isinstance(result, TabularRun):
        from qlearn.runs.tabular_results import pictures_of

        return run_figures(pictures_of(result))
    if isinstance(result, Comparison):
        from qlearn.experiments.compare_run import comparison_pictures

        return {"compare.png": comparison_figure(comparison_pictures(result))}
    if isinstance(result, tuple) and len(result) == 2:
        mdp, solution = result
        return solution_figures(mdp, solution.q)
    raise TypeError("figures_of takes a TabularRun, a Comparison or (mdp, solution)")


def write_text_run(run, out, plot: bool = False) -> dict:
    """Evaluate a run of :func:`qlearn.text.train` and write it as a run folder, as
    ``qlearn text train`` does (config.yaml, metrics.csv, networks, figures, report.html,
    summary.json); returns the summary."""
    from qlearn.runs.text_results import write_text_run as write

    return write(run, out, plot)


def save_png(fig, path) -> Path:
    """Write a figure of :func:`figures_of` as a PNG file at its exact size, atomically."""
    from qlearn.runs.folder import save_png as write_png
    from qlearn.viz import figure_png

    return write_png(figure_png(fig), path)


__all__ = [
    "FiniteEnv",
    "FiniteMDP",
    "GridMap",
    "LearningRate",
    "QlearnError",
    "Schedule",
    "Solution",
    "as_mdp",
    "builtin_worlds",
    "compare",
    "evaluate_policy",
    "explain",
    "figures_of",
    "load_map",
    "load_world",
    "make",
    "parse_map",
    "plan",
    "policy_return",
    "save_png",
    "solve",
    "sweep",
    "text",
    "train",
    "value_iteration",
    "write_text_run",
]
