"""Which half of qlearn trains a configuration: the tabular learners or the DQN family."""

from __future__ import annotations

from typing import Any

from qlearn.configs.dqn_config import DQN_ALGOS
from qlearn.core.errors import QlearnError


def training_kind(algo: Any = None, world: Any = None, map_file: Any = None) -> str:
    """``tabular`` or ``dqn``: the named algorithm's, or with none named the world's:
    finite worlds (built-in, maps, toy_text) train tabular learners, others DQN. An
    unknown world counts as tabular, whose path names it in its error."""
    if algo is not None:
        return "dqn" if algo in DQN_ALGOS else "tabular"
    if map_file is not None or world is None:
        return "tabular"
    from qlearn.envs.registry import family_of

    try:
        return "tabular" if family_of(str(world), None) == "finite" else "dqn"
    except QlearnError:
        return "tabular"
