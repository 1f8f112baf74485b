"""What every figure module shares: the PNG bytes, the p-value text, the palettes and the small
panel helpers. One rule each; the figure modules (one per analysis) import them from here.

Matplotlib's object API (``Figure`` on an Agg canvas) is used, never ``pyplot``, so no global
state or GUI backend is touched.
"""

from __future__ import annotations

import io
import math

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "GRADE_COLORS",
    "GROUP_LABELS",
    "MISSING_LABEL",
    "POINT_GREY",
    "despine",
    "empty_panel",
    "footnoted_png",
    "format_p",
    "note_below",
    "panel_grid",
    "percent_axis",
    "png_bytes",
    "stack_legend",
    "tight_png",
    "unit_of",
]

# Toxicity grade 0..5 (ASTCT CRS/ICANS and CTCAE alike): pale, yellow to dark red.
GRADE_COLORS = {0: "#eef3f7", 1: "#fee08b", 2: "#fdae61", 3: "#f46d43", 4: "#d73027", 5: "#7f0000"}
# The grouping columns of the marts as panel titles.
GROUP_LABELS = {"car_t_product": "CAR T-cell product", "disease": "Disease", "overall": "All"}
# A group of subjects whose grouping value (product, disease) is null.
MISSING_LABEL = "missing"
POINT_GREY = "#9a9a9a"


def png_bytes(fig: Figure, dpi: int, *, tight: bool = False, title: str | None = None,
              description: str | None = None) -> bytes:
    """``fig`` rendered by Agg as PNG bytes; ``tight`` crops to the drawn content
    (``bbox_inches="tight"``); ``title`` / ``description`` go into the PNG's text chunks."""
    FigureCanvasAgg(fig)
    metadata = {key: value for key, value in (("Title", title), ("Description", description)) if value is not None}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, metadata=metadata or None)
    return buf.getvalue()


def tight_png(fig: Figure, dpi: int, title: str, *, fontsize: float = 10, name: str | None = None,
              description: str | None = None) -> bytes:
    """``fig`` under its ``title``, its panels laid out tightly, cropped to PNG bytes (``name`` and
    ``description`` as the PNG's Title and Description)."""
    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    return png_bytes(fig, dpi, tight=True, title=name, description=description)


def format_p(p) -> str:
    """'p = 0.012', 'p = 0.23', 'p < 0.001', or 'p = NA' when there is no test."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def panel_grid(n: int, ncols: int, panel_size: tuple[float, float], extra_height: float = 0.0) -> tuple[Figure, list]:
    """A figure of ``n`` panels (at least one), ``ncols`` per row, each ``panel_size`` inches."""
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + extra_height))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)] if n else [fig.add_subplot(1, 1, 1)]
    return fig, axes


def empty_panel(ax, text: str = "no data", **style) -> None:
    """A panel with nothing to draw: ``text`` in its centre, no axes."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, **style)
    ax.set_axis_off()


def despine(ax) -> None:
    """No top and right axis lines."""
    ax.spines[["top", "right"]].set_visible(False)


def percent_axis(ax) -> None:
    """A 0-100 % y axis with head room for the labels over the bars."""
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))


def stack_legend(fig: Figure, ax, title: str, **style) -> None:
    """The legend of ``ax``'s stacked bars at the right of ``fig``, top segment first."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", frameon=False, title=title, **style)


def footnoted_png(fig: Figure, dpi: int, title: str, note: str, *, suptitle: bool = True, **margins) -> bytes:
    """``fig`` as PNG bytes with ``note`` as its footnote (bottom left, wrapped), laid out by hand
    (``subplots_adjust(**margins)``), ``title`` over it (unless ``suptitle=False``: the figure
    draws it on an axis); ``title`` and ``note`` also go into the PNG's Title and Description."""
    if suptitle:
        fig.suptitle(title, fontsize=12)
    fig.text(0.01, 0.01, note, fontsize=7.5, ha="left", va="bottom", wrap=True)
    fig.subplots_adjust(**margins)
    return png_bytes(fig, dpi, title=title, description=note)


def note_below(fig: Figure, note: str, *, y: float = -0.01, fontsize: float = 7, wrap: bool = False) -> None:
    """A grey note centred under the panels (kept by a tight crop)."""
    fig.text(0.5, y, note, ha="center", fontsize=fontsize, color="dimgray", wrap=wrap)


def unit_of(rows: pd.DataFrame) -> str | None:
    """The one unit of ``rows`` (column ``unit``), or None when there are none or several."""
    units = rows["unit"].dropna().unique() if "unit" in rows.columns else []
    return units[0] if len(units) == 1 else None
