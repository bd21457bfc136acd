"""Schedules (epsilon, temperature, learning rate) and how they are written on the CLI.

A schedule is a frozen value: ``Schedule.parse("1:0.05:300")`` decays linearly from 1
to 0.05 over 300 episodes, then stays at 0.05. The compiled learners read schedules as
plain numbers (:meth:`Schedule.as_array`), so one loop serves every kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qlearn.core.errors import QlearnError

#: How a schedule may decay (``constant`` is the kind of one that does not).
DECAYS = ("linear", "exponential")
KINDS = ("constant", *DECAYS)
UNITS = ("episodes", "steps")


@dataclass(frozen=True)
class Schedule:
    """A value that moves from ``start`` to ``end`` over ``duration`` episodes or steps.

    ``linear`` interpolates; ``exponential`` multiplies by a constant factor each unit,
    so it reaches ``end`` exactly at ``duration`` (``end`` must be above 0).
    """

    start: float
    end: float | None = None  # None: constant
    duration: int = 0
    kind: str = "linear"  # how it decays when ``end`` is set
    unit: str = "episodes"

    def __post_init__(self) -> None:
        if self.end is None or self.kind == "constant":
            object.__setattr__(self, "kind", "constant")
            object.__setattr__(self, "end", None)
        if self.kind not in KINDS:
            raise QlearnError(f"unknown decay {self.kind!r}; choose {', '.join(KINDS)}")
        if self.unit not in UNITS:
            raise QlearnError(f"unknown decay unit {self.unit!r}; choose episodes or steps")
        if self.kind != "constant" and self.duration <= 0:
            raise QlearnError("a decaying schedule needs a duration above 0, e.g. 1:0.05:300")
        if self.kind == "exponential" and (self.start <= 0 or (self.end or 0) <= 0):
            raise QlearnError("exponential decay needs start and end above 0, e.g. 1:0.01:300")

    @classmethod
    def parse(
        cls,
        text: str | float,
        kind: str = "linear",
        unit: str = "episodes",
        default_duration: int = 0,
        name: str = "epsilon",
    ) -> Schedule:
        """Read ``START``, ``START:END`` (over ``default_duration``) or ``START:END:N``."""
        parts = str(text).split(":")
        try:
            nums = [float(p) for p in parts[:2]]
            duration = int(parts[2]) if len(parts) == 3 else default_duration
        except ValueError:
            raise QlearnError(
                f"cannot read --{name} {text!r}; write START, START:END or START:END:N, "
                "e.g. 0.1 or 1:0.05:300"
            ) from None
        if len(parts) > 3 or not all(math.isfinite(v) for v in nums):
            raise QlearnError(f"cannot read --{name} {text!r}; write START[:END[:N]]")
        if len(nums) == 1:
            return cls(nums[0])
        return cls(nums[0], nums[1], duration, kind, unit)

    def as_array(self) -> np.ndarray:
        """(kind, start, end, duration, unit) as floats for the compiled loop."""
        end = self.start if self.end is None else self.end
        return np.array(
            [KINDS.index(self.kind), self.start, end, self.duration, UNITS.index(self.unit)],
            dtype=np.float64,
        )

    def check_range(self, low: float, high: float, name: str, open_low: bool = False) -> None:
        for v in (self.start, self.end if self.end is not None else self.start):
            if (v <= low if open_low else v < low) or v > high:
                bracket = "(" if open_low else "["
                raise QlearnError(f"{name} must be in {bracket}{low:g}, {high:g}], got {v:g}")

    def __str__(self) -> str:
        if self.kind == "constant":
            return f"{self.start:g}"
        return f"{self.start:g}:{self.end:g}:{self.duration} ({self.kind}, {self.unit})"


@dataclass(frozen=True)
class LearningRate:
    """Constant ``alpha``, or ``1 / n(s,a)^omega`` from the visit count (``omega`` set)."""

    alpha: float = 0.5
    omega: float | None = None

    @classmethod
    def parse(cls, text: str | float) -> LearningRate:
        """Read ``0.5`` or ``1/n`` or ``1/n^0.8``."""
        s = str(text).replace(" ", "")
        if s.startswith("1/n"):
            rest = s[3:]
            try:
                omega = float(rest[1:]) if rest.startswith("^") else (1.0 if not rest else None)
            except ValueError:
                omega = None
            if omega is None or not 0 < omega <= 1:
                raise QlearnError(f"cannot read --alpha {text!r}; write 1/n or 1/n^W, 0 < W <= 1")
            return cls(1.0, omega)
        try:
            alpha = float(s)
        except ValueError:
            raise QlearnError(
                f"cannot read --alpha {text!r}; write a number in (0, 1] or 1/n^W"
            ) from None
        if not 0 < alpha <= 1:
            raise QlearnError(f"alpha must be in (0, 1], got {alpha}; pass e.g. --alpha 0.5")
        return cls(alpha, None)

    def __str__(self) -> str:
        if self.omega is None:
            return f"{self.alpha:g}"
        return "1/n" if self.omega == 1 else f"1/n^{self.omega:g}"


#: Ways of choosing actions while learning.
EXPLORATIONS_ALLOWED = ("epsilon-greedy", "boltzmann")
