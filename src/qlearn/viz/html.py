"""Self-contained HTML reports: one page per run folder, figures embedded as data URIs.

A report needs no network and no other file: the styles are inline, every image is a
``data:image/png;base64`` URI, and a few lines of script (no external code) count the
images that decoded, writing the count to ``<body data-images-loaded>`` so that a
headless browser can check the page rendered with its figures.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

STYLE = """
body { font-family: -apple-system, 'DejaVu Sans', Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; font-size: 0.85em; }
.headline td:last-child { font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
"""

IMAGE_CHECK = """
window.addEventListener('load', function () {
  var ok = 0, imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; }
  }
  document.body.setAttribute('data-images-loaded', String(ok));
  document.body.setAttribute('data-images-total', String(imgs.length));
});
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A cell value as text: floats to 6 significant digits, None as 'never' / '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return "nan" if not np.isfinite(value) else f"{float(value):.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def image(png: bytes, alt: str, caption: str = "") -> str:
    """An embedded PNG figure with its caption."""
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def table(header: Iterable[str], rows: Iterable[Iterable[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def key_values(items: Mapping[str, Any], cls: str = "") -> str:
    """A two-column table of names and values."""
    return table(["", "value"], [[k, v] for k, v in items.items()], cls)


def frame_table(df: pd.DataFrame, max_rows: int = 2000) -> str:
    """A DataFrame as a table (the first ``max_rows`` rows, and a note if cut)."""
    shown = df.head(max_rows)
    out = table(list(shown.columns), shown.itertuples(index=False))
    if len(df) > max_rows:
        out += f'<p class="note">first {max_rows} of {len(df)} rows</p>'
    return out


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def section(heading: str, *parts: str) -> str:
    return f"<section><h2>{esc(heading)}</h2>{''.join(parts)}</section>"


def page(title: str, subtitle: str, sections: Iterable[str]) -> str:
    """The whole self-contained page."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f'<body><h1>{esc(title)}</h1><p class="note">{esc(subtitle)}</p>'
        + "".join(sections)
        + f"<script>{IMAGE_CHECK}</script></body></html>\n"
    )


def figures_section(heading: str, pngs: Mapping[str, bytes], captions: Mapping[str, str]) -> str:
    """All figures of a run, in the given order, with their captions."""
    return section(
        heading, *(image(png, name, captions.get(name, name)) for name, png in pngs.items())
    )


#: What each standard figure shows, for captions.
CAPTIONS = {
    "values.png": "Cell brightness = value of the best action there; arrows = greedy actions "
    "(none where the table prefers nothing yet). Terminal cells show their reward.",
    "q_values.png": "Four numbers per cell: each door's Q value in its triangle; bold = greedy.",
    "snapshots.png": "One run's table after the chosen episodes, on one colour scale: the "
    "glow spreads back from the reward.",
    "curve.png": "Return per episode: mean over seeds with a 95% band (mean +- 1.96 SE).",
    "gap.png": "Largest distance of any table entry from the exact answer, after each episode.",
    "left_share.png": "Share of seeds choosing left in A in each episode (95% band).",
    "compare.png": "Learning curves (mean and 95% band over seeds) and, per learner, the "
    "most common greedy paths from the start (line width = share of seeds).",
}
