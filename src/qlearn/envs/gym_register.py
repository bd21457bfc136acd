"""qlearn's worlds as registered Gymnasium environments.

After ``import qlearn`` (or with ``gymnasium.make("qlearn:qlearn/classic-v0")``)::

    env = gymnasium.make("qlearn/classic-v0")
    env = gymnasium.make("qlearn/grid-v0", map="S..G")      # map text or a map file path

Episodes are capped at the world's ``max_steps`` (Gymnasium's TimeLimit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from qlearn.core.errors import QlearnError
from qlearn.envs.finite import FiniteEnv
from qlearn.envs.grid import grid_mdp, load_map, parse_map
from qlearn.envs.registry import builtin_worlds, load_world

NAMESPACE = "qlearn"


def make_world(world: str, render_mode: str | None = None, **kwargs: Any) -> FiniteEnv:
    """Entry point of ``qlearn/<world>-v0``; ``kwargs`` are gamma, step_reward, slip."""
    return FiniteEnv(load_world(world, **kwargs), render_mode=render_mode)


def make_grid(
    map: str | Path | None = None,  # noqa: A002 - the keyword users pass to gymnasium.make
    render_mode: str | None = None,
    gamma: float | None = None,
    step_reward: float | None = None,
    slip: float | str | None = None,
) -> FiniteEnv:
    """Entry point of ``qlearn/grid-v0``: ``map`` is map text, or a path to a map file."""
    if map is None:
        raise QlearnError('qlearn/grid-v0 needs a map: gymnasium.make("qlearn/grid-v0", map="S.G")')
    text = str(map)
    is_file = "\n" not in text and len(text) < 4096 and Path(text).is_file()
    gmap = load_map(text) if is_file else parse_map(text, name="grid")
    return FiniteEnv(grid_mdp(gmap.with_params(gamma, step_reward, slip)), render_mode=render_mode)


def register_envs() -> None:
    """Register every built-in world as ``qlearn/<name>-v0`` and ``qlearn/grid-v0``."""
    for name in builtin_worlds():
        env_id = f"{NAMESPACE}/{name}-v0"
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=make_world,
            kwargs={"world": name},
            max_episode_steps=load_world(name).max_steps,
        )
    if f"{NAMESPACE}/grid-v0" not in gym.registry:
        gym.register(id=f"{NAMESPACE}/grid-v0", entry_point=make_grid, max_episode_steps=1000)
