"""Sweep specs: a YAML file naming what to vary, read safely and validated once.

A spec is checked completely before anything runs: unknown keys, wrong types, empty
grids, bad distributions and bad metric names are refused with one line naming the key,
and every configuration it expands to is validated by building its trainer config.
A sweep compares tabular algorithms or DQN variants, not both: their options, metrics
and learning curves differ.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from qlearn.configs.dqn_config import DQNConfig
from qlearn.configs.fields import WrongValue, check_int, coerce, merge_options, scientific
from qlearn.configs.kind import training_kind
from qlearn.configs.tabular_config import TabularConfig
from qlearn.core.errors import QlearnError, yaml_problem
from qlearn.core.stats import STATISTICS
from qlearn.experiments.sweep_size import check_configs, check_counts, configuration_count
from qlearn.experiments.trials import (
    TrialSpec,
    algo_of,
    build_config,
    check_metric,
    parse_metric,
)

#: Options set per run by the sweep itself, not per configuration.
SEED_KEYS = ("seeds", "seed")
#: Trainer options a configuration may fix or sweep: TabularConfig's, then DQNConfig's.
OPTION_KEYS = tuple(
    dict.fromkeys(
        f.name
        for cls in (TabularConfig, DQNConfig)
        for f in dataclasses.fields(cls)
        if f.name not in SEED_KEYS
    )
)
#: Names people reach for, and the option they mean (for "did you mean").
ALIASES = {"learning_rate": "lr", "discount": "gamma", "layers": "net", "hidden": "net"}
#: Options that are text in the config but numbers to a user (``alpha: 0.5``).
#: Shorthands allowed at the top level of a spec (they join ``fixed``).
TOP_OPTIONS = ("world", "map_file", "algo")
DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")

DEFAULTS: dict[str, Any] = {
    "samples": None,
    "sampler_seed": 0,
    "seeds": 10,
    "seed": 0,
    "metric": "mean_return",  # dqn: DQN_METRIC
    "goal": None,
    "rank_by": "iqm",
    "confidence": 0.95,
    "bootstrap": 10_000,
    "bootstrap_seed": 0,
}
TOP_KEYS = ("name", *TOP_OPTIONS, "fixed", "grid", "random", *DEFAULTS)
#: What a DQN sweep ranks by default: the final greedy evaluation.
DQN_METRIC = "eval_return"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: its swept values and every trainer option."""

    id: int
    params: dict[str, Any]
    """The swept options only (what tells configurations apart)."""
    options: dict[str, Any]
    """All trainer options except seeds/seed."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: what is fixed, what varies, the seeds, and how to rank."""

    name: str
    fixed: dict[str, Any]
    grid: dict[str, list[Any]]
    random: dict[str, dict[str, list[Any]]]
    samples: int | None
    sampler_seed: int
    seeds: int
    seed: int
    metric: str
    goal: str
    rank_by: str
    confidence: float
    bootstrap: int
    bootstrap_seed: int
    configurations: tuple[Configuration, ...] = field(default=(), compare=False)

    @property
    def swept_keys(self) -> list[str]:
        return [*self.grid, *self.random]

    def trials(self) -> list[TrialSpec]:
        """One trial per configuration, each over all the sweep's seeds."""
        return [
            TrialSpec(c.id, c.options, self.seeds, self.seed, self.metric)
            for c in self.configurations
        ]

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec (every default explicit): a spec file that reruns this sweep."""
        out: dict[str, Any] = {"name": self.name, "fixed": self.fixed}
        if self.grid:
            out["grid"] = self.grid
        if self.random:
            out["random"] = self.random
            out["samples"] = self.samples
            out["sampler_seed"] = self.sampler_seed
        out.update(
            {key: getattr(self, key) for key in DEFAULTS if key not in ("samples", "sampler_seed")}
        )
        return out


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec file (YAML, loaded safely)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QlearnError(f"sweep spec {path} not found; pass a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QlearnError(f"cannot read sweep spec {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise QlearnError(f"{path} is not valid YAML: {yaml_problem(exc)}") from None
    return parse_spec(data, name=path.stem, base_dir=path.resolve().parent)


def parse_spec(data: Any, *, name: str = "sweep", base_dir: Path | None = None) -> SweepSpec:
    """Validate a spec given as a mapping and expand it into its configurations.

    Relative ``map_file`` paths are resolved against ``base_dir`` (the spec's folder).
    """
    if not isinstance(data, dict):
        raise QlearnError("a sweep spec must be a mapping of keys (world, fixed, grid, ...)")
    _refuse_unknown(data, TOP_KEYS, "the sweep spec")
    base_dir = Path.cwd() if base_dir is None else base_dir
    spec_name = _name(data.get("name", name))

    fixed = _options(_mapping(data.get("fixed", {}), "fixed"), "fixed")
    for key in TOP_OPTIONS:
        if key in data:
            if key in fixed:
                raise QlearnError(f"{key} is given both at the top level and in fixed; keep one")
            fixed[key] = _coerce(key, data[key], key)
    grid = _grid(data.get("grid"))
    random = _random(data.get("random"))
    samples = _samples(data, random)
    _refuse_overlap(fixed, grid, random)
    family = _family(fixed, grid, random)

    seeds = _integer(data.get("seeds", DEFAULTS["seeds"]), "seeds", 1)
    seed = _integer(data.get("seed", DEFAULTS["seed"]), "seed", 0)
    default_metric = DQN_METRIC if family == "dqn" else DEFAULTS["metric"]
    metric = parse_metric(data.get("metric", default_metric))
    goal, rank_by, confidence, bootstrap, bootstrap_seed = _ranking(data, metric.goal)
    sampler_seed = _integer(data.get("sampler_seed", DEFAULTS["sampler_seed"]), "sampler_seed", 0)

    check_counts(configuration_count(grid, samples), seeds, bootstrap)
    fixed = _resolve_paths(fixed, base_dir)
    grid = {k: [_resolve_path(k, v, base_dir) for v in vs] for k, vs in grid.items()}
    spec = SweepSpec(
        name=spec_name,
        fixed=fixed,
        grid=grid,
        random=random,
        samples=samples,
        sampler_seed=sampler_seed,
        seeds=seeds,
        seed=seed,
        metric=metric.name,
        goal=goal,
        rank_by=rank_by,
        confidence=confidence,
        bootstrap=bootstrap,
        bootstrap_seed=bootstrap_seed,
    )
    configurations = expand(spec)
    full_fixed = _full_fixed(spec, configurations)
    return dataclasses.replace(spec, fixed=full_fixed, configurations=tuple(configurations))


def _family(fixed: dict, grid: dict, random: dict) -> str:
    """``tabular`` or ``dqn``: the one family of algorithms the spec sweeps.

    Mixing them is refused: they take different options (episodes and alpha against
    steps and lr), have different metrics, and learning curves in different units.
    """
    if "algo" in grid:
        algos = grid["algo"]
    elif "algo" in random:
        algos = random["algo"].get("choice", [])
    else:
        algos = [fixed.get("algo", TabularConfig.algo)]
    families = {training_kind(a) for a in algos}
    if len(families) > 1:
        raise QlearnError(
            f"algo mixes tabular algorithms and dqn ({', '.join(map(str, algos))}); a sweep "
            "compares one kind, so split it into a tabular sweep and a dqn sweep"
        )
    return families.pop() if families else "tabular"


def _ranking(data: dict, natural_goal: str) -> tuple[str, str, float, int, int]:
    """goal, rank_by, confidence, bootstrap resamples and bootstrap seed, validated."""
    goal = data.get("goal", natural_goal)
    if goal not in ("max", "min"):
        raise QlearnError(f"goal must be max or min, got {goal!r}")
    rank_by = data.get("rank_by", DEFAULTS["rank_by"])
    if not isinstance(rank_by, str) or rank_by not in STATISTICS:
        raise QlearnError(f"rank_by must be one of {', '.join(STATISTICS)}, got {rank_by!r}")
    confidence = data.get("confidence", DEFAULTS["confidence"])
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 < confidence < 1
    ):
        raise QlearnError(f"confidence must be a number in (0, 1), e.g. 0.95; got {confidence!r}")
    bootstrap = _integer(data.get("bootstrap", DEFAULTS["bootstrap"]), "bootstrap", 100)
    bootstrap_seed = _integer(
        data.get("bootstrap_seed", DEFAULTS["bootstrap_seed"]), "bootstrap_seed", 0
    )
    return goal, rank_by, float(confidence), bootstrap, bootstrap_seed


def expand(spec: SweepSpec) -> list[Configuration]:
    """Every configuration of the spec, validated, in a fixed order.

    The grid's combinations vary their last key fastest; with ``random``, each of the
    ``samples`` draws is crossed with every grid point (so grid values are compared at
    the same random draws). Draws come from one generator seeded by ``sampler_seed``.
    """
    grid_points = [
        dict(zip(spec.grid, combo, strict=True)) for combo in itertools.product(*spec.grid.values())
    ]
    rng = np.random.default_rng(spec.sampler_seed)
    draws = [
        {key: _draw(rng, key, dist) for key, dist in spec.random.items()}
        for _ in range(spec.samples or 1)
    ]
    metric = parse_metric(spec.metric)
    out, configs = [], []
    for draw in draws:
        for point in grid_points:
            params = {**point, **draw}
            i = len(out)
            options = _complete({**spec.fixed, **params})
            try:
                cfg = build_config(options, spec.seeds, spec.seed)
                check_metric(metric, cfg)
            except QlearnError as exc:
                where = f"configuration {i} ({_label(params)})" if params else "fixed options"
                raise QlearnError(f"{where}: {exc}") from None
            options = {k: v for k, v in cfg.to_dict().items() if k not in SEED_KEYS}
            out.append(Configuration(i, params, options))
            configs.append(cfg)
    check_configs(configs, spec.seeds, spec.bootstrap)
    _check_worlds(out)
    return out


def _label(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def _complete(options: dict[str, Any]) -> dict[str, Any]:
    """A map file replaces the default world; giving both is an error."""
    both = f"give either world ({options.get('world')}) or map_file, not both; remove one"
    return merge_options(options, both=both)


def _check_worlds(configurations: list[Configuration]) -> None:
    """Load each distinct world once, so a bad name or map fails before anything trains.

    DQN configurations need nothing more: building their config resolved the
    environment already (a qlearn world, map file, gymnax or Gymnasium id).
    """
    from qlearn.tabular.train import world_of

    seen = set()
    for c in configurations:
        if training_kind(algo_of(c.options)) == "dqn":
            continue
        keys = ("world", "map_file", "gamma", "step_reward", "slip")
        world = tuple(c.options.get(k) for k in keys)
        if world in seen:
            continue
        seen.add(world)
        try:
            world_of(TabularConfig(**c.options))
        except QlearnError as exc:
            raise QlearnError(f"configuration {c.id}: {exc}") from None


def _full_fixed(spec: SweepSpec, configurations: list[Configuration]) -> dict[str, Any]:
    """The fixed options with every default made explicit (for the resolved spec).

    An option that is not swept yet differs between configurations is left out: DQN
    takes it from the swept world (its tuned settings, its discount), and will again.
    """
    swept = set(spec.swept_keys)
    first = configurations[0].options
    return {
        k: v
        for k, v in first.items()
        if k not in swept and all(c.options.get(k) == v for c in configurations)
    }


# ---- pieces of a spec -------------------------------------------------------------------


def _refuse_unknown(data: dict, known: tuple[str, ...], where: str) -> None:
    aliases = {a: k for a, k in ALIASES.items() if k in known}
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), [*known, *aliases], n=1)
            close = [aliases.get(c, c) for c in close]
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            if key in SEED_KEYS:
                hint = "seeds and seed are set once, at the top level of the spec"
            raise QlearnError(f"unknown key {key!r} in {where}; {hint}")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise QlearnError(f"{where} must be a mapping of options, got {value!r}")
    return value


def _options(data: dict, where: str) -> dict[str, Any]:
    _refuse_unknown(data, OPTION_KEYS, where)
    return {key: _coerce(key, value, f"{where}.{key}") for key, value in data.items()}


def _grid(value: Any) -> dict[str, list[Any]]:
    if value is None:
        return {}
    data = _mapping(value, "grid")
    if not data:
        raise QlearnError("grid is empty; list at least one option and its values, or remove it")
    _refuse_unknown(data, OPTION_KEYS, "grid")
    out = {}
    for key, values in data.items():
        if not isinstance(values, list) or not values:
            raise QlearnError(
                f"grid.{key} must be a non-empty list of values, e.g. [0.1, 0.5]; got {values!r}"
            )
        out[key] = [_coerce(key, v, f"grid.{key}[{i}]") for i, v in enumerate(values)]
    return out


def _random(value: Any) -> dict[str, dict[str, list[Any]]]:
    if value is None:
        return {}
    data = _mapping(value, "random")
    if not data:
        raise QlearnError("random is empty; give at least one option and its distribution")
    _refuse_unknown(data, OPTION_KEYS, "random")
    return {key: _distribution(key, dist) for key, dist in data.items()}


def _distribution(key: str, dist: Any) -> dict[str, list[Any]]:
    where = f"random.{key}"
    example = "e.g. {uniform: [0.05, 1.0]}"
    if not isinstance(dist, dict) or len(dist) != 1:
        raise QlearnError(
            f"{where} must be one distribution ({', '.join(DISTRIBUTIONS)}), {example}; "
            f"got {dist!r}"
        )
    ((kind, args),) = dist.items()
    if kind not in DISTRIBUTIONS:
        raise QlearnError(
            f"unknown distribution {kind!r} in {where}; choose one of {', '.join(DISTRIBUTIONS)}"
        )
    if not isinstance(args, list) or not args:
        raise QlearnError(f"{where}.{kind} must be a non-empty list, {example}; got {args!r}")
    if kind == "choice":
        return {kind: [_coerce(key, v, f"{where}.choice[{i}]") for i, v in enumerate(args)]}
    integers = kind == "randint"
    if not integers:
        args = [scientific(a) for a in args]
    ok = len(args) == 2 and all(
        not isinstance(a, bool) and isinstance(a, int if integers else int | float) for a in args
    )
    if not ok:
        kind_of = "integers" if integers else "numbers"
        raise QlearnError(f"{where}.{kind} must be [low, high], two {kind_of}; got {args!r}")
    low, high = args
    if (low > high) if integers else (low >= high):
        raise QlearnError(f"{where}.{kind}: low must be below high, got {args!r}")
    if kind == "loguniform" and low <= 0:
        raise QlearnError(f"{where}.loguniform: bounds must be above 0, got {args!r}")
    return {kind: [low, high]}


def _draw(rng: np.random.Generator, key: str, dist: dict[str, list[Any]]) -> Any:
    """One value of ``key`` from its distribution (randint includes both ends)."""
    ((kind, args),) = dist.items()
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if kind == "randint":
        value: Any = int(rng.integers(args[0], args[1] + 1))
    elif kind == "uniform":
        value = float(rng.uniform(args[0], args[1]))
    else:
        value = float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    return _coerce(key, value, f"random.{key}.{kind}")


def _samples(data: dict, random: dict) -> int | None:
    if "samples" not in data:
        if random:
            raise QlearnError("random needs samples: N (how many draws), e.g. samples: 20")
        return None
    if not random:
        raise QlearnError("samples only applies with random; remove it or add random options")
    return _integer(data["samples"], "samples", 1)


def _refuse_overlap(fixed: dict, grid: dict, random: dict) -> None:
    for a, b, x, y in (
        ("fixed", "grid", fixed, grid),
        ("fixed", "random", fixed, random),
        ("grid", "random", grid, random),
    ):
        both = sorted(set(x) & set(y))
        if both:
            raise QlearnError(f"{both[0]} is in both {a} and {b}; keep it in one")


def _integer(value: Any, key: str, low: int) -> int:
    check_int(value, key, low, f"write e.g. {key}: {DEFAULTS.get(key) or max(low, 1)}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise QlearnError(
            f"name must be letters, digits, '.', '_' or '-' (it names the sweep folder); "
            f"got {value!r}"
        )
    return value


#: Field types of both configs (the fields they share have the same type).
_HINTS = {**typing.get_type_hints(DQNConfig), **typing.get_type_hints(TabularConfig)}


def _coerce(key: str, value: Any, where: str) -> Any:
    """Check ``value`` against the config field's type (:func:`qlearn.configs.fields.coerce`).

    Lists of integers (``net``, ``snapshots``) stay lists: plain data for the spec file,
    the tables and JSON; the configs take them as tuples.
    """
    try:
        return coerce(key, value, _HINTS[key])
    except WrongValue as exc:
        if value is None:
            raise QlearnError(f"{where} must not be empty (null)") from None
        raise QlearnError(f"{where} must be {exc.expected}, got {value!r}") from None


def _resolve_path(key: str, value: Any, base_dir: Path) -> Any:
    if key == "map_file" and isinstance(value, str):
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())
    return value


def _resolve_paths(options: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    return {k: _resolve_path(k, v, base_dir) for k, v in options.items()}
