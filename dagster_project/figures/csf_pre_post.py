"""CSF measures before vs after infusion (Park 2023 Fig. 4B/4C) as PNG bytes, from the pre/post
selection and ``analysis.csf_pre_post`` (no Dagster, no DuckDB).

:func:`csf_pre_post_png`: box = median and quartiles (type 7, as ``analysis.csf_pre_post``),
whiskers to the most extreme value within 1.5 x IQR of the box (matplotlib's default, as the
legend of Fig. 4B describes), every value as a point, and the partially matched Wilcoxon
p-value of ``analysis.csf_pre_post``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dagster_project.figures.render import empty_panel, format_p, note_below, panel_grid, tight_png, unit_of

__all__ = ["MAX_POINTS_PER_BOX", "csf_pre_post_png", "points_to_draw"]

_PRE_POST_COLORS = {"pre": "#56B4E9", "post": "#E69F00"}

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
    fig, axes = panel_grid(len(analytes), ncols, (2.4, 2.8))
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
        unit = unit_of(sel)
        label = {"WBC": "CSF WBC", "PROTEIN": "CSF protein"}.get(analyte, analyte)
        ax.set_ylabel(label if unit is None else f"{label} ({unit})", fontsize=7)
        ax.set_title(f"{label}\n{format_p(p_value)}", fontsize=8)
        ax.tick_params(which="both", labelsize=6)
    if not analytes:
        empty_panel(axes[0])
    note = "Box: median and quartiles; whiskers: 1.5 x IQR; two-sided partially matched Wilcoxon"
    if thinned:
        note += (f"; points: a fixed random {max_points_per_box:,} per box where there are more"
                 f" (up to {thinned:,}), boxes and tests use all")
    note_below(fig, note)
    return tight_png(fig, dpi, title or "CSF before (days -14..0) and after (days 3..7, closest to day 5)")
