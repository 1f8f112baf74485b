"""Response and survival figures of Park et al. 2023 (Fig 3A-C, ED Fig 1A-C), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database:

- :func:`best_response_figure` -- best response by day 100 as 100% stacked bars per
  ``car_t_product`` and per ``disease`` (one panel each), ORR annotated over every bar
  (Fig 3A / ED Fig 1A). Input: rows of ``marts.fct_subject_endpoints``.
  NE (no response assessment on study days 1..100, derivations.md "Response") is its own
  category by default; ``fold_ne_into_pd=True`` counts it as PD, as the paper's figure does
  (its COVID-19 death at day 47), and the footnote says which was done (:func:`response_note`).
- :func:`km_figure` -- Kaplan-Meier curves (OS or PFS; overall or by disease) as steps
  (``where="post"``) with the shaded pointwise 95% band, censor ticks and a number-at-risk table
  under the axis every 3 months (Fig 3B/C, ED Fig 1B/C). Input: ``analysis.km_curves``
  (:func:`dagster_project.lib.analysis.survival.build_km_tables`).

Both figures carry their footnote in the image and in the PNG's ``Description`` text chunk.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from stats.kaplan_meier import DAYS_PER_MONTH

__all__ = [
    "RESPONSE_CATEGORIES",
    "best_response_counts",
    "best_response_figure",
    "km_figure",
    "km_note",
    "number_at_risk",
    "response_note",
]

RESPONSE_CATEGORIES = ("CR", "PR", "SD", "PD", "NE")
RESPONSE_COLORS = {
    "CR": "#1b7837",
    "PR": "#7fbf7b",
    "SD": "#fdb863",
    "PD": "#d6604d",
    "NE": "#bababa",
}
GROUP_LABELS = {"car_t_product": "CAR T-cell product", "disease": "Disease", "overall": "All"}
ENDPOINT_TITLES = {"OS": "Overall survival", "PFS": "Progression-free survival"}
MISSING_LABEL = "missing"
_OVERALL_COLOR = "#222222"
_GROUP_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


# --------------------------------------------------------------------------------------------
# Best response by day 100
# --------------------------------------------------------------------------------------------


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


def response_note(endpoints: pd.DataFrame, fold_ne_into_pd: bool = False) -> str:
    """The footnote of the best-response figure: definitions and how NE was shown."""
    _check_responses(endpoints["best_response_d100"])
    n_ne = int((endpoints["best_response_d100"] == "NE").sum())
    base = (
        "Best overall response (Lugano 2014) on study days 1-100 after CAR T-cell infusion. "
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


def _png(fig: Figure, title: str, description: str, dpi: int) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=dpi,
        metadata={"Title": title, "Description": description},
    )
    return buf.getvalue()


def best_response_figure(
    endpoints: pd.DataFrame,
    group_by: str | Sequence[str] = ("car_t_product", "disease"),
    fold_ne_into_pd: bool = False,
    include_overall: bool = True,
    title: str = "Best response by day 100",
    dpi: int = 150,
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
    note = response_note(endpoints, fold_ne_into_pd)
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
    fig = Figure(figsize=(2.2 + 1.1 * sum(widths), 5.6))
    axes = fig.subplots(1, len(panels), sharey=True, gridspec_kw={"width_ratios": widths})
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
        ax.set_ylim(0, 118)
        ax.set_yticks(range(0, 101, 20))
        ax.set_title(GROUP_LABELS.get(g, g), fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("Patients (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", frameon=False,
               title="Best response")
    fig.suptitle(title, fontsize=12)
    fig.text(0.01, 0.01, note, fontsize=7.5, ha="left", va="bottom", wrap=True)
    fig.subplots_adjust(left=0.09, right=0.84, top=0.86, bottom=0.22, wspace=0.15)
    return _png(fig, title, note, dpi)


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------


def number_at_risk(curve: pd.DataFrame, times_days: Sequence[float]) -> list[int]:
    """Subjects at risk (time >= t) at each t, read off one group's km_curves rows.

    n_at_risk of the first curve row at or after t; 0 after the last observed time. Exact for
    t >= 0 because the curve lists every distinct time, event or censoring.
    """
    t = curve["time_days"].to_numpy(dtype=float)
    r = curve["n_at_risk"].to_numpy(dtype=int)
    order = np.argsort(t, kind="stable")
    t, r = t[order], r[order]
    out = []
    for v in times_days:
        i = int(np.searchsorted(t, v, side="left"))
        out.append(int(r[i]) if i < t.size else 0)
    return out


def km_note(endpoint: str, p_value: float | None = None) -> str:
    """The footnote of the KM figure."""
    event = "death" if endpoint == "OS" else "progression or death"
    text = (
        f"Kaplan-Meier estimate from CAR T-cell infusion (event: {event}); shaded region: "
        "pointwise 95% confidence interval (log-log); ticks: censored subjects. "
        "Months = days / 30.4375."
    )
    if p_value is not None and not (isinstance(p_value, float) and math.isnan(p_value)):
        text += f" Log-rank {_fmt_p(p_value)}."
    return text


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def km_figure(
    km_curves: pd.DataFrame,
    endpoint: str = "OS",
    group_by: str = "overall",
    p_value: float | None = None,
    interval_months: float = 3,
    max_months: float | None = None,
    title: str | None = None,
    dpi: int = 150,
) -> bytes:
    """Kaplan-Meier curves of one endpoint and grouping from ``analysis.km_curves``, as PNG bytes.

    One step curve per group_value (``where="post"``, starting at survival 1 at time 0), the
    pointwise 95% band shaded (collapsed onto the curve where the CI is null, i.e. survival 1
    or 0), censor ticks at times with censoring, and a number-at-risk table at 0,
    ``interval_months``, 2 x ``interval_months``, ... months. ``p_value`` (e.g. the log-rank
    test of ``build_km_tables``) is printed on the plot and in the footnote when given.
    """
    if endpoint not in ENDPOINT_TITLES:
        raise ValueError(f"endpoint must be one of {tuple(ENDPOINT_TITLES)}, got {endpoint!r}")
    rows = km_curves[(km_curves["endpoint"] == endpoint) & (km_curves["group_by"] == group_by)]
    keys = rows["group_value"].astype(object).where(rows["group_value"].notna(), None)
    values = sorted(set(keys.tolist()), key=lambda v: (v is None, str(v)))
    title = title or ENDPOINT_TITLES[endpoint]
    note = km_note(endpoint, p_value)

    last = float(rows["time_days"].max()) / DAYS_PER_MONTH if len(rows) else interval_months
    if max_months is None:
        max_months = interval_months * max(1, math.ceil(last / interval_months))
    ticks = np.arange(0, max_months + 1e-9, interval_months)

    n_groups = max(len(values), 1)
    fig = Figure(figsize=(7.0, 5.0 + 0.25 * n_groups))
    grid = fig.add_gridspec(2, 1, height_ratios=[5.0, 0.45 + 0.3 * n_groups], hspace=0.35)
    ax = fig.add_subplot(grid[0])
    tab = fig.add_subplot(grid[1], sharex=ax)

    for k, value in enumerate(values):
        curve = rows[keys.isna() if value is None else keys == value].sort_values("time_days")
        color = _OVERALL_COLOR if group_by == "overall" else _GROUP_COLORS[k % len(_GROUP_COLORS)]
        if group_by == "overall":
            label = "All"
        else:
            label = MISSING_LABEL if value is None else str(value)
        x = np.concatenate([[0.0], curve["time_days"].to_numpy(dtype=float) / DAYS_PER_MONTH])
        s = np.concatenate([[1.0], curve["survival"].to_numpy(dtype=float)])
        lo = np.concatenate([[1.0], curve["ci_low"].to_numpy(dtype=float)])
        hi = np.concatenate([[1.0], curve["ci_high"].to_numpy(dtype=float)])
        lo, hi = np.where(np.isnan(lo), s, lo), np.where(np.isnan(hi), s, hi)
        ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.18, linewidth=0)
        ax.step(x, s, where="post", color=color, linewidth=1.8, label=label)
        cens = curve[curve["n_censored"] > 0]
        ax.plot(cens["time_days"].to_numpy(dtype=float) / DAYS_PER_MONTH,
                cens["survival"].to_numpy(dtype=float), linestyle="none", marker="|",
                markersize=9, markeredgewidth=1.4, color=color)
        at_risk = number_at_risk(curve, ticks * DAYS_PER_MONTH)
        y = n_groups - 1 - k
        for t, n in zip(ticks, at_risk):
            tab.text(t, y, str(n), ha="center", va="center", fontsize=8.5, color=color)
        tab.text(-0.06, y, label, transform=tab.get_yaxis_transform(), ha="right",
                 va="center", fontsize=8.5, color=color)

    if not values:
        ax.text(0.5, 0.5, "no subjects", transform=ax.transAxes, ha="center", va="center")
    ax.set_xlim(0, max_months)
    ax.set_ylim(0, 1.04)
    ax.set_xticks(ticks)
    ax.tick_params(labelbottom=True)
    ax.set_xlabel("Months from CAR T-cell infusion")
    ax.set_ylabel(f"{title} probability")
    ax.set_title(title, fontsize=12)
    ax.spines[["top", "right"]].set_visible(False)
    if group_by != "overall" and values:
        ax.legend(loc="lower left", frameon=False)
    if p_value is not None and not (isinstance(p_value, float) and math.isnan(p_value)):
        ax.text(0.98, 0.95, f"Log-rank {_fmt_p(p_value)}", transform=ax.transAxes,
                ha="right", va="top", fontsize=9)

    tab.set_ylim(-0.6, n_groups - 0.4)
    tab.set_yticks([])
    tab.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", fontsize=9, loc="left")

    fig.text(0.01, 0.01, note, fontsize=7.5, ha="left", va="bottom", wrap=True)
    fig.subplots_adjust(left=0.17, right=0.97, top=0.93, bottom=0.14)
    return _png(fig, title, note, dpi)
