"""Biomarker figures as PNG bytes, from mart and analysis DataFrames (no Dagster, no DuckDB).

- :func:`cytokine_curves_png`: serum (or CSF) analytes over study days, one panel per analyte,
  samples as points, the LOESS fit of ``analysis.cytokine_curves`` as a solid line and its
  pointwise 95% band as dashed lines, on a log10 axis: ``groups=("all",)`` draws Park 2023
  Fig. 4A (orange line), ``groups=("ICANS 0-2", "ICANS 3-4")`` Extended Data Fig. 2.
- :func:`csf_pre_post_png`: CSF measures before vs after (Park 2023 Fig. 4B/4C): box = median and
  quartiles (type 7, as ``analysis.csf_pre_post``), whiskers to the most extreme value within
  1.5 x IQR of the box (matplotlib's default, as the legend of Fig. 4B describes), every value
  as a point, and the partially matched Wilcoxon p-value of ``analysis.csf_pre_post``.

Matplotlib's object API (``Figure``) is used, never ``pyplot``, so no global state or GUI
backend is touched.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["GROUP_COLORS", "cytokine_curves_png", "csf_pre_post_png", "format_p"]

GROUP_COLORS = {"all": "#E69F00", "ICANS 0-2": "#0072B2", "ICANS 3-4": "#D55E00"}
_POINT_GREY = "#9a9a9a"
_PRE_POST_COLORS = {"pre": "#56B4E9", "post": "#E69F00"}


def format_p(p) -> str:
    """'p = 0.012', 'p < 0.001', or 'p = NA' when there is no test."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or pd.isna(p):
        return "p = NA"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def _png(fig: Figure, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _grid(n: int, ncols: int, panel_size: tuple[float, float]) -> tuple[Figure, list]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n)] if n else [fig.add_subplot(1, 1, 1)]
    return fig, axes


def _subject_groups(endpoints: pd.DataFrame | None) -> pd.Series | None:
    if endpoints is None:
        return None
    from dagster_project.lib.analysis.cytokine_curves import icans_group

    return endpoints.set_index("subject_id")["icans_max_grade"].map(icans_group)


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
    dpi: int = 120,
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
    fig, axes = _grid(len(analytes), ncols, (3.2, 2.6))
    for ax, analyte in zip(axes, analytes):
        a_pts = pts[pts["analyte"] == analyte]
        colour_by_group = subject_group is not None and groups != ("all",)
        if colour_by_group:
            g = a_pts["subject_id"].map(subject_group)
            for group in groups:
                sel = a_pts[g == group]
                ax.scatter(sel["study_day"], sel["analysis_value"], s=6, alpha=0.35,
                           color=GROUP_COLORS.get(group, _POINT_GREY), linewidths=0)
        else:
            ax.scatter(a_pts["study_day"], a_pts["analysis_value"], s=6, alpha=0.35, color=_POINT_GREY,
                       linewidths=0)
        notes = []
        for group in groups:
            c = cur[(cur["analyte"] == analyte) & (cur["group"] == group)]
            colour = GROUP_COLORS.get(group, "black")
            ok = c[c["status"] == "ok"].sort_values("study_day")
            if ok.empty:
                if len(c):
                    why = "too many samples for loess" if (c["status"] == "too_large").any() else "too few samples to fit"
                    notes.append(f"{group}: {why} (n={int(c['n_obs'].iloc[0])})")
                continue
            x = ok["study_day"].to_numpy(dtype=float)
            label = f"{group} (n={int(ok['n_obs'].iloc[0])})"
            ax.plot(x, np.power(10.0, ok["fit_log10"].to_numpy(dtype=float)), color=colour, lw=1.8, label=label)
            ax.plot(x, np.power(10.0, ok["ci_low_log10"].to_numpy(dtype=float)), color=colour, lw=1.0, ls="--")
            ax.plot(x, np.power(10.0, ok["ci_high_log10"].to_numpy(dtype=float)), color=colour, lw=1.0, ls="--")
        if notes:
            ax.text(0.02, 0.02, "\n".join(notes), transform=ax.transAxes, fontsize=6, va="bottom", color="dimgray")
        if len(a_pts) or len(cur[cur["analyte"] == analyte]):
            ax.set_yscale("log")
        units = a_pts["unit"].dropna().unique() if "unit" in a_pts.columns else []
        ax.set_title(analyte, fontsize=9)
        ax.set_xlabel("Study day", fontsize=7)
        ax.set_ylabel(f"{analyte} ({units[0]})" if len(units) == 1 else analyte, fontsize=7)
        ax.tick_params(which="both", labelsize=6)
        if len(groups) > 1 and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=5, frameon=False, loc="upper right")
    if not analytes:
        axes[0].text(0.5, 0.5, "no data", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_axis_off()
    rule = curves["substitution_rule"].dropna().unique() if "substitution_rule" in curves.columns else []
    caption = "LOESS (span 0.75, degree 2) of log10 value; dashed: pointwise 95% CI"
    if len(rule):
        caption += f"; censored values by rule {', '.join(rule)}"
    fig.suptitle(title or f"{specimen.capitalize()} cytokines over time", fontsize=11)
    fig.text(0.5, -0.01, caption, ha="center", fontsize=7, color="dimgray")
    fig.tight_layout()
    return _png(fig, dpi)


# Points drawn per box of the CSF figure: beyond it, a fixed random sample (the box, the n and
# the test use every value). Rendering is per point: 13 s of the figure at 10,000 subjects.
MAX_POINTS_PER_BOX = 2_000


def points_to_draw(values: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """`values`, or a random `limit` of them (without replacement) when there are more."""
    if values.size <= limit:
        return values
    return rng.choice(values, size=limit, replace=False)


def csf_pre_post_png(
    selection: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    analytes: list[str] | None = None,
    max_points_per_box: int = MAX_POINTS_PER_BOX,
    ncols: int = 4,
    log_scale_cytokines: bool = True,
    title: str | None = None,
    dpi: int = 120,
) -> bytes:
    """Pre vs post box plots per CSF measure with the p-value (PNG bytes).

    ``selection``: :func:`dagster_project.lib.analysis.csf_pre_post.select_pre_post` output
    (subject_id, analyte, timepoint, analysis_value, unit); ``summary``: ``analysis.csf_pre_post``.
    ``analytes`` defaults to the summary's order. Cytokines go on a log axis when every value is
    positive (``log_scale_cytokines``); WBC and PROTEIN stay linear. A box with more than
    ``max_points_per_box`` values draws a fixed random sample of them as points (said under the
    figure); the box itself is drawn from all of them.
    """
    if analytes is None:
        analytes = list(summary["analyte"])
    fig, axes = _grid(len(analytes), ncols, (2.4, 2.8))
    rng = np.random.default_rng(0)  # fixed jitter and sample: the same input gives the same bytes
    thinned = 0  # the largest box whose points were sampled
    for ax, analyte in zip(axes, analytes):
        sel = selection[selection["analyte"] == analyte]
        data = [sel.loc[sel["timepoint"] == t, "analysis_value"].to_numpy(dtype=float) for t in ("pre", "post")]
        positions = [1, 2]
        nonempty = [(p, d) for p, d in zip(positions, data) if d.size]
        if nonempty:
            box = ax.boxplot([d for _, d in nonempty], positions=[p for p, _ in nonempty], widths=0.55,
                             whis=1.5, showfliers=False, patch_artist=True,
                             medianprops={"color": "black", "lw": 1.5})
            for patch, (p, _) in zip(box["boxes"], nonempty):
                patch.set_facecolor(_PRE_POST_COLORS["pre" if p == 1 else "post"])
                patch.set_alpha(0.5)
        for p, d in zip(positions, data):
            if d.size:
                drawn = points_to_draw(d, max_points_per_box, rng)
                thinned = max(thinned, d.size if drawn.size < d.size else 0)
                ax.scatter(p + rng.uniform(-0.12, 0.12, drawn.size), drawn, s=8, color="black", alpha=0.6,
                           linewidths=0, zorder=3)
        row = summary[summary["analyte"] == analyte]
        n_pre = int(row["n_pre"].iloc[0]) if len(row) else int(data[0].size)
        n_post = int(row["n_post"].iloc[0]) if len(row) else int(data[1].size)
        p_value = row["p_value"].iloc[0] if len(row) else None
        ax.set_xticks(positions, [f"Pre\n(n={n_pre})", f"Post\n(n={n_post})"], fontsize=7)
        ax.set_xlim(0.4, 2.6)
        values = np.concatenate(data)
        if log_scale_cytokines and analyte not in ("WBC", "PROTEIN", "RBC", "GLUCOSE") and values.size and (values > 0).all():
            ax.set_yscale("log")
        units = sel["unit"].dropna().unique() if "unit" in sel.columns else []
        label = {"WBC": "CSF WBC", "PROTEIN": "CSF protein"}.get(analyte, analyte)
        ax.set_ylabel(f"{label} ({units[0]})" if len(units) == 1 else label, fontsize=7)
        ax.set_title(f"{label}\n{format_p(p_value)}", fontsize=8)
        ax.tick_params(which="both", labelsize=6)
    if not analytes:
        axes[0].text(0.5, 0.5, "no data", ha="center", va="center", transform=axes[0].transAxes)
        axes[0].set_axis_off()
    fig.suptitle(title or "CSF before (days -14..0) and after (days 3..7, closest to day 5)", fontsize=10)
    note = "Box: median and quartiles; whiskers: 1.5 x IQR; two-sided partially matched Wilcoxon"
    if thinned:
        note += (f"; points: a fixed random {max_points_per_box:,} per box where there are more"
                 f" (up to {thinned:,}), boxes and tests use all")
    fig.text(0.5, -0.01, note, ha="center", fontsize=7, color="dimgray")
    fig.tight_layout()
    return _png(fig, dpi)
