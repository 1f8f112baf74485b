"""Best response figure of Park et al. 2023 (Fig 3A, ED Fig 1A), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database:

- :func:`best_response_figure` -- best response by day 100 as 100% stacked bars per
  ``car_t_product`` and per ``disease`` (one panel each), ORR annotated over every bar
  (Fig 3A / ED Fig 1A). Input: rows of ``marts.fct_subject_endpoints``.
  NE (no response assessment on study days 1..100, derivations.md "Response") is its own
  category by default; ``fold_ne_into_pd=True`` counts it as PD, as the paper's figure does
  (its COVID-19 death at day 47), and the footnote says which was done (:func:`response_note`).

The footnote is drawn in the image and stored in the PNG's ``Description`` text chunk. The
Kaplan-Meier figures are in :mod:`dagster_project.figures.survival`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dagster_project.figures.render import (
    GROUP_LABELS,
    MAX_WIDTH_PX,
    MISSING_LABEL,
    despine,
    footnoted_png,
    percent_axis,
    stack_legend,
)
from schemas.vocabulary import RESPONSES

__all__ = [
    "RESPONSE_CATEGORIES",
    "best_response_counts",
    "best_response_figure",
    "response_note",
]

RESPONSE_CATEGORIES = RESPONSES  # best first (schemas.vocabulary)
RESPONSE_COLORS = {
    "CR": "#1b7837",
    "PR": "#7fbf7b",
    "SD": "#fdb863",
    "PD": "#d6604d",
    "NE": "#bababa",
}


def _check_responses(values: pd.Series) -> None:
    bad = values[~values.isin(RESPONSE_CATEGORIES)]
    if len(bad):
        shown = sorted({repr(v) for v in bad})[:5]
        raise ValueError(f"best_response_d100 must be one of {RESPONSE_CATEGORIES}; got {shown}")


def best_response_counts(
    endpoints: pd.DataFrame, group_by: str, fold_ne_into_pd: bool = False
) -> pd.DataFrame:
    """Counts per group value x category (columns CR, PR, SD, PD[, NE]) plus n, orr_n, orr_pct.

    ``group_by`` is ``overall`` (one row ``all``) or a column (missing values -> ``missing``).
    ORR = (CR + PR) / all infused subjects of the group; folding NE into PD does not change it.
    """
    _check_responses(endpoints["best_response_d100"])
    response = endpoints["best_response_d100"].astype(str)
    if fold_ne_into_pd:
        response = response.replace("NE", "PD")
    categories = [c for c in RESPONSE_CATEGORIES if not (fold_ne_into_pd and c == "NE")]
    if group_by == "overall":
        keys = pd.Series("all", index=endpoints.index)
    else:
        keys = endpoints[group_by].astype(object).where(endpoints[group_by].notna(), MISSING_LABEL)
        keys = keys.astype(str)
    table = pd.crosstab(keys, response).reindex(columns=categories, fill_value=0)
    table = table.astype(int)
    table.index.name = "group_value"
    table.columns.name = None
    table["n"] = table[categories].sum(axis=1)
    table["orr_n"] = table["CR"] + table["PR"]
    table["orr_pct"] = 100.0 * table["orr_n"] / table["n"]
    return table


# response criteria (schemas.vocabulary.RESPONSE_CRITERIA) as the footnote names them
CRITERIA_NAMES = {"Lugano2014": "Lugano 2014", "ALL-MRD": "ALL, CR with marrow MRD", "IMWG2016": "IMWG 2016",
                  "iwCLL2018": "iwCLL 2018"}


def response_note(endpoints: pd.DataFrame, fold_ne_into_pd: bool = False, criteria: str = "Lugano2014") -> str:
    """The footnote of the best-response figure: definitions (by the study's response
    ``criteria``) and how NE was shown."""
    _check_responses(endpoints["best_response_d100"])
    n_ne = int((endpoints["best_response_d100"] == "NE").sum())
    base = (
        f"Best overall response ({CRITERIA_NAMES.get(criteria, criteria)}) on study days 1-100 after CAR T-cell "
        "infusion. "
        "ORR = (CR + PR) / all infused subjects. NE = not evaluable (no response assessment on "
        "days 1-100)."
    )
    subjects = f"{n_ne} subject{'s' if n_ne != 1 else ''}"
    if fold_ne_into_pd:
        return (
            f"{base} *NE folded into PD, as in Park et al. 2023: {subjects} without a response "
            f"assessment by day 100 (e.g. death before assessment) "
            f"{'is' if n_ne == 1 else 'are'} included in the PD category."
        )
    return f"{base} NE is shown as its own category ({subjects}), not folded into PD."


def best_response_figure(
    endpoints: pd.DataFrame,
    group_by: str | Sequence[str] = ("car_t_product", "disease"),
    fold_ne_into_pd: bool = False,
    include_overall: bool = True,
    title: str = "Best response by day 100",
    dpi: int = 120,
    criteria: str = "Lugano2014",
) -> bytes:
    """100% stacked bars of best response by day 100, one panel per grouping, as PNG bytes.

    ``endpoints``: rows of fct_subject_endpoints (best_response_d100 and the grouping columns).
    ``group_by``: a column or several (default car_t_product and disease: ED Fig 1A and Fig 3A).
    ``include_overall`` adds an ``All`` bar to the first panel. Each bar is labelled with its
    n and carries its ORR above; segments show their percentage. The footnote
    (:func:`response_note`) says whether NE was folded into PD.
    """
    groupings = [group_by] if isinstance(group_by, str) else list(group_by)
    if not groupings:
        raise ValueError("group_by needs at least one grouping")
    for g in groupings:
        if g != "overall" and g not in endpoints.columns:
            raise ValueError(f"no column {g!r} in the endpoints rows")
    note = response_note(endpoints, fold_ne_into_pd, criteria)
    categories = [c for c in RESPONSE_CATEGORIES if not (fold_ne_into_pd and c == "NE")]

    panels = []
    for i, g in enumerate(groupings):
        counts = best_response_counts(endpoints, g, fold_ne_into_pd)
        if include_overall and i == 0 and g != "overall":
            overall = best_response_counts(endpoints, "overall", fold_ne_into_pd)
            overall.index = pd.Index(["All"], name="group_value")
            counts = pd.concat([overall, counts])
        panels.append((g, counts))

    widths = [max(len(c), 1) + 0.6 for _, c in panels]
    # panels side by side while they fit at ~0.7 in per bar, else one per row
    per_row = 2.2 + 0.7 * sum(widths) <= MAX_WIDTH_PX / dpi - 0.2
    width = min(MAX_WIDTH_PX / dpi - 0.2, 2.2 + 0.7 * (sum(widths) if per_row else max(widths)))
    fig = Figure(figsize=(width, 5.0 if per_row else 4.2 * len(panels)), layout="constrained")
    if per_row:
        axes = fig.subplots(1, len(panels), sharey=True, gridspec_kw={"width_ratios": widths})
    else:
        axes = fig.subplots(len(panels), 1)
    axes = np.atleast_1d(axes)
    for ax, (g, counts) in zip(axes, panels):
        x = np.arange(len(counts))
        bottom = np.zeros(len(counts))
        n = counts["n"].to_numpy(dtype=float)
        for cat in categories:
            pct = np.divide(
                100.0 * counts[cat].to_numpy(dtype=float), n, out=np.zeros_like(n), where=n > 0
            )
            label = f"{cat}*" if (fold_ne_into_pd and cat == "PD") else cat
            ax.bar(x, pct, bottom=bottom, width=0.7, color=RESPONSE_COLORS[cat],
                   edgecolor="white", linewidth=0.8, label=label)
            for xi, b, p in zip(x, bottom, pct):
                if p >= 6:
                    ax.text(xi, b + p / 2, f"{p:.0f}%", ha="center", va="center", fontsize=8)
            bottom += pct
        for xi, (_, row) in zip(x, counts.iterrows()):
            if row["n"] > 0:
                orr = f"ORR {row['orr_pct']:.0f}%\n({int(row['orr_n'])}/{int(row['n'])})"
                ax.text(xi, 102, orr,
                        ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, [f"{v}\n(n={int(k)})" for v, k in zip(counts.index, counts["n"])],
                      fontsize=9)
        ax.set_xlim(-0.6, len(counts) - 0.4)
        percent_axis(ax)
        ax.set_title(GROUP_LABELS.get(g, g), fontsize=10)
        despine(ax)
    for ax in axes if not per_row else axes[:1]:
        ax.set_ylabel("Patients (%)")
    stack_legend(fig, axes[0], "Best response")
    return footnoted_png(fig, dpi, title, note)
