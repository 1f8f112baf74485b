"""Kaplan-Meier figures of Park et al. 2023 (Fig 3B/C, ED Fig 1B/C), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database:

- :func:`km_figure` -- Kaplan-Meier curves (OS or PFS; overall or by disease) as steps
  (``where="post"``) with the shaded pointwise 95% band, censor ticks and a number-at-risk table
  under the axis every 3 months. Input: ``analysis.km_curves``
  (:func:`dagster_project.lib.analysis.survival.build_km_tables`).
- :func:`km_note` -- its footnote, drawn in the image and stored in the PNG's ``Description``
  text chunk; :func:`number_at_risk` -- the table under the axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dagster_project.figures.render import MISSING_LABEL, despine, footnoted_png, format_p
from stats.kaplan_meier import DAYS_PER_MONTH

__all__ = ["ENDPOINT_TITLES", "km_figure", "km_note", "number_at_risk"]

ENDPOINT_TITLES = {"OS": "Overall survival", "PFS": "Progression-free survival"}
_OVERALL_COLOR = "#222222"
_GROUP_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]


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
    if _tested(p_value):
        text += f" Log-rank {format_p(p_value)}."
    return text


def _tested(p_value: float | None) -> bool:
    return p_value is not None and not pd.isna(p_value)


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
    despine(ax)
    if group_by != "overall" and values:
        ax.legend(loc="lower left", frameon=False)
    if _tested(p_value):
        ax.text(0.98, 0.95, f"Log-rank {format_p(p_value)}", transform=ax.transAxes,
                ha="right", va="top", fontsize=9)

    tab.set_ylim(-0.6, n_groups - 0.4)
    tab.set_yticks([])
    tab.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", fontsize=9, loc="left")

    return footnoted_png(fig, dpi, title, note, suptitle=False, left=0.17, right=0.97, top=0.93, bottom=0.14)
