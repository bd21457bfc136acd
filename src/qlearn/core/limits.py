"""What this machine can hold: its memory, and a one-line refusal of what would not fit.

Sizes are checked before any work starts (a sweep's tables, curves and bootstrap
resamples; a training run's episodes), so a request too large fails in a second with
the key to change, instead of after minutes with an allocation error.
"""

from __future__ import annotations

import os

from qlearn.core.errors import QlearnError

#: Share of the machine's memory one command may plan to use (the rest is for the
#: interpreter, libraries, the operating system and other programs).
USABLE_SHARE = 0.5


def machine_memory() -> int:
    """Bytes of physical memory on this machine (16 GiB if the system will not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 16 * 2**30


def usable_memory() -> int:
    """Bytes one command may plan to use: :data:`USABLE_SHARE` of the machine's memory."""
    return int(machine_memory() * USABLE_SHARE)


def human_bytes(n: float) -> str:
    """``n`` bytes as a short number with its unit: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_fits(needed: float, what: str, fix: str) -> None:
    """Refuse (one line) when ``needed`` bytes exceed what this machine can hold.

    ``what`` names the request ("the sweep's curves"), ``fix`` the key to change.
    """
    if needed > usable_memory():
        raise QlearnError(
            f"{what} would need about {human_bytes(needed)} of memory, more than this machine "
            f"can hold ({human_bytes(usable_memory())} usable of {human_bytes(machine_memory())}); "
            f"{fix}"
        )
