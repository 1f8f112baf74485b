"""Figures around an anakinra course (Wehrli et al., JITC 2022;10:e003847, Figures 1-3), as PNG bytes.

Pure matplotlib (object API on an Agg canvas, no pyplot state), no Dagster, no database. Inputs
are rows of the marts and of the ``analysis.intervention_*`` tables
(:mod:`dagster_project.lib.analysis.intervention`); nothing is recomputed here but sorting and
binning for display.

- :func:`swimmer_png` -- Fig. 1: per subject and study day, the adjudicated CRS grade (coloured
  cells), dexamethasone-equivalent steroid mg (grey graduated boxes under them), tocilizumab (X)
  and anakinra (star) days, the peak adjudicated ICANS grade (square at the right) and ``*`` after
  deceased subjects; one panel per CAR T-cell product.
- :func:`paired_dots_png` -- Fig. 2A/B: before / after dots joined per subject (TMAX, ANC, PLT)
  with the paired t-test p-value.
- :func:`lab_grade_pies_png` -- Fig. 2C: CTCAE v5.0 grades of ANC and PLT on days 21-28 after
  the last dose (subjects with no value in that window are their own grey slice).
- :func:`waterfall_png` -- Fig. 2D/E: percent change of CRP and ferritin per subject, dark red
  alive / light red deceased (``fct_subject_endpoints.os_event``).
- :func:`cytokine_pairs_png` -- Fig. 3: serum cytokines before / after on a log axis with the
  ratio paired t-test p-value and its Benjamini-Hochberg q-value over the cytokines tested (no
  p-value where every before or every after value is censored: :func:`cytokine_pair_tests`),
  lines coloured by the peak adjudicated ICANS grade (3-4 red, 0-2 grey; the paper's response /
  no-response split of grade 3-4 is not derived here).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from dagster_project.figures.render import (
    GRADE_COLORS,
    POINT_GREY,
    censored_reason,
    despine,
    empty_panel,
    format_p,
    label_tests,
    multiplicity_note,
    note_below,
    panel_grid,
    png_bytes,
    tight_png,
    unit_of,
)

__all__ = [
    "CRS_COLORS",
    "STEROID_BINS",
    "cytokine_pair_tests",
    "cytokine_pairs_png",
    "lab_grade_pies_png",
    "paired_dots_png",
    "steroid_shade",
    "swimmer_png",
    "waterfall_png",
]

CRS_COLORS = GRADE_COLORS
ICANS_COLORS = {0: "#f2f2f2", 1: "#c6dbef", 2: "#6baed6", 3: "#2171b5", 4: "#08306b", 5: "#000000"}
NO_GRADE = "#ffffff"
# (upper bound of dex-equivalent mg per day, grey) -- the "gray graduated boxes" of Fig. 1
STEROID_BINS = ((10.0, "#d9d9d9"), (40.0, "#a6a6a6"), (100.0, "#6e6e6e"), (math.inf, "#262626"))
ALIVE, DECEASED = "#8b0000", "#f08080"  # Fig. 2D/E: dark red alive, light red deceased
ICANS_HIGH, ICANS_LOW = "#d62728", POINT_GREY
PIE_COLORS = {**{g: GRADE_COLORS[g] for g in range(5)}, None: "#cfcfcf"}  # None: no value in the window
MEASURE_LABELS = {
    "TMAX": "Highest temperature",
    "ANC": "Neutrophils",
    "PLT": "Platelets",
    "CRP": "CRP",
    "FERRITIN": "Ferritin",
}


def _empty(ax, text: str = "no data") -> None:
    empty_panel(ax, text, fontsize=9, color="dimgray")


def steroid_shade(mg) -> str | None:
    """Grey of a day's dexamethasone-equivalent mg (None for none or unknown)."""
    if mg is None or pd.isna(mg) or float(mg) <= 0:
        return None
    for upper, colour in STEROID_BINS:
        if float(mg) <= upper:
            return colour
    return STEROID_BINS[-1][1]


def _deceased(endpoints: pd.DataFrame | None) -> set:
    if endpoints is None or "os_event" not in endpoints.columns:
        return set()
    died = [bool(v) if pd.notna(v) else False for v in endpoints["os_event"]]
    return set(endpoints.loc[died, "subject_id"])


# --------------------------------------------------------------------------------------------
# Fig. 1


def swimmer_png(
    daily: pd.DataFrame,
    endpoints: pd.DataFrame,
    *,
    subjects: list[str] | None = None,
    first_day: int = 0,
    last_day: int = 30,
    title: str | None = None,
    dpi: int = 120,
) -> bytes:
    """Swimmer plot (Wehrli Fig. 1) from ``marts.fct_toxicity_daily`` and ``fct_subject_endpoints``.

    ``daily`` needs subject_id, study_day, crs_grade, tocilizumab_doses, steroid_dex_equiv_mg,
    anakinra_doses (icans_grade is used for the peak when endpoints lack icans_max_grade);
    ``endpoints`` subject_id, car_t_product, icans_max_grade, os_event. ``subjects`` restricts
    the rows (e.g. to subjects with an anakinra course). Days ``first_day..last_day``.
    """
    ids = sorted(set(daily["subject_id"]) if subjects is None else set(subjects))
    ends = endpoints.set_index("subject_id") if len(endpoints) else pd.DataFrame()
    product = {s: (ends.at[s, "car_t_product"] if s in ends.index and "car_t_product" in ends.columns
                   and pd.notna(ends.at[s, "car_t_product"]) else "unknown") for s in ids}
    dead = _deceased(endpoints)
    days = daily[(daily["study_day"] >= first_day) & (daily["study_day"] <= last_day)]
    by_subject = {k: g for k, g in days.groupby("subject_id")}

    def peak_icans(s):
        if s in ends.index and "icans_max_grade" in ends.columns and pd.notna(ends.at[s, "icans_max_grade"]):
            return int(ends.at[s, "icans_max_grade"])
        g = by_subject.get(s)
        if g is None or "icans_grade" not in g or g["icans_grade"].dropna().empty:
            return None
        return int(g["icans_grade"].max())

    groups = sorted(set(product.values()))
    heights = [max(len([s for s in ids if product[s] == p]), 1) + 1.5 for p in groups] or [3]
    fig = Figure(figsize=(8.8, 1.4 + 0.36 * sum(heights)), layout="constrained")
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    if not ids:
        _empty(fig.add_subplot(grid[0]), "no subjects")
    xr = last_day + 2.5  # column of the peak ICANS square
    for gi, prod in enumerate(groups):
        ax = fig.add_subplot(grid[gi])
        rows = [s for s in ids if product[s] == prod]
        for yi, s in enumerate(rows):
            y = len(rows) - 1 - yi
            g = by_subject.get(s, days.iloc[0:0])
            for r in g.itertuples(index=False):
                d = int(r.study_day)
                grade = None if pd.isna(r.crs_grade) else int(r.crs_grade)
                ax.add_patch(Rectangle((d - 0.5, y - 0.05), 1, 0.45, facecolor=CRS_COLORS.get(grade, NO_GRADE),
                                       edgecolor="white", lw=0.5))
                shade = steroid_shade(getattr(r, "steroid_dex_equiv_mg", None))
                if shade:
                    ax.add_patch(Rectangle((d - 0.5, y - 0.38), 1, 0.28, facecolor=shade, edgecolor="white", lw=0.5))
                toci = getattr(r, "tocilizumab_doses", 0) or 0
                ana = getattr(r, "anakinra_doses", 0) or 0
                both = toci > 0 and ana > 0
                if toci > 0:
                    ax.plot(d - (0.2 if both else 0), y + 0.17, marker="X", color="black", ms=6, ls="none")
                if ana > 0:
                    ax.plot(d + (0.2 if both else 0), y + 0.17, marker="*", color="#1f3b99", ms=9, ls="none")
            peak = peak_icans(s)
            ax.add_patch(Rectangle((xr - 0.5, y - 0.3), 1, 0.6, facecolor=ICANS_COLORS.get(peak, NO_GRADE),
                                   edgecolor="grey", lw=0.5))
            ax.text(xr, y, "NA" if peak is None else str(peak), ha="center", va="center", fontsize=7,
                    color="white" if peak is not None and peak >= 3 else "black")
        ax.set_yticks(range(len(rows)), [f"{s} *" if s in dead else s for s in reversed(rows)], fontsize=7)
        ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
        ax.set_xlim(first_day - 0.7, xr + 0.8)
        ticks = [d for d in range(first_day, last_day + 1) if d % 5 == 0 or d == first_day]
        ax.set_xticks(ticks + [xr], [str(t) for t in ticks] + ["peak\nICANS"], fontsize=7)
        ax.set_title(f"{prod} (n={len(rows)})", fontsize=9, loc="left")
        despine(ax)
        if gi == len(groups) - 1:
            ax.set_xlabel("Days after CAR T-cell infusion", fontsize=8)
    handles = [Patch(facecolor=CRS_COLORS[g], edgecolor="grey", lw=0.4, label=f"CRS {g}") for g in range(0, 5)]
    lower = 0.0
    for upper, colour in STEROID_BINS:
        label = f"steroid >{lower:g} mg" if math.isinf(upper) else f"steroid {lower:g}-{upper:g} mg"
        handles.append(Patch(facecolor=colour, label=label))
        lower = upper
    handles += [
        Line2D([], [], marker="X", color="black", ls="none", label="tocilizumab"),
        Line2D([], [], marker="*", color="#1f3b99", ms=9, ls="none", label="anakinra"),
    ]
    handles += [Patch(facecolor=ICANS_COLORS[g], edgecolor="grey", lw=0.4, label=f"peak ICANS {g}")
                for g in range(0, 5)]
    fig.legend(handles=handles, loc="outside lower center", ncol=6, fontsize=6.5, frameon=False)
    note = ("Adjudicated daily CRS grade (ASTCT 2019) and peak ICANS grade; steroids as "
            "dexamethasone-equivalent mg per day (grey); X tocilizumab, star anakinra; * deceased.")
    fig.suptitle(title or "Clinical course around anakinra", fontsize=11)
    return png_bytes(fig, dpi, tight=True, title="swimmer", description=note)


# --------------------------------------------------------------------------------------------
# Fig. 2


def _test_row(tests: pd.DataFrame | None, measure: str) -> pd.Series | None:
    if tests is None or tests.empty:
        return None
    hit = tests[tests["measure"] == measure]
    return None if hit.empty else hit.iloc[0]


def _p_value(row: pd.Series | None):
    return None if row is None else row["p_value"]


def _pairs(windows: pd.DataFrame, measure: str) -> pd.DataFrame:
    rows = windows[windows["measure"] == measure]
    return rows[rows["status"] == "paired"]


def paired_dots_png(
    windows: pd.DataFrame,
    tests: pd.DataFrame | None = None,
    *,
    measures: tuple[str, ...] = ("TMAX", "ANC", "PLT"),
    dpi: int = 120,
) -> bytes:
    """Before / after dots joined per subject (Wehrli Fig. 2A/B), paired t-test p in each title."""
    fig, axes = panel_grid(len(measures), len(measures), (2.8, 3.2), dpi=dpi)
    for ax, measure in zip(axes, measures):
        pairs = _pairs(windows, measure)
        all_rows = windows[windows["measure"] == measure]
        if pairs.empty:
            _empty(ax, f"{measure}: no pairs")
            continue
        b = pairs["before_value"].to_numpy(dtype=float)
        a = pairs["after_value"].to_numpy(dtype=float)
        for bv, av in zip(b, a):
            ax.plot([0, 1], [bv, av], color=POINT_GREY, lw=0.8, zorder=1)
        ax.scatter(np.zeros_like(b), b, s=22, marker="o", color="black", zorder=2)
        ax.scatter(np.ones_like(a), a, s=22, marker="s", color="#8b0000", zorder=2)
        for x, v in ((0, b), (1, a)):
            ax.plot([x - 0.18, x + 0.18], [v.mean()] * 2, color="#1f77b4", lw=2, zorder=3)
        p = _p_value(_test_row(tests, measure))
        unit = unit_of(pairs) or ""
        unit = "\u00b0C" if unit == "C" else unit
        ax.set_xticks([0, 1], ["before", "after"], fontsize=8)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylabel(f"{MEASURE_LABELS.get(measure, measure)} ({unit})" if unit else measure, fontsize=8)
        missing = len(all_rows) - len(pairs)
        extra = f", {missing} without a pair" if missing else ""
        ax.set_title(f"{MEASURE_LABELS.get(measure, measure)}\npaired t {format_p(p)} (n={len(pairs)}{extra})",
                     fontsize=8)
        ax.tick_params(labelsize=7)
    note_below(fig, "TMAX: highest in the 24 h before the first / after the last dose; ANC, PLT: latest "
               "value in the 48 h before the first dose vs earliest in the 48 h after the last. Bar: mean.",
               y=-0.04, fontsize=6.5)
    return tight_png(fig, dpi, "Before the first vs after the last anakinra dose", name="paired_dots",
                     description="Wehrli Fig 2A/B")


def lab_grade_pies_png(lab_grades: pd.DataFrame, *, dpi: int = 120) -> bytes:
    """Pies of the worst CTCAE v5.0 grade of ANC and PLT on days 21-28 after the last dose (Fig. 2C)."""
    tests = ("ANC", "PLT")
    names = {"ANC": "Neutropenia", "PLT": "Thrombocytopenia"}
    fig, axes = panel_grid(len(tests), len(tests), (3.5, 3.4), dpi=dpi)
    for ax, test in zip(axes, tests):
        rows = lab_grades[lab_grades["test"] == test]
        if rows.empty:
            _empty(ax, f"{test}: no subjects")
            continue
        grades = rows["worst_ctcae_grade_d21_d28"]
        counts = [(g, int((grades == g).sum())) for g in range(0, 5)]
        counts.append((None, int(grades.isna().sum())))
        counts = [(g, n) for g, n in counts if n]
        labels = [f"no value ({n})" if g is None else f"G{g} ({n})" for g, n in counts]
        wedges, _ = ax.pie([n for _, n in counts], labels=labels, colors=[PIE_COLORS[g] for g, _ in counts],
                           startangle=90, counterclock=False, textprops={"fontsize": 7},
                           wedgeprops={"edgecolor": "white", "linewidth": 1})
        for (g, _), w in zip(counts, wedges):
            if g is None:
                w.set_hatch("//")
        lln = rows["lln"].dropna().unique() if "lln" in rows.columns else []
        lln_text = f", LLN {lln[0]:g}" if len(lln) == 1 else ""
        ax.set_title(f"{names[test]} (n={len(rows)}{lln_text})", fontsize=9)
    return tight_png(fig, dpi, "CTCAE v5.0 grade, days 21-28 after the last anakinra dose", name="lab_grade_pies",
                     description="Wehrli Fig 2C")


def waterfall_png(
    windows: pd.DataFrame,
    endpoints: pd.DataFrame | None = None,
    tests: pd.DataFrame | None = None,
    *,
    measures: tuple[str, ...] = ("CRP", "FERRITIN"),
    dpi: int = 120,
) -> bytes:
    """Waterfalls of percent change per subject (Wehrli Fig. 2D/E), coloured alive / deceased."""
    dead = _deceased(endpoints)
    fig, axes = panel_grid(len(measures), len(measures), (4.2, 3.4), dpi=dpi)
    for ax, measure in zip(axes, measures):
        rows = windows[(windows["measure"] == measure) & windows["pct_change"].notna()]
        rows = rows.sort_values("pct_change", ascending=False, kind="mergesort")
        if rows.empty:
            _empty(ax, f"{measure}: no percent change")
            continue
        colours = [DECEASED if s in dead else ALIVE for s in rows["subject_id"]]
        ax.bar(np.arange(len(rows)), rows["pct_change"].to_numpy(dtype=float), color=colours, width=0.8)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(np.arange(len(rows)), list(rows["subject_id"]), rotation=90, fontsize=6)
        ax.set_ylabel("% change from before", fontsize=8)
        row = _test_row(tests, measure)
        p = _p_value(row)
        median = None if row is None else row.get("median_pct_change")
        med = "" if median is None or pd.isna(median) else f", median {median:+.0f}%"
        total = int((windows["measure"] == measure).sum())
        ax.set_title(f"{MEASURE_LABELS.get(measure, measure)}: paired t {format_p(p)}\n"
                     f"(n={len(rows)} of {total}{med})", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.legend(handles=[Patch(color=ALIVE, label="alive"), Patch(color=DECEASED, label="deceased")],
               loc="outside right upper", fontsize=7, frameon=False)
    return tight_png(fig, dpi, "Percent change, 48 h before the first vs 48 h after the last anakinra dose",
                     name="waterfall", description="Wehrli Fig 2D/E")


# --------------------------------------------------------------------------------------------
# Fig. 3


def cytokine_pair_tests(windows: pd.DataFrame, tests: pd.DataFrame | None, analytes: list[str]) -> pd.DataFrame:
    """What each panel of :func:`cytokine_pairs_png` says about its test, indexed by analyte:
    ``p_value`` (of ``analysis.intervention_tests``), ``no_test`` (every before or every after
    value of the pairs censored, from ``before_censoring`` / ``after_censoring``: no p shown),
    ``q_value`` (Benjamini-Hochberg over the panels that show a p-value) and ``text``."""
    no_test = []
    for analyte in analytes:
        pairs = _pairs(windows, analyte)
        forms = {side: pairs[f"{side}_censoring"] for side in ("before", "after") if f"{side}_censoring" in pairs}
        no_test.append(censored_reason(forms) if len(forms) == 2 and len(pairs) else None)
    return label_tests(analytes, [_p_value(_test_row(tests, a)) for a in analytes], no_test)


def cytokine_pairs_png(
    windows: pd.DataFrame,
    tests: pd.DataFrame | None = None,
    endpoints: pd.DataFrame | None = None,
    *,
    analytes: list[str] | None = None,
    ncols: int = 6,
    dpi: int = 100,
) -> bytes:
    """Serum cytokines before / after per subject on a log axis, ratio paired t-test p and its
    Benjamini-Hochberg q over the cytokines tested (:func:`cytokine_pair_tests`; Fig. 3).

    ``analytes`` defaults to every cytokine measure of ``windows``. With ``endpoints``
    (subject_id, icans_max_grade) lines are red for peak ICANS 3-4 and grey for 0-2.
    """
    cyto = windows[windows["kind"] == "cytokine"] if "kind" in windows.columns else windows
    if analytes is None:
        analytes = list(dict.fromkeys(cyto["measure"]))
    peak = {}
    if endpoints is not None and "icans_max_grade" in endpoints.columns:
        peak = dict(zip(endpoints["subject_id"], endpoints["icans_max_grade"]))
    shown = cytokine_pair_tests(cyto, tests, analytes)
    fig, axes = panel_grid(len(analytes), ncols, (1.75, 2.15), dpi=dpi)
    for ax, analyte in zip(axes, analytes):
        pairs = _pairs(cyto, analyte)
        if pairs.empty:
            _empty(ax, f"{analyte}\nno pairs")
            continue
        for r in pairs.itertuples(index=False):
            g = peak.get(r.subject_id)
            colour = ICANS_HIGH if g is not None and not pd.isna(g) and int(g) >= 3 else ICANS_LOW
            ax.plot([0, 1], [r.before_value, r.after_value], color=colour, lw=0.8, marker="o", ms=3)
        ax.set_yscale("log")
        text = textwrap.fill(shown.at[analyte, "text"], 24)
        ax.set_title(f"{analyte} (n={len(pairs)})\n{text}", fontsize=7)
        ax.set_xticks([0, 1], ["before", "after"], fontsize=6)
        ax.set_xlim(-0.35, 1.35)
        ax.tick_params(axis="y", which="both", labelsize=5)
    if not analytes:
        _empty(axes[0], "no cytokine pairs")
    rules = cyto["substitution_rule"].dropna().unique() if "substitution_rule" in cyto.columns else []
    note = ("Serum, pg/mL: latest sample on study days 1-2 before the first dose vs earliest on days 2-8 "
            "after the last; ratio paired t-test (t-test on log values); n: subjects with a pair. "
            "Red: peak ICANS 3-4; grey: 0-2.")
    multiplicity = multiplicity_note(int(shown["q_value"].notna().sum()))
    if multiplicity:
        note += f" {multiplicity}."
    untested = int(shown["no_test"].notna().sum())
    if untested:
        note += (f" No test where every before or every after value is censored (LLOQ/2 substitute or ULOQ): "
                 f"{untested} panel{'s' if untested != 1 else ''}.")
    if len(rules):
        note += f" Censored values by rule {', '.join(map(str, rules))}."
    note_below(fig, note, fontsize=6.5, wrap=True)
    return tight_png(fig, dpi, "Serum cytokines before and after anakinra", name="cytokine_pairs", description=note)
