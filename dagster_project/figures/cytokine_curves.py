"""Cytokine kinetic curves (Park 2023 Fig. 4A, Extended Data Fig. 2) as PNG bytes, from the
biomarker mart and ``analysis.cytokine_curves`` (no Dagster, no DuckDB).

:func:`cytokine_curves_png`: serum (or CSF) analytes over study days, one panel per analyte,
samples as points, the LOESS fit of ``analysis.cytokine_curves`` as a solid line and its
pointwise 95% band as dashed lines (``band="dashed"``) or a shaded ribbon (``band="shaded"``,
ggplot's smoother), on a log10 axis: ``groups=("all",)`` draws Park 2023 Fig. 4A (orange line),
``groups=("ICANS 0-2", "ICANS 3-4")`` Extended Data Fig. 2, ``groups=("IEC-HS present",
"IEC-HS absent")`` the kinetics by carHLH of Lichtenstein 2021, and any study's grouping
(``group_by`` of the curves: a subject attribute's values are named ``<attribute> = <value>``).
Each line's legend gives the samples it was fitted to and their subjects (:func:`curve_label`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.transforms import offset_copy

from dagster_project.figures.render import POINT_GREY, empty_panel, note_below, panel_grid, tight_png, unit_of

__all__ = ["GROUP_COLORS", "curve_label", "cytokine_curves_png", "group_color", "group_name"]

GROUP_COLORS = {"all": "#E69F00", "ICANS 0-2": "#0072B2", "ICANS 3-4": "#D55E00", "CRS 0-2": "#0072B2",
                "CRS 3-4": "#D55E00", "IEC-HS absent": "#0072B2", "IEC-HS present": "#D55E00"}
# The legend's top below the axis, in points: tick labels (6 pt) and the axis label (7 pt) with their pads.
LEGEND_OFFSET_PT = 24
# Okabe-Ito, for the groups of a subject attribute (in their order)
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def group_color(group: str, index: int = 0) -> str:
    """A group's colour: the fixed one of `all` and the toxicity groups, else by position."""
    return GROUP_COLORS.get(group, _PALETTE[index % len(_PALETTE)])


def group_name(group: str, group_by: str | None = None) -> str:
    """How a group reads in a legend: a toxicity's groups and `all` as they are, a subject
    attribute's value as ``<attribute> = <value>``."""
    if group_by is None or group == "all" or group in GROUP_COLORS or group.startswith(f"{group_by} "):
        return group
    return f"{group_by} = {group}"


def _subject_groups(endpoints: pd.DataFrame | None) -> pd.Series | None:
    if endpoints is None:
        return None
    from dagster_project.lib.analysis.cytokine_curves import icans_group

    return endpoints.set_index("subject_id")["icans_max_grade"].map(icans_group)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def curve_label(group: str, curve: pd.DataFrame) -> str:
    """The legend entry of one group's curve rows: 'all (n = 312 samples, 27 subjects)'. n is
    ``n_obs``, the samples the LOESS was fitted to (several per subject), with ``n_subjects``
    when the rows have it; a subject attribute's group reads ``<attribute> = <value>``."""
    first = curve.iloc[0]
    counts = _plural(int(first["n_obs"]), "sample")
    if "n_subjects" in curve.columns and pd.notna(first["n_subjects"]):
        counts += f", {_plural(int(first['n_subjects']), 'subject')}"
    group_by = first["group_by"] if "group_by" in curve.columns and pd.notna(first["group_by"]) else None
    return f"{group_name(group, group_by)} (n = {counts})"


def cytokine_curves_png(
    results: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    specimen: str = "serum",
    analytes: list[str] | None = None,
    groups: tuple[str, ...] = ("all",),
    endpoints: pd.DataFrame | None = None,
    subject_groups: pd.Series | None = None,
    band: str = "dashed",
    ncols: int = 4,
    title: str | None = None,
    dpi: int = 100,
) -> bytes:
    """Kinetic curves of ``specimen`` analytes, one panel each (PNG bytes).

    ``results``: ``marts.fct_biomarker_results`` rows (subject_id, specimen, analyte, study_day,
    analysis_value, unit); ``curves``: ``analysis.cytokine_curves``. ``analytes`` defaults to
    those of ``curves`` for the specimen. Points are coloured by group when ``groups`` are not
    just ``all`` and each subject's group is known: ``subject_groups`` (subject_id -> group, as
    :func:`dagster_project.lib.analysis.cytokine_curves.subject_groups` gives), or from
    ``endpoints`` (subject_id, icans_max_grade) for the ICANS groups; otherwise grey. ``band``:
    the 95% band as ``dashed`` lines or a ``shaded`` ribbon.
    A group reported ``too_small`` or ``too_large`` is named in the panel instead of drawn.
    """
    if band not in ("dashed", "shaded"):
        raise ValueError(f"band must be 'dashed' or 'shaded', got {band!r}")
    cur = curves[(curves["specimen"] == specimen) & curves["group"].isin(groups)]
    if analytes is None:
        analytes = list(dict.fromkeys(cur["analyte"]))
    pts = results[
        (results["specimen"] == specimen)
        & results["analyte"].isin(analytes)
        & results["study_day"].notna()
        & (results["analysis_value"] > 0)
    ]
    subject_group = subject_groups if subject_groups is not None else _subject_groups(endpoints)
    colours = {group: group_color(group, k) for k, group in enumerate(g for g in groups if g != "all")}
    colours["all"] = group_color("all")
    fig, axes = panel_grid(len(analytes), ncols, (2.65, 2.55), dpi=dpi)
    for ax, analyte in zip(axes, analytes):
        a_pts = pts[pts["analyte"] == analyte]
        colour_by_group = subject_group is not None and groups != ("all",)
        if colour_by_group:
            g = a_pts["subject_id"].map(subject_group)
            for group in groups:
                sel = a_pts[g == group]
                ax.scatter(sel["study_day"], sel["analysis_value"], s=6, alpha=0.35,
                           color=colours.get(group, POINT_GREY), linewidths=0)
            # subjects in no group (no data of the grouping toxicity or attribute): grey
            rest = a_pts[~g.isin(groups)]
            ax.scatter(rest["study_day"], rest["analysis_value"], s=6, alpha=0.35, color=POINT_GREY, linewidths=0)
        else:
            ax.scatter(a_pts["study_day"], a_pts["analysis_value"], s=6, alpha=0.35, color=POINT_GREY,
                       linewidths=0)
        notes = []
        for group in groups:
            c = cur[(cur["analyte"] == analyte) & (cur["group"] == group)]
            colour = colours.get(group, "black")
            ok = c[c["status"] == "ok"].sort_values("study_day")
            if ok.empty:
                if len(c):
                    why = "too many samples for loess" if (c["status"] == "too_large").any() else "too few samples to fit"
                    by = c["group_by"].iloc[0] if "group_by" in c.columns else None
                    notes.append(f"{group_name(group, by)}: {why} (n = {_plural(int(c['n_obs'].iloc[0]), 'sample')})")
                continue
            x = ok["study_day"].to_numpy(dtype=float)
            label = curve_label(group, ok)
            low = np.power(10.0, ok["ci_low_log10"].to_numpy(dtype=float))
            high = np.power(10.0, ok["ci_high_log10"].to_numpy(dtype=float))
            ax.plot(x, np.power(10.0, ok["fit_log10"].to_numpy(dtype=float)), color=colour, lw=1.8, label=label)
            if band == "shaded":
                ax.fill_between(x, low, high, color=colour, alpha=0.2, linewidth=0)
            else:
                ax.plot(x, low, color=colour, lw=1.0, ls="--")
                ax.plot(x, high, color=colour, lw=1.0, ls="--")
        if notes:
            ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=6, va="bottom", color="dimgray")
        if ax.has_data() and (len(a_pts) or len(cur[cur["analyte"] == analyte])):
            ax.set_yscale("log")
        unit = unit_of(a_pts)
        ax.set_title(analyte, fontsize=9)
        ax.set_xlabel("Study day", fontsize=7)
        ax.set_ylabel(analyte if unit is None else f"{analyte} ({unit})", fontsize=7)
        ax.tick_params(which="both", labelsize=6)
        if ax.get_legend_handles_labels()[0]:
            # under the axis, not over the points: a fixed distance below it (clear of the tick
            # labels and the axis label however short the panel is)
            below = offset_copy(ax.transAxes, fig=fig, y=-LEGEND_OFFSET_PT, units="points")
            ax.legend(fontsize=6, frameon=False, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below,
                      handlelength=1.5, borderaxespad=0)
    if not analytes:
        empty_panel(axes[0])
    rule = curves["substitution_rule"].dropna().unique() if "substitution_rule" in curves.columns else []
    shown = "dashed" if band == "dashed" else "shaded"
    caption = (f"LOESS (span 0.75, degree 2) of log10 value; {shown}: pointwise 95% CI; n: samples fitted "
               "(several per subject) and their subjects")
    if len(rule):
        caption += f"; censored values by rule {', '.join(rule)}"
    note_below(fig, caption)
    return tight_png(fig, dpi, title or f"{specimen.capitalize()} cytokines over time", fontsize=11)
