"""Token-level Q for sequence generation: learn values of text from logged sequences and
decode with them, on tasks whose exact token-level Q* is known.

>>> import qlearn
>>> task = qlearn.text.make_task("graph-walk")      # trlx's randomwalks graph, seed 1000
>>> star = qlearn.text.make_task("star-graph", arms=2, arm_length=3)   # path-star instances
>>> run = qlearn.text.train(task, method="ilql", seeds=1, steps=50)   # doctest: +SKIP
>>> qlearn.text.compare(methods=("bc", "ilql"), seeds=5).to_json()    # doctest: +SKIP

Everything here is pure and in memory; run folders (``qlearn text train``) are written
by :mod:`qlearn.runs.text_results` (``qlearn.write_text_run`` from Python). JAX is loaded
only when training or decoding starts, so ``import qlearn`` stays light.
"""

from __future__ import annotations

from typing import Any

from qlearn.text.graph_tasks import GraphWalk, Task, make_task, optimality, random_walks
from qlearn.text.star_graph import StarGraph

METHODS = ("bc", "filtered-bc", "ilql", "value-guided", "best-of-n")


def _config(task: Task | str, method: str, options: dict[str, Any]):
    from qlearn.configs.text_config import TextConfig

    if isinstance(task, GraphWalk):
        options = {"nodes": task.nodes, "graph_seed": task.seed, **options}
    elif isinstance(task, StarGraph):
        options = {"nodes": task.nodes, "graph_seed": task.seed, "arms": task.arms,
                   "arm_length": task.arm_length, **options}  # fmt: skip
    if not isinstance(task, str):
        task = task.name
    return TextConfig(task=task, method=method, **options)


def train(task: Task | str = "graph-walk", *, method: str = "ilql", walks=None,
          **options: Any):  # fmt: skip
    """Train ``method``'s networks (and the BC reference) for ``seeds`` seeds on logged
    walks (default: the task's logged walks, e.g. trlx's 1,000 random walks); returns a
    ``TextRun`` in memory. Options are the fields of
    :class:`qlearn.configs.text_config.TextConfig`."""
    from qlearn.text.pipeline import logged_walks, task_of, train_run

    cfg = _config(task, method, options)
    graph = task_of(cfg)
    walks = walks if walks is not None else logged_walks(cfg, graph)
    return train_run(cfg, graph, walks, (method,))


def decode(run, methods: tuple[str, ...] | None = None, **settings: Any):
    """Evaluate a trained run's method with its decoding settings (``betas=(0, 1, 4)``,
    ``best_of=(1, 4, 16)``, ...): a ``TextComparison`` (``.records``, ``.to_json()``)."""
    from qlearn.text.pipeline import decode_settings, evaluate_run

    cfg = run.config.replace(**settings) if settings else run.config
    return evaluate_run(run, methods, decode_settings(cfg))


def compare(task: Task | str = "graph-walk", *, methods: tuple[str, ...] = METHODS,
            walks=None, **options: Any):  # fmt: skip
    """Train every network the methods need on the same logged walks and seeds, decode
    with every setting, and aggregate: a ``TextComparison`` whose ``to_json()`` is the
    object ``qlearn text compare --json`` prints."""
    from qlearn.text.pipeline import check_methods, evaluate_run, logged_walks, task_of, train_run

    methods = check_methods(methods)
    cfg = _config(task, methods[0], options)
    graph = task_of(cfg)
    walks = walks if walks is not None else logged_walks(cfg, graph)
    run = train_run(cfg, graph, walks, methods)
    return evaluate_run(run, methods)


__all__ = ["METHODS", "GraphWalk", "StarGraph", "Task", "compare", "decode", "make_task",
           "optimality", "random_walks", "train"]  # fmt: skip
