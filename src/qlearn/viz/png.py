"""Figures to PNG bytes and files (written atomically), and reading a PNG's size."""

from __future__ import annotations

import io
import struct

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes at its own size and dpi (no cropping, so sizes are exact)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of PNG bytes; raises ValueError if they are not a PNG."""
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    return struct.unpack(">II", data[16:24])


def expected_size(fig_inches: tuple[float, float], dpi: int) -> tuple[int, int]:
    """Pixel size matplotlib gives a figure of ``fig_inches`` at ``dpi``."""
    return round(fig_inches[0] * dpi), round(fig_inches[1] * dpi)
