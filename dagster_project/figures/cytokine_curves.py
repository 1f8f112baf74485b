"""Cytokine kinetic curves (Park 2023 Fig. 4A, Extended Data Fig. 2) as PNG bytes, from the
biomarker mart and ``analysis.cytokine_curves`` (no Dagster, no DuckDB).

:func:`cytokine_curves_png`: serum (or CSF) analytes over study days, one panel per analyte,
samples as points, the LOESS fit of ``analysis.cytokine_curves`` as a solid line and its
pointwise 95% band as dashed lines, on a log10 axis: ``groups=("all",)`` draws Park 2023
Fig. 4A (orange line), ``groups=("ICANS 0-2", "ICANS 3-4")`` Extended Data Fig. 2. Each line's
legend gives the samples it was fitted to and their subjects (:func:`curve_label`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dagster_project.figures.render import POINT_GREY, empty_panel, note_below, panel_grid, tight_png, unit_of

__all__ = ["GROUP_COLORS", "curve_label", "cytokine_curves_png"]

GROUP_COLORS = {"all": "#E69F00", "ICANS 0-2": "#0072B2", "ICANS 3-4": "#D55E00"}


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
    when the rows have it."""
    first = curve.iloc[0]
    counts = _plural(int(first["n_obs"]), "sample")
    if "n_subjects" in curve.columns and pd.notna(first["n_subjects"]):
        counts += f", {_plural(int(first['n_subjects']), 'subject')}"
    return f"{group} (n = {counts})"


def cytokine_curves_png(
    results: pd.DataFrame,
    curves: pd.DataFrame,
    *,
    specimen: str = "serum",
    analytes: list[str] | None = None,
    groups: tuple[str, ...] = ("all",),
    endpoints: pd.DataFrame | None = None,
    ncols: int = 4,
    title: str | None = None,
    dpi: int = 100,
) -> bytes:
    """Kinetic curves of ``specimen`` analytes, one panel each (PNG bytes).

    ``results``: ``marts.fct_biomarker_results`` rows (subject_id, specimen, analyte, study_day,
    analysis_value, unit); ``curves``: ``analysis.cytokine_curves``. ``analytes`` defaults to
    those of ``curves`` for the specimen. With ``endpoints`` (subject_id, icans_max_grade) the
    points are coloured by ICANS group when ``groups`` are the ICANS groups; otherwise grey.
    A group reported ``too_small`` or ``too_large`` is named in the panel instead of drawn.
    """
    cur = curves[(curves["specimen"] == specimen) & curves["group"].isin(groups)]
    if analytes is None:
        analytes = list(dict.fromkeys(cur["analyte"]))
    pts = results[
        (results["specimen"] == specimen)
        & results["analyte"].isin(analytes)
        & results["study_day"].notna()
        & (results["analysis_value"] > 0)
    ]
    subject_group = _subject_groups(endpoints)
    fig, axes = panel_grid(len(analytes), ncols, (2.65, 2.55), dpi=dpi)
    for ax, analyte in zip(axes, analytes):
        a_pts = pts[pts["analyte"] == analyte]
        colour_by_group = subject_group is not None and groups != ("all",)
        if colour_by_group:
            g = a_pts["subject_id"].map(subject_group)
            for group in groups:
                sel = a_pts[g == group]
                ax.scatter(sel["study_day"], sel["analysis_value"], s=6, alpha=0.35,
                           color=GROUP_COLORS.get(group, POINT_GREY), linewidths=0)
        else:
            ax.scatter(a_pts["study_day"], a_pts["analysis_value"], s=6, alpha=0.35, color=POINT_GREY,
                       linewidths=0)
        notes = []
        for group in groups:
            c = cur[(cur["analyte"] == analyte) & (cur["group"] == group)]
            colour = GROUP_COLORS.get(group, "black")
            ok = c[c["status"] == "ok"].sort_values("study_day")
            if ok.empty:
                if len(c):
                    why = "too many samples for loess" if (c["status"] == "too_large").any() else "too few samples to fit"
                    notes.append(f"{group}: {why} (n = {_plural(int(c['n_obs'].iloc[0]), 'sample')})")
                continue
            x = ok["study_day"].to_numpy(dtype=float)
            label = curve_label(group, ok)
            ax.plot(x, np.power(10.0, ok["fit_log10"].to_numpy(dtype=float)), color=colour, lw=1.8, label=label)
            ax.plot(x, np.power(10.0, ok["ci_low_log10"].to_numpy(dtype=float)), color=colour, lw=1.0, ls="--")
            ax.plot(x, np.power(10.0, ok["ci_high_log10"].to_numpy(dtype=float)), color=colour, lw=1.0, ls="--")
        if notes:
            ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=6, va="bottom", color="dimgray")
        if len(a_pts) or len(cur[cur["analyte"] == analyte]):
            ax.set_yscale("log")
        unit = unit_of(a_pts)
        ax.set_title(analyte, fontsize=9)
        ax.set_xlabel("Study day", fontsize=7)
        ax.set_ylabel(analyte if unit is None else f"{analyte} ({unit})", fontsize=7)
        ax.tick_params(which="both", labelsize=6)
        if ax.get_legend_handles_labels()[0]:
            # under the axis, not over the points
            ax.legend(fontsize=6, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), handlelength=1.5,
                      borderaxespad=0)
    if not analytes:
        empty_panel(axes[0])
    rule = curves["substitution_rule"].dropna().unique() if "substitution_rule" in curves.columns else []
    caption = ("LOESS (span 0.75, degree 2) of log10 value; dashed: pointwise 95% CI; n: samples fitted "
               "(several per subject) and their subjects")
    if len(rule):
        caption += f"; censored values by rule {', '.join(rule)}"
    note_below(fig, caption)
    return tight_png(fig, dpi, title or f"{specimen.capitalize()} cytokines over time", fontsize=11)
