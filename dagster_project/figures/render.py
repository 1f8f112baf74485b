"""What every figure module shares: the PNG bytes, the largest size a figure may render at, the
p-value text and its multiplicity adjustment, the palettes and the small panel helpers. One rule
each; the figure modules (one per analysis) import them from here.

Matplotlib's object API (``Figure`` on an Agg canvas) is used, never ``pyplot``, so no global
state or GUI backend is touched.

Size. Every PNG is at most :data:`MAX_WIDTH_PX` x :data:`MAX_HEIGHT_PX`: the figure modules
choose sizes and columns that fit at their dpi (:func:`panel_grid` wraps panels into more rows
rather than one long row), and :func:`png_bytes` renders at a lower dpi what would still exceed
it. The Dagster UI shows a figure (markdown metadata, ``figure_metadata``) at its pixel size in
a pop-up at most 80% of the window wide; 1,100 px fits it on a 1,440 px wide screen.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "CENSORED",
    "GRADE_COLORS",
    "GROUP_LABELS",
    "MAX_HEIGHT_PX",
    "MAX_WIDTH_PX",
    "MISSING_LABEL",
    "POINT_GREY",
    "bh_q_values",
    "censored_reason",
    "despine",
    "empty_panel",
    "footnoted_png",
    "format_p",
    "label_tests",
    "multiplicity_note",
    "note_below",
    "p_label",
    "panel_grid",
    "percent_axis",
    "png_bytes",
    "png_size",
    "stack_legend",
        "tight_png",
    "unit_of",
]

# The largest PNG a figure renders (see the module docstring), in pixels.
MAX_WIDTH_PX = 1100
MAX_HEIGHT_PX = 1800
# Censoring forms (schemas.vocabulary.CENSORING) whose analysis_value is a substitute (LLOQ/2 by
# the default rule) or the limit itself, not a measured value; 'extrapolated' is measured.
CENSORED = {"below_lloq": "below LLOQ", "above_uloq": "above ULOQ"}

# Toxicity grade 0..5 (ASTCT CRS/ICANS and CTCAE alike): pale, yellow to dark red.
GRADE_COLORS = {0: "#eef3f7", 1: "#fee08b", 2: "#fdae61", 3: "#f46d43", 4: "#d73027", 5: "#7f0000"}
# The grouping columns of the marts as panel titles.
GROUP_LABELS = {"car_t_product": "CAR T-cell product", "disease": "Disease", "overall": "All"}
# A group of subjects whose grouping value (product, disease) is null.
MISSING_LABEL = "missing"
POINT_GREY = "#9a9a9a"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def png_bytes(fig: Figure, dpi: int, *, tight: bool = False, title: str | None = None,
              description: str | None = None) -> bytes:
    """``fig`` rendered by Agg as PNG bytes; ``tight`` crops to the drawn content
    (``bbox_inches="tight"``); ``title`` / ``description`` go into the PNG's text chunks.

    At most :data:`MAX_WIDTH_PX` x :data:`MAX_HEIGHT_PX`: a figure that would be larger at ``dpi``
    is rendered again at the dpi that fits (the PNG's pHYs chunk says which)."""
    FigureCanvasAgg(fig)
    metadata = {key: value for key, value in (("Title", title), ("Description", description)) if value is not None}

    def render(at: float) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=at, bbox_inches="tight" if tight else None, metadata=metadata or None)
        return buf.getvalue()

    png = render(dpi)
    for _ in range(4):  # the size is linear in the dpi; text rounding may need one more step
        width, height = png_size(png)
        scale = min(MAX_WIDTH_PX / width, MAX_HEIGHT_PX / height)
        if scale >= 1:
            break
        dpi = min(math.floor(dpi * scale), math.ceil(dpi) - 1)
        png = render(dpi)
    return png


def tight_png(fig: Figure, dpi: int, title: str, *, fontsize: float = 10, name: str | None = None,
              description: str | None = None) -> bytes:
    """``fig`` under its ``title``, laid out by matplotlib's constrained layout (the super-title,
    panel titles and labels never overlap), cropped to PNG bytes (``name`` and ``description`` as
    the PNG's Title and Description)."""
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    fig.suptitle(title, fontsize=fontsize)
    return png_bytes(fig, dpi, tight=True, title=name, description=description)


def format_p(p, name: str = "p") -> str:
    """'p = 0.012', 'p = 0.23', 'p < 0.001', or 'p = NA' when there is no test; ``name="q"`` for
    a q-value."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return f"{name} = NA"
    if p < 0.001:
        return f"{name} < 0.001"
    return f"{name} = {p:.3f}" if p < 0.1 else f"{name} = {p:.2f}"


def bh_q_values(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values (``statsmodels`` ``multipletests``, ``fdr_bh``) over the
    p-values that are not NA; NA stays NA. The family is what the caller passes: the tests a
    figure shows."""
    p = np.asarray([np.nan if v is None or pd.isna(v) else float(v) for v in p_values], dtype=float)
    q = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        from statsmodels.stats.multitest import multipletests

        q[tested] = multipletests(p[tested], method="fdr_bh")[1]
    return q


def p_label(p, q=None, no_test: str | None = None) -> str:
    """A panel's test line: 'p = 0.03, q = 0.21', 'p = 0.03' (no q), or ``'<no_test>: no test'``
    when the panel's data admit no test (e.g. every value of a group censored); the p-value is
    then not shown, whatever the analysis table holds."""
    if no_test:
        return f"{no_test}: no test"
    if q is None or pd.isna(q):
        return format_p(p)
    return f"{format_p(p)}, {format_p(q, 'q')}"


def label_tests(keys: Sequence, p_values: Sequence, no_test: Sequence[str | None]) -> pd.DataFrame:
    """The test line of each panel of a figure that shows several tests, indexed by ``keys``:
    ``p_value``, ``no_test`` (why the panel shows no p-value, or None), ``q_value``
    (:func:`bh_q_values` over the panels that show a p-value, when there are at least two; NA
    elsewhere) and ``text`` (:func:`p_label`)."""
    out = pd.DataFrame({
        "p_value": [np.nan if v is None or pd.isna(v) else float(v) for v in p_values],
        "no_test": [r if r else None for r in no_test],
    }, index=pd.Index(list(keys), dtype=object))
    shown = out["p_value"].where(out["no_test"].isna())
    out["q_value"] = bh_q_values(shown.tolist()) if shown.notna().sum() > 1 else np.nan
    out["text"] = [p_label(p, q, r) for p, q, r in zip(out["p_value"], out["q_value"], out["no_test"])]
    return out


def multiplicity_note(n_tests: int) -> str:
    """What the q-values of a figure are ('' for fewer than two tests)."""
    if n_tests < 2:
        return ""
    return (f"q: Benjamini-Hochberg false discovery rate adjustment of the p-values over the {n_tests} tests "
            "shown; p unadjusted")


def censored_reason(groups: dict[str, Iterable]) -> str | None:
    """Why a comparison has no test: the first group (by name, e.g. ``{"pre": ..., "post": ...}``)
    whose values are all censored (:data:`CENSORED`: LLOQ/2 substitutes or ULOQ), e.g. 'all pre
    values below LLOQ', 'all values below LLOQ' when every group is; None when each group has a
    measured value (or no censoring information: a missing form counts as measured)."""
    forms = {name: list(values) for name, values in groups.items()}
    all_censored = {name: bool(f) and all(c in CENSORED for c in f) for name, f in forms.items()}
    hit = [name for name, yes in all_censored.items() if yes]
    if not hit:
        return None
    kinds = {c for name in hit for c in forms[name]}
    what = CENSORED[next(iter(kinds))] if len(kinds) == 1 else "censored"
    if len(hit) == len(forms) and len(forms) > 1:
        return f"all values {what}"
    return f"all {hit[0]} values {what}"


def panel_grid(n: int, ncols: int, panel_size: tuple[float, float], extra_height: float = 0.0,
               *, dpi: float | None = None) -> tuple[Figure, list]:
    """A figure of ``n`` panels (at least one), ``ncols`` per row, each ``panel_size`` inches,
    laid out by constrained layout. With ``dpi``, fewer columns (more rows) where ``ncols`` would
    make the figure wider than :data:`MAX_WIDTH_PX`."""
    if dpi is not None:
        ncols = min(ncols, max(1, math.floor(MAX_WIDTH_PX / dpi / panel_size[0])))
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows + extra_height), layout="constrained")
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
    """The legend of ``ax``'s stacked bars at the right of ``fig`` (outside the panels: constrained
    layout makes room for it), top segment first."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", frameon=False, title=title, **style)


def footnoted_png(fig: Figure, dpi: int, title: str, note: str, *, suptitle: bool = True) -> bytes:
    """``fig`` as PNG bytes with ``note`` as its footnote (under the panels, left, wrapped to the
    figure's width), laid out by constrained layout, ``title`` over it (unless ``suptitle=False``:
    the figure draws it on an axis), cropped to the drawn content; ``title`` and ``note`` also go
    into the PNG's Title and Description."""
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    if suptitle:
        fig.suptitle(title, fontsize=12)
    fig.text(0.01, -0.01, note, fontsize=7.5, ha="left", va="top", wrap=True)
    return png_bytes(fig, dpi, tight=True, title=title, description=note)


def note_below(fig: Figure, note: str, *, y: float = -0.01, fontsize: float = 7, wrap: bool = False) -> None:
    """A grey note centred under the panels (below the figure's edge, its top at ``y``: kept by a
    tight crop, clear of the tick labels)."""
    fig.text(0.5, y, note, ha="center", va="top", fontsize=fontsize, color="dimgray", wrap=wrap)


def unit_of(rows: pd.DataFrame) -> str | None:
    """The one unit of ``rows`` (column ``unit``), or None when there are none or several."""
    units = rows["unit"].dropna().unique() if "unit" in rows.columns else []
    return units[0] if len(units) == 1 else None
