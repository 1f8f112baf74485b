"""CSF measures before vs after infusion (Park 2023 Fig. 4B/4C) as PNG bytes, from the pre/post
selection and ``analysis.csf_pre_post`` (no Dagster, no DuckDB).

:func:`csf_pre_post_png`: box = median and quartiles (type 7, as ``analysis.csf_pre_post``),
whiskers to the most extreme value within 1.5 x IQR of the box (matplotlib's default, as the
legend of Fig. 4B describes), every value as a point, and the partially matched Wilcoxon
p-value of ``analysis.csf_pre_post`` with its Benjamini-Hochberg q-value over the panels tested.
A panel where every pre or every post value is censored (LLOQ/2 substitute, or ULOQ) shows no
p-value but why (:func:`panel_tests`); the analysis table keeps its p-value as computed.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from dagster_project.figures.render import (
    censored_reason,
    empty_panel,
    label_tests,
    multiplicity_note,
    note_below,
    panel_grid,
    tight_png,
    unit_of,
)

__all__ = [
    "MAX_POINTS_PER_BOX", "csf_pre_post_note", "csf_pre_post_png", "panel_tests", "panel_tests_note", "points_to_draw",
]

_PRE_POST_COLORS = {"pre": "#56B4E9", "post": "#E69F00"}

# Points drawn per box of the CSF figure: beyond it, a fixed random sample (the box, the n and
# the test use every value). Rendering is per point: 13 s of the figure at 10,000 subjects.
MAX_POINTS_PER_BOX = 2_000


def points_to_draw(values: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """`values`, or a random `limit` of them (without replacement) when there are more."""
    if values.size <= limit:
        return values
    return rng.choice(values, size=limit, replace=False)


def panel_tests(selection: pd.DataFrame, summary: pd.DataFrame, analytes: list[str] | None = None) -> pd.DataFrame:
    """What each panel of :func:`csf_pre_post_png` says about its test, one row per analyte:
    ``p_value`` (of ``analysis.csf_pre_post``), ``no_test`` (why no p is shown: every pre or post
    value of the selection censored, from its ``censoring`` column; else None), ``q_value``
    (Benjamini-Hochberg over the panels that show a p-value; NA elsewhere) and ``text``, the line
    under the panel title."""
    if analytes is None:
        analytes = list(summary["analyte"])
    p_by = dict(zip(summary["analyte"], summary["p_value"]))
    has_forms = "censoring" in selection.columns
    no_test = []
    for analyte in analytes:
        sel = selection[selection["analyte"] == analyte]
        no_test.append(censored_reason({t: sel.loc[sel["timepoint"] == t, "censoring"] for t in ("pre", "post")})
                       if has_forms else None)
    out = label_tests(analytes, [p_by.get(a) for a in analytes], no_test)
    return out.rename_axis("analyte").reset_index()


def panel_tests_note(panels: pd.DataFrame) -> str:
    """The run's note on the figure's tests (for its metadata), from the :func:`panel_tests` rows:
    over how many tests q was adjusted and which panels show no p-value."""
    parts = []
    multiplicity = multiplicity_note(int(panels["q_value"].notna().sum()))
    if multiplicity:
        parts.append(f"{multiplicity}.")
    untested = panels.loc[panels["no_test"].notna(), "analyte"].tolist()
    if untested:
        parts.append(f"No p-value shown where every pre or every post value is censored: {', '.join(untested)}.")
    return " ".join(parts)


def csf_pre_post_note(panels: pd.DataFrame, *, thinned: int = 0, max_points_per_box: int = MAX_POINTS_PER_BOX) -> str:
    """The note under the figure (and its PNG Description) for the :func:`panel_tests` rows."""
    parts = ["n: subjects (one value each); box: median and quartiles; whiskers: 1.5 x IQR; "
             "two-sided partially matched Wilcoxon"]
    multiplicity = multiplicity_note(int(panels["q_value"].notna().sum()))
    if multiplicity:
        parts.append(multiplicity)
    untested = int(panels["no_test"].notna().sum())
    if untested:
        parts.append(f"no test where every pre or every post value is censored (LLOQ/2 substitute or ULOQ): "
                     f"{untested} panel{'s' if untested != 1 else ''}")
    if thinned:
        parts.append(f"points: a fixed random {max_points_per_box:,} per box where there are more"
                     f" (up to {thinned:,}), boxes and tests use all")
    return "; ".join(parts) + "."


def csf_pre_post_png(
    selection: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    analytes: list[str] | None = None,
    max_points_per_box: int = MAX_POINTS_PER_BOX,
    ncols: int = 6,
    log_scale_cytokines: bool = True,
    title: str | None = None,
    dpi: int = 100,
) -> bytes:
    """Pre vs post box plots per CSF measure with the p- and q-value (PNG bytes).

    ``selection``: :func:`dagster_project.lib.analysis.csf_pre_post.select_pre_post` output
    (subject_id, analyte, timepoint, analysis_value, unit); ``summary``: ``analysis.csf_pre_post``.
    ``analytes`` defaults to the summary's order. Cytokines go on a log axis when every value is
    positive (``log_scale_cytokines``); WBC and PROTEIN stay linear. A box with more than
    ``max_points_per_box`` values draws a fixed random sample of them as points (said under the
    figure); the box itself is drawn from all of them. Each panel's test line is
    :func:`panel_tests`' ``text``.
    """
    if analytes is None:
        analytes = list(summary["analyte"])
    panels = panel_tests(selection, summary, analytes).set_index("analyte")
    fig, axes = panel_grid(len(analytes), ncols, (1.75, 2.35), dpi=dpi)
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
        ax.set_xticks(positions, [f"Pre\n(n={n_pre})", f"Post\n(n={n_post})"], fontsize=7)
        ax.set_xlim(0.4, 2.6)
        values = np.concatenate(data)
        if log_scale_cytokines and analyte not in ("WBC", "PROTEIN", "RBC", "GLUCOSE") and values.size and (values > 0).all():
            ax.set_yscale("log")
        unit = unit_of(sel)
        label = {"WBC": "CSF WBC", "PROTEIN": "CSF protein"}.get(analyte, analyte)
        ax.set_ylabel(label if unit is None else f"{label} ({unit})", fontsize=7)
        ax.set_title(f"{label}\n{textwrap.fill(panels.at[analyte, 'text'], 24)}", fontsize=7.5)
        ax.tick_params(which="both", labelsize=6)
    if not analytes:
        empty_panel(axes[0])
    note = csf_pre_post_note(panels, thinned=thinned, max_points_per_box=max_points_per_box)
    note_below(fig, note, wrap=True)
    return tight_png(fig, dpi, title or "CSF before (days -14..0) and after (days 3..7, closest to day 5)",
                     name="csf_pre_post", description=note)
