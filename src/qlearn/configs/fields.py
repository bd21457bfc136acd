"""How a config field's value is read, wherever it comes from: a YAML config file, a
sweep spec, a saved run's config.yaml or command-line flags. One reader of values, one
check of integers and finite numbers, one loader of config files, one merge.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from qlearn.core.errors import QlearnError
from qlearn.mdp import finite_float, one_line, shown

#: Keys a saved config.yaml may carry besides the fields: what made it, which kind.
METADATA_KEYS = ("kind", "qlearn_version")
#: Fields written as text on the command line (schedules, fractions) that YAML may give
#: as numbers: 0.5 for alpha, 2/3 is text but 0.1 is a number.
TEXT_FIELDS = ("alpha", "epsilon", "temperature", "slip")
#: YAML 1.1 reads 1e-3 (no dot, no sign in the exponent) as text, not as a number.
_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class WrongValue(ValueError):
    """A value of the wrong type for its field; ``expected`` says what the field takes."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def scientific(value: Any) -> Any:
    """``value``, or the float it spells if YAML left a number such as 1e-3 as text."""
    if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
        return float(value)
    return value


def allowed_types(hint: Any) -> tuple:
    """The types a field's annotation admits (``int | None`` -> ``(int, NoneType)``)."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return typing.get_args(hint) if union else (hint,)


def expected_kind(key: str, hint: Any) -> str:
    """What a field takes, in the words of an error message."""
    allowed = allowed_types(hint)
    if key in TEXT_FIELDS:
        return "a number or text such as '1:0.05' or '1/n^0.8'"
    if bool in allowed:
        return "true or false"
    if str in allowed:
        return "text"
    if int in allowed and float not in allowed:
        return "an integer"
    if float in allowed:
        return "a number"
    return "a list of integers"


def coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as field ``key`` (annotation ``hint``) takes it, or :class:`WrongValue`.

    The harmless conversions only: numbers for text fields become text, YAML's
    scientific-notation text becomes a number; lists of integers stay lists (plain data;
    the frozen configs turn them into tuples). None passes only where the field is
    optional.
    """
    allowed = allowed_types(hint)
    if value is None:
        if type(None) in allowed:
            return None
        raise WrongValue("not empty")
    if isinstance(value, bool):
        if bool in allowed:
            return value
        raise WrongValue(expected_kind(key, hint))
    if bool in allowed:
        raise WrongValue(expected_kind(key, hint))
    if str in allowed:
        if key in TEXT_FIELDS and isinstance(value, int | float):
            return repr(value)
        if isinstance(value, str):
            return value
    elif int in allowed and float not in allowed:
        if isinstance(value, int):
            return value
    elif float in allowed:
        value = scientific(value)
        if isinstance(value, int | float):
            return value
    elif tuple in {typing.get_origin(a) for a in allowed}:
        if isinstance(value, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            return list(value)
    raise WrongValue(expected_kind(key, hint))


def check_int(value: Any, name: str, low: int, hint: str, high: int | None = None) -> None:
    """Refuse a non-integer, or one outside [low, high], naming the fix in ``hint``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise QlearnError(f"{name} must be an integer, got {shown(value)}; {hint}")
    if value < low:
        raise QlearnError(f"{name} must be at least {low}, got {shown(value)}; {hint}")
    if high is not None and value > high:
        raise QlearnError(f"{name} must be at most {high}, got {shown(value)}; {hint}")


def check_finite(value: Any, name: str, hint: str) -> None:
    """Refuse anything but a finite number (nan, inf, text, an int beyond floats)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QlearnError(f"{name} must be a number, got {shown(value)}; {hint}")
    if finite_float(value) is None:
        raise QlearnError(f"{name} must be finite, got {shown(value)}; {hint}")


def check_number(value: Any, name: str, low: float, high: float, hint: str,
                 open_low: bool = False) -> None:  # fmt: skip
    """Refuse anything but a finite number in [low, high] (or (low, high] if ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QlearnError(f"{name} must be a finite number, got {value!r}; {hint}")
    below = value <= low if open_low else value < low
    if below or value > high:
        bracket = "(" if open_low else "["
        raise QlearnError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value:g}; {hint}")


def merge_options(
    *layers: dict[str, Any], both: str = "give either a world name or --map FILE, not both"
) -> dict[str, Any]:
    """Options from layers, lowest first (tuned settings, a config file, the flags), each
    overriding the ones before. A map file sets the world to None (it replaces the default
    world too), a world named in a later layer clears an earlier map file; one layer
    naming both is refused with ``both``."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer.get("map_file") is not None:
            if layer.get("world") is not None:
                raise QlearnError(both)
            merged["world"] = None
        elif "world" in layer and "map_file" in merged:
            merged["map_file"] = None
        merged.update(layer)
    return merged


def config_from_mapping(cls: type, data: dict[str, Any], source: str) -> Any:
    """Build a frozen config dataclass from a mapping (a YAML file, CLI flags).

    Unknown keys and values of the wrong type are refused with a message naming the key
    and ``source``; the dataclass then validates ranges.
    """
    return cls(**field_values(cls, data, source))


def field_values(cls: type, data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data``'s options for the config dataclass ``cls``, each checked against its field's
    type (unknown keys refused); ranges and cross-field rules are the dataclass's job.
    Also run on a config file alone, so its wrong values are reported even when a flag
    overrides them."""
    if not isinstance(data, dict):
        raise QlearnError(f"{source} must hold a mapping of options, like 'episodes: 500'")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in METADATA_KEYS:
            continue
        if key not in names:
            raise QlearnError(
                f"unknown option {shown(key)} in {source}; known: {', '.join(sorted(names))}"
            )
        values[key] = _field_value(key, value, hints[key], source)
    return values


def _field_value(key: str, value: Any, hint: Any, source: str) -> Any:
    try:
        value = coerce(key, value, hint)
    except WrongValue as exc:
        if value is None:
            raise QlearnError(f"option {key!r} in {source} cannot be empty") from None
        raise QlearnError(
            f"option {key!r} in {source} must be {exc.expected}, "
            f"got {shown(value)} ({type(value).__name__})"
        ) from None
    if isinstance(value, list):
        return tuple(value)
    if float in allowed_types(hint) and isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an int beyond the float range
            raise QlearnError(
                f"option {key!r} in {source} must be a number within the float range, "
                f"got {shown(value)} ({type(value).__name__})"
            ) from None
    return value


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The options in a YAML config file (safe-loaded: loading runs no code)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QlearnError(f"config file {str(p)!r} not found; check the path") from None
    except (OSError, ValueError) as exc:  # ValueError: undecodable text, a NUL in the path
        raise QlearnError(f"cannot read config file {str(p)!r}: {one_line(exc)}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise QlearnError(f"config file {str(p)!r} is not valid YAML{line}") from None
    except ValueError as exc:  # a value YAML cannot build, like the date 2001-13-14
        raise QlearnError(
            f"cannot read a value in config file {str(p)!r} ({one_line(exc)}); "
            "put quotes around text that looks like a date or a number"
        ) from None
    except RecursionError:
        raise QlearnError(
            f"config file {str(p)!r} is nested too deeply to read; options take plain values"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise QlearnError(f"config file {str(p)!r} must hold a mapping like 'episodes: 500'")
    return data
