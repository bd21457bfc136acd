"""Names a user can train on: built-in maps, map files, Gymnasium's toy_text worlds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym

from qlearn.core.errors import QlearnError
from qlearn.envs.finite import FiniteEnv, mdp_from_toy_text
from qlearn.envs.grid import grid_mdp, load_map, parse_map
from qlearn.envs.maze import is_maze, maze_map
from qlearn.mdp import FiniteMDP

#: Default discount for Gymnasium worlds, which do not define one.
GYM_DEFAULT_GAMMA = {"CliffWalking": 1.0}
GYM_FALLBACK_GAMMA = 0.99


def builtin_worlds() -> dict[str, str]:
    """Built-in world names and their one-line descriptions."""
    out = {}
    for name in _builtin_files():
        gmap = parse_map(_builtin_text(name), name)
        out[name] = gmap.description
    from qlearn.envs.special import SPECIAL_WORLDS

    for name, (_, description) in SPECIAL_WORLDS.items():
        out[name] = description
    return dict(sorted(out.items()))


def _builtin_files() -> list[str]:
    maps = resources.files("qlearn.envs") / "maps"
    return sorted(p.name.removesuffix(".yaml") for p in maps.iterdir() if p.name.endswith(".yaml"))


def _builtin_text(name: str) -> str:
    return (resources.files("qlearn.envs") / "maps" / f"{name}.yaml").read_text(encoding="utf-8")


def toy_text_ids() -> list[str]:
    """Gymnasium environment ids whose worlds expose a transition table ``env.P``."""
    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if isinstance(spec.entry_point, str)
        and "toy_text" in spec.entry_point
        and "blackjack" not in spec.entry_point
        and "/" not in env_id
    )


def resolve_gym_id(name: str) -> str | None:
    """``name`` as a registered Gymnasium id; a bare name like "Taxi" gets its latest version."""
    if name in gym.registry:
        return name
    versions = sorted(
        (spec.version or 0, env_id)
        for env_id, spec in gym.registry.items()
        if spec.name == name and spec.namespace is None
    )
    return versions[-1][1] if versions else None


def load_world(
    name: str | None = None,
    *,
    map_file: str | Path | None = None,
    gamma: float | None = None,
    step_reward: float | None = None,
    slip: float | str | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> FiniteMDP:
    """The finite MDP of a built-in world, a map file, or a Gymnasium toy_text id."""
    if map_file is not None:
        if name is not None:
            raise QlearnError("give either a world name or --map FILE, not both")
        gmap = load_map(map_file).with_params(gamma, step_reward, slip)
        return grid_mdp(gmap)
    if not name:
        raise QlearnError("no world given; name one (see `qlearn envs`) or pass --map FILE")
    if name in _builtin_files():
        gmap = parse_map(_builtin_text(name), name).with_params(gamma, step_reward, slip)
        return grid_mdp(gmap)
    if is_maze(name):
        return grid_mdp(maze_map(name).with_params(gamma, step_reward, slip))
    from qlearn.envs.special import SPECIAL_WORLDS

    if name in SPECIAL_WORLDS:
        _refuse_grid_params(name, step_reward, slip)
        return SPECIAL_WORLDS[name][0]().with_gamma(gamma)
    gym_id = resolve_gym_id(name)
    if gym_id is not None:
        _refuse_grid_params(name, step_reward, slip)
        try:
            env = gym.make(gym_id, **(env_kwargs or {}))
        except TypeError as exc:
            raise QlearnError(f"bad option for {gym_id}: {exc}") from None
        if not isinstance(getattr(env.unwrapped, "P", None), dict):
            raise QlearnError(
                f"{gym_id} is not a finite world (it has no transition table); "
                "train it with --algo dqn"
            )
        default = GYM_DEFAULT_GAMMA.get(gym.registry[gym_id].name, GYM_FALLBACK_GAMMA)
        mdp = mdp_from_toy_text(env, gym_id, default)
        return mdp.with_gamma(gamma)
    raise QlearnError(
        f"unknown world {name!r}; choose one of {', '.join(builtin_worlds())}, "
        f"a maze such as maze:15x15:seed=1, a Gymnasium id such as FrozenLake-v1, "
        "or --map FILE"
    )


def _refuse_grid_params(name: str, step_reward: Any, slip: Any) -> None:
    if step_reward is not None or slip is not None:
        raise QlearnError(f"{name} is not a drawn grid: --step-reward and --slip do not apply")


def make(name: str | None = None, **kwargs: Any) -> FiniteEnv:
    """A qlearn world as a Gymnasium environment whose ``.mdp`` holds its arrays.

    ``kwargs`` are those of :func:`load_world` (``map_file``, ``gamma``, ``step_reward``,
    ``slip``, ``env_kwargs``); unknown keywords go to a Gymnasium world's constructor.
    """
    known = {"map_file", "gamma", "step_reward", "slip", "env_kwargs"}
    env_kwargs = dict(kwargs.pop("env_kwargs", None) or {})
    env_kwargs.update({k: v for k, v in kwargs.items() if k not in known})
    world_kwargs = {k: v for k, v in kwargs.items() if k in known}
    return FiniteEnv(load_world(name, env_kwargs=env_kwargs or None, **world_kwargs))


# ---- environments for deep Q-networks (kept free of JAX: naming them costs nothing) ----

#: gymnax environments the compiled DQN trainer accepts, and the torso that suits them.
GYMNAX_ENVS = {
    "CartPole-v1": "mlp",
    "Acrobot-v1": "mlp",
    "MountainCar-v0": "mlp",
    "Asterix-MinAtar": "minatar",
    "Breakout-MinAtar": "minatar",
    "Freeway-MinAtar": "minatar",
    "SpaceInvaders-MinAtar": "minatar",
    "Seaquest-MinAtar": "minatar",
}


def register_atari() -> None:
    """Make ale-py's Atari games known to Gymnasium (``ALE/Pong-v5``, ...)."""
    try:
        import ale_py
    except ImportError:  # pragma: no cover - ale-py is a pinned dependency
        return
    gym.register_envs(ale_py)


def gym_env_id(name: str | None) -> str | None:
    """``name`` as a registered Gymnasium id (Atari ids included), or None."""
    if not name:
        return None
    if name.startswith("ALE/") or "NoFrameskip" in name:
        register_atari()
    return resolve_gym_id(name)


def is_atari(gym_id: str) -> bool:
    return "ale_py" in str(gym.registry[gym_id].entry_point)


def finite_mdp_of(
    world: str | None, map_file: str | Path | None, gamma: float | None = None
) -> FiniteMDP | None:
    """The MDP of a qlearn world, map file or toy_text id; None if it is not finite."""
    if map_file is not None:
        return load_world(None, map_file=map_file, gamma=gamma)
    gym_id = resolve_gym_id(world) if world and not is_maze(world) else None
    finite_name = world in builtin_worlds() or is_maze(world)
    if finite_name or (gym_id is not None and gym_id in toy_text_ids()):
        return load_world(world, gamma=gamma)
    return None


def family_of(world: str | None, map_file: str | Path | None) -> str:
    """What kind of environment a name is, for DQN: finite (qlearn's worlds, one-hot
    observations), gymnax, minatar, atari, or gymnasium (raises for an unknown name)."""
    if map_file is not None or finite_mdp_of(world, None) is not None:
        return "finite"
    if world in GYMNAX_ENVS:
        return "minatar" if world.endswith("-MinAtar") else "gymnax"
    gym_id = gym_env_id(world)
    if gym_id is None:
        raise QlearnError(
            f"unknown environment {world!r}; choose a qlearn world "
            f"({', '.join(builtin_worlds())}), a gymnax id ({', '.join(GYMNAX_ENVS)}), "
            "or any registered Gymnasium id such as ALE/Pong-v5"
        )
    return "atari" if is_atari(gym_id) else "gymnasium"
