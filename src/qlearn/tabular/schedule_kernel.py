"""The value of a schedule at time t, as the compiled tabular loop reads schedules
(:meth:`qlearn.core.schedules.Schedule.as_array`): the one place of that arithmetic.

Apart from :mod:`qlearn.core.schedules` so that importing qlearn does not import Numba
(about 0.2 s): the deep Q-network commands never need it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def schedule_value(spec: np.ndarray, t: float) -> float:
    """Evaluate a schedule given as :meth:`Schedule.as_array` (compiled; callable from Python)."""
    kind, start, end, duration = spec[0], spec[1], spec[2], spec[3]
    if kind == 0.0:
        return start
    if t >= duration:
        return end
    frac = t / duration
    if kind == 1.0:
        return start + (end - start) * frac
    return start * (end / start) ** frac
