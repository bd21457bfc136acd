"""Tables drawn on their grid: value heatmaps with greedy arrows, the four numbers per
cell, snapshots of a table as it learns, and greedy paths.

Every function draws on a matplotlib ``Axes`` (``draw_*``) or returns a new
``Figure`` (``*_figure``); none uses pyplot's global state. Cells follow the
textbook convention: ``(col, row)``, row 1 at the bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Polygon, Rectangle

from qlearn.core.errors import QlearnError
from qlearn.exact import max_legal
from qlearn.mdp import FiniteMDP

#: Inches per grid cell; figure sizes are whole multiples of this plus fixed margins.
CELL = 1.1
#: Dots per inch of every saved figure.
DPI = 100
CMAP = "magma"
WALL_COLOR = "#3b3b3b"
CLIFF_COLOR = "#7a1f1f"
MOVE = {"N": (0.0, 1.0), "S": (0.0, -1.0), "E": (1.0, 0.0), "W": (-1.0, 0.0)}


#: Grids with more cells than this are drawn without per-cell numbers or the Q-per-door
#: view: the text would be unreadable, and drawing it takes tens of seconds.
SMALL_GRID_CELLS = 144


def is_small(mdp: FiniteMDP) -> bool:
    """Whether the world's grid is small enough to write numbers in its cells."""
    return mdp.layout is not None and mdp.layout.width * mdp.layout.height <= SMALL_GRID_CELLS


#: Grids with more cells than this are drawn as one image, without arrows, cell lines or
#: a tick per cell, at most :data:`LARGE_GRID_INCHES` wide: a million rectangles would take
#: minutes to draw and tens of megabytes to store.
LARGE_GRID_CELLS = 4_096
LARGE_GRID_INCHES = 8.0


def is_large(mdp: FiniteMDP) -> bool:
    """Whether the world's grid is drawn as a single image (see :data:`LARGE_GRID_CELLS`)."""
    return mdp.layout is not None and mdp.layout.width * mdp.layout.height > LARGE_GRID_CELLS


def _raster(mdp: FiniteMDP, values: np.ndarray, norm: Normalize) -> np.ndarray:
    """(H, W, 4) RGBA image of a large grid: live cells coloured by value, walls,
    cliffs and terminal cells in the board's colours; row 0 is the top."""
    from matplotlib.colors import to_rgba

    layout = mdp.layout
    codes = np.array(layout.cells).view(np.uint32).reshape(layout.height, -1)
    image = np.zeros((layout.height, layout.width, 4))
    image[:] = to_rgba(WALL_COLOR)
    for ch, kind in layout.kinds.items():
        if kind == "cliff" and len(ch) == 1:
            image[codes == ord(ch)] = to_rgba(CLIFF_COLOR)
    cols, rows = np.array(layout.positions).T
    top = layout.height - rows
    image[top, cols - 1] = matplotlib.colormaps[CMAP](norm(values))
    pays = np.nan_to_num(mdp.entry_reward[mdp.terminal])
    image[top[mdp.terminal], cols[mdp.terminal] - 1] = np.where(
        (pays > 0)[:, None], to_rgba("#2e7d32"), to_rgba("#b71c1c")
    )
    return image


def require_layout(mdp: FiniteMDP) -> None:
    """Grid pictures need a grid: refuse worlds without one, with a clear message."""
    if mdp.layout is None:
        raise QlearnError(f"{mdp.name} is not a grid world; grid pictures do not apply to it")


def state_values(mdp: FiniteMDP, q: np.ndarray) -> np.ndarray:
    """(S,) max over legal actions, 0 in terminal states."""
    return np.where(mdp.terminal, 0.0, max_legal(q, mdp.legal))


def preferred_actions(mdp: FiniteMDP, q: np.ndarray) -> np.ndarray:
    """(S, A) the greedy actions of each state, empty where every action is tied
    (a table that prefers nothing there yet)."""
    best = max_legal(q, mdp.legal)
    ties = mdp.legal & (q == best[:, None])
    undecided = ties.sum(axis=1) == mdp.legal.sum(axis=1)
    ties[undecided | mdp.terminal] = False
    return ties


def value_norm(values: Sequence[np.ndarray]) -> Normalize:
    """One colour scale for several value arrays (so panels compare)."""
    stacked = np.concatenate([np.ravel(v) for v in values])
    stacked = stacked[np.isfinite(stacked)]
    low, high = (float(stacked.min()), float(stacked.max())) if stacked.size else (0.0, 1.0)
    if low == high:
        low, high = low - 1.0, high + 1.0
    if low < 0 < high:
        return TwoSlopeNorm(0.0, low, high)
    return Normalize(low, high)


def _terminal_reward(mdp: FiniteMDP, s: int) -> float | None:
    pays = mdp.entry_reward[s]
    return None if np.isnan(pays) else float(pays)


def draw_board(ax: Axes, mdp: FiniteMDP) -> None:
    """Walls, cliffs and terminal cells; the frame and the (col, row) ticks."""
    require_layout(mdp)
    layout = mdp.layout
    ax.set_xlim(0, layout.width)
    ax.set_ylim(0, layout.height)
    ax.set_aspect("equal")
    if is_large(mdp):  # the image holds the board; mark the start
        col, row = layout.positions[int(np.argmax(mdp.start))]
        ax.plot([col - 0.5], [row - 0.5], marker="o", color="#00bcd4", markersize=4, zorder=5)
        ax.tick_params(labelsize=8)
        return
    states = set(layout.positions)
    for row in range(1, layout.height + 1):
        for col in range(1, layout.width + 1):
            if (col, row) in states:
                continue
            kind = layout.kinds.get(layout.char_at(col, row), "")
            color = CLIFF_COLOR if kind == "cliff" else WALL_COLOR
            ax.add_patch(Rectangle((col - 1, row - 1), 1, 1, color=color, zorder=1))
            if kind == "cliff":
                ax.text(
                    col - 0.5,
                    row - 0.5,
                    "cliff",
                    ha="center",
                    va="center",
                    color="white",
                    fontsize=8,
                    zorder=4,
                )
    for s in np.flatnonzero(mdp.terminal):
        col, row = layout.positions[s]
        reward = _terminal_reward(mdp, s)
        color = "#2e7d32" if reward is not None and reward > 0 else "#b71c1c"
        ax.add_patch(Rectangle((col - 1, row - 1), 1, 1, color=color, zorder=1))
        label = layout.char_at(col, row) + ("" if reward is None else f"\n{reward:+g}")
        ax.text(
            col - 0.5,
            row - 0.5,
            label,
            ha="center",
            va="center",
            color="white",
            fontsize=11,
            fontweight="bold",
            zorder=4,
        )
    start = int(np.argmax(mdp.start))
    col, row = layout.positions[start]
    ax.text(
        col - 0.93,
        row - 0.08,
        "start",
        ha="left",
        va="top",
        fontsize=7,
        color="black",
        zorder=5,
        bbox={"facecolor": "white", "alpha": 0.75, "pad": 1.0, "lw": 0},
    )
    ax.set_xticks(np.arange(layout.width) + 0.5, [str(c) for c in range(1, layout.width + 1)])
    ax.set_yticks(np.arange(layout.height) + 0.5, [str(r) for r in range(1, layout.height + 1)])
    ax.tick_params(length=0, labelsize=8)
    for x in range(layout.width + 1):
        ax.axvline(x, color="white", lw=0.6, zorder=3)
    for y in range(layout.height + 1):
        ax.axhline(y, color="white", lw=0.6, zorder=3)


def draw_values(
    ax: Axes,
    mdp: FiniteMDP,
    q: np.ndarray,
    norm: Normalize | None = None,
    arrows: bool = True,
    numbers: bool | None = None,
) -> Normalize:
    """Heatmap of max_a Q(s, a) with the greedy arrows; returns the colour scale used.

    ``numbers`` writes each cell's value; by default only on grids small enough to read.
    """
    require_layout(mdp)
    if numbers is None:
        numbers = is_small(mdp)
    values = state_values(mdp, q)
    live = ~mdp.terminal
    norm = norm or value_norm([values[live]])
    if is_large(mdp):
        layout = mdp.layout
        ax.imshow(_raster(mdp, values, norm), extent=(0, layout.width, 0, layout.height),
                  interpolation="nearest", zorder=1)  # fmt: skip
        draw_board(ax, mdp)
        return norm
    cmap = matplotlib.colormaps[CMAP]
    greedy = preferred_actions(mdp, q)
    quiver: list[tuple[float, float, float, float, str]] = []  # big grids: one quiver call
    for s in np.flatnonzero(live):
        col, row = mdp.layout.positions[s]
        color = cmap(norm(values[s]))
        ax.add_patch(Rectangle((col - 1, row - 1), 1, 1, color=color, zorder=1))
        text_color = "black" if norm(values[s]) > 0.55 else "white"
        if numbers:
            ax.text(
                col - 0.5,
                row - 0.82,
                f"{values[s]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color=text_color,
                zorder=4,
            )
        if arrows and not numbers:
            for a in np.flatnonzero(greedy[s]):
                dx, dy = MOVE.get(mdp.action_names[a], (0.0, 0.0))
                quiver.append((col - 0.5, row - 0.5, dx, dy, text_color))
        elif arrows:
            for a in np.flatnonzero(greedy[s]):
                dx, dy = MOVE.get(mdp.action_names[a], (0.0, 0.0))
                ax.add_patch(
                    FancyArrowPatch(
                        (col - 0.5, row - 0.45),
                        (col - 0.5 + 0.32 * dx, row - 0.45 + 0.32 * dy),
                        arrowstyle="-|>",
                        mutation_scale=12,
                        color=text_color,
                        lw=1.6,
                        zorder=5,
                    )
                )
    if quiver:
        x, y, dx, dy, colors = zip(*quiver, strict=True)
        ax.quiver(x, y, dx, dy, color=colors, angles="xy", scale_units="xy", scale=2.6,
                  pivot="middle", width=0.004, zorder=5)  # fmt: skip
    draw_board(ax, mdp)
    return norm


def draw_q_triangles(ax: Axes, mdp: FiniteMDP, q: np.ndarray, norm: Normalize | None = None):
    """Each cell split into four triangles, one per door, coloured by and labelled with
    its Q value (N at the top, E on the right, ...)."""
    require_layout(mdp)
    cmap = matplotlib.colormaps[CMAP]
    live = ~mdp.terminal
    finite = q[live][mdp.legal[live]]
    norm = norm or value_norm([finite])
    corners = {
        "N": [(-0.5, 0.5), (0.5, 0.5)],
        "S": [(-0.5, -0.5), (0.5, -0.5)],
        "E": [(0.5, -0.5), (0.5, 0.5)],
        "W": [(-0.5, -0.5), (-0.5, 0.5)],
    }
    label_at = {"N": (0, 0.3), "S": (0, -0.3), "E": (0.28, 0), "W": (-0.28, 0)}
    greedy = preferred_actions(mdp, q)
    for s in np.flatnonzero(live):
        col, row = mdp.layout.positions[s]
        cx, cy = col - 0.5, row - 0.5
        for a, name in enumerate(mdp.action_names):
            if name not in corners or not mdp.legal[s, a]:
                continue
            (x1, y1), (x2, y2) = corners[name]
            tri = Polygon(
                [(cx, cy), (cx + x1, cy + y1), (cx + x2, cy + y2)],
                facecolor=cmap(norm(q[s, a])),
                edgecolor="white",
                lw=0.4,
                zorder=1,
            )
            ax.add_patch(tri)
            lx, ly = label_at[name]
            shade = "black" if norm(q[s, a]) > 0.55 else "white"
            weight = "bold" if greedy[s, a] else "normal"
            ax.text(
                cx + lx,
                cy + ly,
                f"{q[s, a]:.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color=shade,
                fontweight=weight,
                zorder=4,
            )
    draw_board(ax, mdp)
    return norm


def _panel_size(mdp: FiniteMDP) -> tuple[float, float]:
    """Inches of one grid panel: CELL per cell, or at most LARGE_GRID_INCHES a side."""
    width, height = mdp.layout.width, mdp.layout.height
    cell = min(CELL, LARGE_GRID_INCHES / max(width, height)) if is_large(mdp) else CELL
    return width * cell, height * cell


def grid_figure(mdp: FiniteMDP, panels: int, colorbar: bool = True) -> tuple[Figure, list[Axes]]:
    """An empty figure of ``panels`` grids side by side, sized from the grid.

    Size in inches: width = panels * (cols * CELL + 0.5) + 0.9 (colour bar),
    height = rows * CELL + 0.9.
    """
    require_layout(mdp)
    w, h = _panel_size(mdp)
    fig = Figure(figsize=(panels * (w + 0.5) + (0.9 if colorbar else 0.3), h + 0.9), dpi=DPI)
    axes = fig.subplots(1, panels, squeeze=False)[0].tolist()
    # Margins in inches on a large board (fractions of a tall figure leave a wide band).
    bottom, top = (0.45 / (h + 0.9), 1 - 0.75 / (h + 0.9)) if is_large(mdp) else (0.1, 0.82)
    fig.subplots_adjust(
        left=0.06, right=0.9 if colorbar else 0.97, bottom=bottom, top=top, wspace=0.25
    )
    return fig, axes


def _colorbar(fig: Figure, axes: list[Axes], norm: Normalize, label: str) -> None:
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=matplotlib.colormaps[CMAP])
    cax = fig.add_axes((0.92, 0.12, 0.015, 0.68))
    fig.colorbar(mappable, cax=cax, label=label)


def value_figure(
    mdp: FiniteMDP,
    tables: dict[str, np.ndarray],
    title: str | None = None,
) -> Figure:
    """Value heatmaps with greedy arrows, one panel per named table (e.g. learned, Q*)."""
    fig, axes = grid_figure(mdp, len(tables))
    norm = value_norm([state_values(mdp, q)[~mdp.terminal] for q in tables.values()])
    for ax, (name, q) in zip(axes, tables.items(), strict=True):
        draw_values(ax, mdp, q, norm)
        ax.set_title(name, fontsize=10)
    _colorbar(fig, axes, norm, "max over actions of Q")
    fig.suptitle(title or f"{mdp.name}: value of the best action, greedy arrows", fontsize=11)
    return fig


def q_figure(mdp: FiniteMDP, tables: dict[str, np.ndarray], title: str | None = None) -> Figure:
    """The four numbers per cell (Q of each door), one panel per named table."""
    fig, axes = grid_figure(mdp, len(tables))
    live = ~mdp.terminal
    norm = value_norm([q[live][mdp.legal[live]] for q in tables.values()])
    for ax, (name, q) in zip(axes, tables.items(), strict=True):
        draw_q_triangles(ax, mdp, q, norm)
        ax.set_title(name, fontsize=10)
    _colorbar(fig, axes, norm, "Q(s, a)")
    fig.suptitle(title or f"{mdp.name}: Q of each door (bold = greedy)", fontsize=11)
    return fig


def snapshots_figure(mdp: FiniteMDP, snapshots: dict[int, np.ndarray], seed: int = 0) -> Figure:
    """One run's table after chosen episodes, side by side on one colour scale."""
    tables = {f"after episode {ep}": q for ep, q in sorted(snapshots.items())}
    fig = value_figure(mdp, tables, f"{mdp.name}: the table as it learns (seed {seed})")
    return fig


def greedy_path(mdp: FiniteMDP, q: np.ndarray, max_len: int | None = None) -> tuple[list, bool]:
    """States visited acting greedily on ``q`` from the most likely start.

    Ties go to the first action (N, S, E, W order); stochastic moves follow their most
    likely outcome. Returns the states and whether the path ends in a terminal (False
    when it starts repeating itself: the greedy policy loops there).
    """
    s = int(np.argmax(mdp.start))
    path, seen = [s], {s}
    limit = max_len or mdp.n_states + 1
    while not mdp.terminal[s] and len(path) <= limit:
        a = int(np.argmax(np.where(mdp.legal[s], q[s], -np.inf)))
        s = int(mdp.next_states[s, a, np.argmax(mdp.next_probs[s, a])])  # most likely
        path.append(s)
        if s in seen:
            return path, False
        seen.add(s)
    return path, bool(mdp.terminal[s])


def common_paths(mdp: FiniteMDP, q_per_seed: np.ndarray, top: int = 3) -> list:
    """The ``top`` most frequent greedy paths over seeds: ``[(path, ends, count)]``."""
    counts: dict[tuple, list] = {}
    for q in q_per_seed:
        path, ends = greedy_path(mdp, q)
        key = tuple(path)
        counts.setdefault(key, [list(path), ends, 0])[2] += 1
    ranked = sorted(counts.values(), key=lambda item: (-item[2], len(item[0])))
    return [tuple(item) for item in ranked[:top]]


PATH_COLORS = ("#00bcd4", "#ffb300", "#8bc34a", "#e91e63", "#9c27b0")


def draw_paths(ax: Axes, mdp: FiniteMDP, paths: list, total: int) -> None:
    """Greedy paths as lines from cell centre to cell centre, width by share of seeds."""
    require_layout(mdp)
    for k, (path, ends, count) in enumerate(paths):
        pts = np.array([mdp.layout.positions[s] for s in path], dtype=float) - 0.5
        offset = 0.08 * (k - (len(paths) - 1) / 2)
        share = count / max(total, 1)
        label = f"{share:.0%} of seeds: " + (
            f"{len(path) - 1} steps" if ends else "loops, never ends"
        )
        ax.plot(
            pts[:, 0] + offset,
            pts[:, 1] + offset,
            color=PATH_COLORS[k % len(PATH_COLORS)],
            lw=1.5 + 5 * share,
            solid_capstyle="round",
            zorder=6,
            label=label,
            linestyle="-" if ends else "--",
        )
        ax.plot(
            pts[-1, 0] + offset,
            pts[-1, 1] + offset,
            "o",
            zorder=7,
            color=PATH_COLORS[k % len(PATH_COLORS)],
        )
    if paths:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=7, ncol=1, frameon=False
        )
