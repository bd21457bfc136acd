"""The sweep figure: the metric per configuration with its interval, and the best curves."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_ROWS = 40  # configurations shown in the left panel (best first)
TOP_CURVES = 5  # learning curves shown in the right panel


def sweep_figure_png(result, dpi: int = 110) -> bytes:
    """PNG bytes of the sweep figure (see :func:`sweep_figure`)."""
    fig = sweep_figure(result)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def sweep_figure(result) -> Figure:
    """Left: the ranking statistic of each configuration with its bootstrap interval (and
    the mean as a hollow marker), best at the top. Right: the mean learning curves of the
    best configurations with a band of +-1.96 standard errors over seeds, smoothed."""
    spec = result.spec
    ranked = result.ranked[:MAX_ROWS]
    rows = len(ranked)
    fig = Figure(figsize=(13, max(4.5, 1.2 + 0.32 * rows)), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.15])
    _ranking_panel(left, result, ranked)
    _curves_panel(right, result, result.ranked[:TOP_CURVES])
    shown = f" (best {rows} of {len(result.configs)})" if rows < len(result.configs) else ""
    fig.suptitle(
        f"{spec.name}: {spec.metric} over {spec.seeds} seeds, {spec.goal} is better{shown}"
    )
    return fig


def _label(config) -> str:
    if not config.params:
        return f"#{config.id}"
    return f"#{config.id} " + ", ".join(f"{k}={_short(v)}" for k, v in config.params.items())


def _short(value) -> str:
    if isinstance(value, str):
        try:
            return f"{float(value):.4g}"
        except ValueError:
            return value
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _ranking_panel(ax, result, ranked) -> None:
    spec = result.spec
    stat = spec.rank_by
    y = np.arange(len(ranked))[::-1]
    centre = np.array([getattr(c, stat) for c in ranked])
    ci = np.array([getattr(c, f"{stat}_ci") for c in ranked])
    err = np.abs(np.stack([centre - ci[:, 0], ci[:, 1] - centre]))
    colours = ["tab:red" if c.rank == 0 else "tab:blue" for c in ranked]
    for yi, c, e, col in zip(y, centre, err.T, colours, strict=True):
        ax.errorbar(c, yi, xerr=e[:, None], fmt="o", color=col, capsize=3)
    ax.scatter([c.mean for c in ranked], y, facecolors="none", edgecolors="0.3", zorder=3)
    ax.set_yticks(y, [_label(c) for c in ranked], fontsize=8)
    name = "IQM" if stat == "iqm" else "mean"
    pct = f"{spec.confidence:.0%}"
    ax.set_xlabel(f"{spec.metric}: {name} (dot) with {pct} bootstrap CI; mean (ring)")
    ax.grid(axis="x", alpha=0.3)


def _curves_panel(ax, result, best) -> None:
    """Tabular curves are per training episode; DQN curves per greedy evaluation, drawn
    at their environment steps."""
    trials = {t.config_id: t for t in result.trials}
    lows, highs = [], []
    window = 1
    for config in best:
        trial = trials[config.id]
        mean = np.asarray(trial.curve_mean)
        se = np.asarray(trial.curve_se)
        window = max(1, len(mean) // 50)
        m, s = _smooth(mean, window), _smooth(se, window)
        x = _x(trial)[window - 1 :]
        line = ax.plot(x, m, label=_label(config), lw=1.5)[0]
        ax.fill_between(x, m - 1.96 * s, m + 1.96 * s, color=line.get_color(), alpha=0.2)
        later = slice(len(m) // 10, None)  # the first episodes would dwarf the rest
        lows.append(np.min(m[later] - 1.96 * s[later]))
        highs.append(np.max(m[later] + 1.96 * s[later]))
    if lows:
        pad = 0.05 * (max(highs) - min(lows)) or 1.0
        ax.set_ylim(min(lows) - pad, max(highs) + pad)
    first = result.trials[0] if result.trials else None
    smoothed = f"moving average over {window}"
    if first is not None and first.curve_steps is not None:
        shown = "" if window == 1 else f", {smoothed}"
        ax.set_xlabel(f"environment steps per seed (at each greedy evaluation{shown})")
        ax.set_ylabel("evaluation return (mean over seeds, band +-1.96 SE)")
    else:
        unit = first.curve_unit if first is not None else "episode"
        ax.set_xlabel(f"{unit} ({smoothed})")
        ax.set_ylabel("return (mean over seeds, band +-1.96 SE)")
    ax.set_title(f"learning curves of the best {len(best)}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)


def _x(trial) -> np.ndarray:
    """Where a curve's points lie: environment steps (DQN), else 1, 2, ... per unit."""
    if trial.curve_steps is not None:
        return np.asarray(trial.curve_steps)
    return np.arange(1, len(trial.curve_mean) + 1)


def _smooth(x: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return x
    return np.convolve(x, np.ones(window) / window, mode="valid")
