"""Kaplan-Meier figures of Park et al. 2023 (Fig 3B/C, ED Fig 1B/C), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database:

- :func:`km_figure` -- Kaplan-Meier curves (OS or PFS; overall or by disease) as steps
  (``where="post"``) with the shaded pointwise 95% band, censor ticks and a number-at-risk table
  under the axis every 3 months. Input: ``analysis.km_curves``
  (:func:`dagster_project.lib.analysis.survival.build_km_tables`).
- :func:`km_note` -- its footnote, drawn in the image and stored in the PNG's ``Description``
  text chunk; :func:`number_at_risk` -- the table under the axis; :func:`km_groups` -- each
  curve's legend entry with its subjects, colour, line style and drawing order (small groups
  last, with markers, so a one-subject line is not hidden under a larger group's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from dagster_project.figures.render import MISSING_LABEL, despine, footnoted_png, format_p
from stats.kaplan_meier import DAYS_PER_MONTH

__all__ = ["ENDPOINT_TITLES", "SMALL_GROUP", "km_figure", "km_groups", "km_note", "number_at_risk"]

ENDPOINT_TITLES = {"OS": "Overall survival", "PFS": "Progression-free survival"}
_OVERALL_COLOR = "#222222"
# Okabe-Ito: distinct for colour-blind readers; with a line style each, distinct in grey print too.
_GROUP_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
_GROUP_STYLES = ["-", "--", "-.", ":"]
# A group of fewer subjects is drawn last (on top), with a marker at each step and censoring.
SMALL_GROUP = 10


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


def km_groups(rows: pd.DataFrame, group_by: str) -> pd.DataFrame:
    """The curves of one endpoint x grouping of ``analysis.km_curves`` (``rows``), one row each in
    legend order (by name, missing last): ``group_value`` (None for missing), ``name``,
    ``n_subjects`` (at risk at the first time: every subject of the group), ``label``
    ('FL (n = 1 subject)'), ``color``, ``linestyle``, ``small`` (fewer than :data:`SMALL_GROUP`
    subjects: markers), ``zorder`` and ``linewidth`` (larger groups first and wider, smaller ones
    over them and narrower)."""
    keys = rows["group_value"].astype(object).where(rows["group_value"].notna(), None)
    values = sorted(set(keys.tolist()), key=lambda v: (v is None, str(v)))
    out = []
    for k, value in enumerate(values):
        curve = rows[keys.isna() if value is None else keys == value]
        n = int(curve.sort_values("time_days", kind="stable")["n_at_risk"].iloc[0])
        if group_by == "overall":
            name, color, style = "All", _OVERALL_COLOR, "-"
        else:
            name = MISSING_LABEL if value is None else str(value)
            color, style = _GROUP_COLORS[k % len(_GROUP_COLORS)], _GROUP_STYLES[k % len(_GROUP_STYLES)]
        out.append({"group_value": value, "name": name, "n_subjects": n,
                    "label": f"{name} (n = {n} subject{'' if n == 1 else 's'})", "color": color,
                    "linestyle": style, "small": group_by != "overall" and n < SMALL_GROUP})
    groups = pd.DataFrame(out, columns=["group_value", "name", "n_subjects", "label", "color", "linestyle", "small"])
    # drawing order: most subjects first and widest, so a smaller line lies on top of a larger one
    # and the larger one still shows at its edges where they coincide
    order = groups["n_subjects"].rank(method="first", ascending=False).astype(float) if len(groups) else 0.0
    groups["zorder"] = 2.0 + order / 100
    groups["linewidth"] = np.maximum(1.2, 2.6 - 0.6 * (order - 1)) if len(groups) else 0.0
    return groups


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
    or 0), censor ticks at times with censoring, a legend naming each group with its subjects
    (:func:`km_groups`: small groups drawn on top with markers), and a number-at-risk table at 0,
    ``interval_months``, 2 x ``interval_months``, ... months. ``p_value`` (e.g. the log-rank
    test of ``build_km_tables``) is printed on the plot and in the footnote when given.
    """
    if endpoint not in ENDPOINT_TITLES:
        raise ValueError(f"endpoint must be one of {tuple(ENDPOINT_TITLES)}, got {endpoint!r}")
    rows = km_curves[(km_curves["endpoint"] == endpoint) & (km_curves["group_by"] == group_by)]
    keys = rows["group_value"].astype(object).where(rows["group_value"].notna(), None)
    groups = km_groups(rows, group_by)
    values = groups["group_value"].tolist()
    title = title or ENDPOINT_TITLES[endpoint]
    note = km_note(endpoint, p_value)

    last = float(rows["time_days"].max()) / DAYS_PER_MONTH if len(rows) else interval_months
    if max_months is None:
        max_months = interval_months * max(1, math.ceil(last / interval_months))
    ticks = np.arange(0, max_months + 1e-9, interval_months)

    n_groups = max(len(values), 1)
    fig = Figure(figsize=(7.0, 4.6 + 0.25 * n_groups), layout="constrained")
    grid = fig.add_gridspec(2, 1, height_ratios=[5.0, 0.45 + 0.3 * n_groups])
    ax = fig.add_subplot(grid[0])
    tab = fig.add_subplot(grid[1], sharex=ax)

    for k, g in enumerate(groups.itertuples(index=False)):
        value = g.group_value
        curve = rows[keys.isna() if value is None else keys == value].sort_values("time_days")
        color, z = g.color, g.zorder
        marker = {"marker": "o", "markersize": 4.5, "markerfacecolor": "white"} if g.small else {}
        x = np.concatenate([[0.0], curve["time_days"].to_numpy(dtype=float) / DAYS_PER_MONTH])
        s = np.concatenate([[1.0], curve["survival"].to_numpy(dtype=float)])
        lo = np.concatenate([[1.0], curve["ci_low"].to_numpy(dtype=float)])
        hi = np.concatenate([[1.0], curve["ci_high"].to_numpy(dtype=float)])
        lo, hi = np.where(np.isnan(lo), s, lo), np.where(np.isnan(hi), s, hi)
        ax.fill_between(x, lo, hi, step="post", color=color, alpha=0.15, linewidth=0, zorder=1)
        ax.step(x, s, where="post", color=color, linewidth=g.linewidth, linestyle=g.linestyle,
                label=g.label, zorder=z, **marker)
        cens = curve[curve["n_censored"] > 0]
        ax.plot(cens["time_days"].to_numpy(dtype=float) / DAYS_PER_MONTH,
                cens["survival"].to_numpy(dtype=float), linestyle="none", marker="|",
                markersize=9, markeredgewidth=1.4, color=color, zorder=z)
        at_risk = number_at_risk(curve, ticks * DAYS_PER_MONTH)
        y = n_groups - 1 - k
        for t, n in zip(ticks, at_risk):
            tab.text(t, y, str(n), ha="center", va="center", fontsize=8.5, color=color)
        tab.text(-0.04, y, g.name, transform=tab.get_yaxis_transform(), ha="right",
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
    if values:  # the names with their subjects, in name order
        ax.legend(loc="lower left", frameon=False, fontsize=8.5, handlelength=2.6)
    if _tested(p_value):
        ax.text(0.98, 0.03, f"Log-rank {format_p(p_value)}", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=9)

    tab.set_ylim(-0.6, n_groups - 0.4)
    tab.set_yticks([])
    tab.tick_params(axis="x", labelbottom=False, length=0)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("Number at risk", fontsize=9, loc="left")

    return footnoted_png(fig, dpi, title, note, suptitle=False)
