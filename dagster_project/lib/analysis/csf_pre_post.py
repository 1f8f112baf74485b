"""`analysis.csf_pre_post`: CSF measures before and after infusion (marts.md; derivations.md,
"CSF before and after"; Park 2023 Fig. 4B/4C).

Per CSF measure (WBC, PROTEIN and each cytokine by default), per subject, on analysis_value:
- pre  = the last CSF sample (by collection time) on study days -14..0;
- post = the sample on study days 3..7 closest to day 5, the earlier one on a tie (day 4 before
  day 6; on the same day, the earlier collection time).
Selection is per measure: the sample chosen is the last/closest one that has that measure.
Both window edges are included (derivations.md, "Windows"). The windows are on floor(study_day)
(a relative-time study delivers fractional days, 7.25 = day 7 at 06:00); "last" and "earlier"
order by collection time, and where a relative-time study has none, by the fractional study day.

Summary per measure: n_pre, n_post, n_paired (subjects with both), median and quartiles of all
pre values and of all post values, with R's default quantile definition (type 7 = numpy's
``method="linear"``; ``quantile_type`` says 7); and the partially matched Wilcoxon test of Fong
et al. 2018 through :func:`stats.pm_wilcoxon.pm_wilcox_test` with pre as X and
post as Y: pairs = subjects with both, X extras = pre-only, Y extras = post-only. ``test`` is the
R method string of the test that ran ("SR-MW, weighted linear combination", or the
``wilcox.test`` that robustrank falls back to when there are no extras, no pairs or one pair);
``statistic`` is its Z (or R's V / W for a fall-back). With no value on one side the p-value
is null.

Several studies (:func:`csf_pre_post_by_study`): each study on its own subjects' samples,
stacked with ``study_id`` first.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dagster_project.lib.analysis.studies import stack, studies_of, study_rows
from dagster_project.lib.lineage.edges import DELIVERED_COLUMNS, edge_frame, edges_to_rows, empty_edges
from stats.pm_wilcoxon import pm_wilcox_test
from schemas.analytes import CYTOKINE_CODES
from schemas.dbt_vars import window

__all__ = ["COLUMNS", "SELECTION_COLUMNS", "csf_pre_post", "csf_pre_post_by_study", "lineage", "select_pre_post",
           "summarize"]

# pre: the baseline window of the dbt project (var baseline_window_*, -14..0), read at call time.
POST_FIRST_DAY, POST_LAST_DAY, POST_TARGET_DAY = 3, 7, 5
QUANTILE_TYPE = 7  # R quantile(type = 7), numpy method="linear"
DEFAULT_CHEMISTRY = ("WBC", "PROTEIN")

SELECTION_COLUMNS = [
    "subject_id", "analyte", "timepoint", "sample_id", "study_day", "collected_at", "analysis_value", "unit",
    "censoring",
]
COLUMNS = [
    "analyte",
    "specimen",
    "unit",
    "n_pre",
    "n_post",
    "n_paired",
    "n_pre_only",
    "n_post_only",
    "median_pre",
    "q1_pre",
    "q3_pre",
    "median_post",
    "q1_post",
    "q3_post",
    "statistic",
    "p_value",
    "test",
    "quantile_type",
    "substitution_rule",
]
TABLE = "analysis.csf_pre_post"
# Which chosen samples decide each value of a row (lineage): a side's samples its n and
# quartiles; the subjects with both sides / one side their counts; every sample the test.
PRE_COLUMNS = ("n_pre", "median_pre", "q1_pre", "q3_pre")
POST_COLUMNS = ("n_post", "median_post", "q1_post", "q3_post")
TEST_COLUMNS = ("statistic", "p_value")


def _default_measures(csf: pd.DataFrame) -> pd.Series:
    if "analyte_kind" in csf.columns:
        cytokine = csf["analyte_kind"] == "cytokine"
    else:
        cytokine = csf["analyte"].isin(CYTOKINE_CODES)
    return cytokine | csf["analyte"].isin(DEFAULT_CHEMISTRY)


def _measure_order(analytes) -> list[str]:
    order = {a: i for i, a in enumerate((*DEFAULT_CHEMISTRY, *CYTOKINE_CODES))}
    return sorted(set(analytes), key=lambda a: (order.get(a, len(order)), a))


def select_pre_post(results: pd.DataFrame, *, analytes: list[str] | None = None) -> pd.DataFrame:
    """The pre and post CSF value of each subject x measure (:data:`SELECTION_COLUMNS`).

    ``results``: rows of ``marts.fct_biomarker_results`` (subject_id, specimen, analyte,
    study_day, collected_at, analysis_value; sample_id, unit and censoring when present: the
    figure says where every value of a side is censored). Only ``specimen == 'csf'`` rows with a
    study day and an analysis_value are used.
    """
    csf = results[
        (results["specimen"] == "csf") & results["study_day"].notna() & results["analysis_value"].notna()
    ]
    csf = csf[csf["analyte"].isin(analytes)] if analytes is not None else csf[_default_measures(csf)]
    day = csf["study_day"].astype(float)
    csf = csf.assign(
        sample_id=csf["sample_id"] if "sample_id" in csf.columns else None,
        unit=csf["unit"] if "unit" in csf.columns else None,
        censoring=csf["censoring"] if "censoring" in csf.columns else None,
        collected_at=pd.to_datetime(csf["collected_at"]) if "collected_at" in csf.columns else pd.NaT,
        _time=day,  # the time of a relative-time study's sample (no collected_at)
        study_day=np.floor(day).astype(int),
    )
    key = ["subject_id", "analyte"]

    pre_first_day, pre_last_day = window("baseline_window")
    pre = csf[csf["study_day"].between(pre_first_day, pre_last_day)]
    pre = pre.sort_values(key + ["collected_at", "_time", "sample_id"], na_position="first")
    pre = pre.groupby(key, sort=False).tail(1).assign(timepoint="pre")

    post = csf[csf["study_day"].between(POST_FIRST_DAY, POST_LAST_DAY)]
    post = post.assign(_distance=(post["study_day"] - POST_TARGET_DAY).abs())
    post = post.sort_values(key + ["_distance", "study_day", "collected_at", "_time", "sample_id"],
                            na_position="last")
    post = post.groupby(key, sort=False).head(1).assign(timepoint="post")

    # the delivered row of each sample (when the rows carry it: marts.fct_biomarker_results does)
    delivered = [c for c in DELIVERED_COLUMNS if c in csf.columns]
    out = pd.concat([pre, post], ignore_index=True)[SELECTION_COLUMNS + delivered]
    return out.sort_values(["analyte", "subject_id", "timepoint"], ascending=[True, True, False]).reset_index(
        drop=True
    )


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    q1, med, q3 = np.quantile(values, [0.25, 0.5, 0.75], method="linear")
    return (float(med), float(q1), float(q3))


def _summary(analyte: str, chosen: pd.DataFrame, rule) -> dict:
    wide = chosen.pivot_table(
        index="subject_id", columns="timepoint", values="analysis_value", aggfunc="first"
    ).reindex(columns=["pre", "post"])
    pre, post = wide["pre"], wide["post"]
    both = pre.notna() & post.notna()
    pre_only = pre.notna() & post.isna()
    post_only = post.notna() & pre.isna()
    pre_values = pre.dropna().to_numpy(dtype=float)
    post_values = post.dropna().to_numpy(dtype=float)
    median_pre, q1_pre, q3_pre = _quartiles(pre_values)
    median_post, q1_post, q3_post = _quartiles(post_values)
    if pre_values.size and post_values.size:
        test = pm_wilcox_test(
            pre[both].to_numpy(dtype=float),      # X paired
            post[both].to_numpy(dtype=float),     # Y paired (same subjects, same order)
            pre[pre_only].to_numpy(dtype=float),  # X extras
            post[post_only].to_numpy(dtype=float),  # Y extras
        )
        statistic, p_value, method = test.statistic, test.p_value, test.method
    else:
        statistic, p_value, method = math.nan, math.nan, None
    units = chosen["unit"].dropna().unique()
    return {
        "analyte": analyte,
        "specimen": "csf",
        "unit": ", ".join(sorted(units)) if len(units) else None,
        "n_pre": int(pre.notna().sum()),
        "n_post": int(post.notna().sum()),
        "n_paired": int(both.sum()),
        "n_pre_only": int(pre_only.sum()),
        "n_post_only": int(post_only.sum()),
        "median_pre": median_pre,
        "q1_pre": q1_pre,
        "q3_pre": q3_pre,
        "median_post": median_post,
        "q1_post": q1_post,
        "q3_post": q3_post,
        "statistic": statistic,
        "p_value": p_value,
        "test": method,
        "quantile_type": QUANTILE_TYPE,
        "substitution_rule": rule,
    }


def csf_pre_post(results: pd.DataFrame, *, analytes: list[str] | None = None) -> pd.DataFrame:
    """The `analysis.csf_pre_post` table: one row per CSF measure (:data:`COLUMNS`).

    ``results`` as for :func:`select_pre_post`; ``analytes`` overrides the default measures
    (WBC, PROTEIN and every cytokine present, in the contract's order; pass e.g.
    ``["RBC", "GLUCOSE"]`` for others, kept in the order given).
    A measure with CSF rows but no sample in either window still gets a row (n 0, p null).
    """
    return summarize(select_pre_post(results, analytes=analytes), results, analytes=analytes)


def summarize(chosen: pd.DataFrame, results: pd.DataFrame, *, analytes: list[str] | None = None) -> pd.DataFrame:
    """:func:`csf_pre_post` from a selection already made by :func:`select_pre_post` on the same
    ``results`` and ``analytes`` (the asset draws its figure from that selection too)."""
    csf = results[results["specimen"] == "csf"]
    measures = analytes if analytes is not None else csf.loc[_default_measures(csf), "analyte"].unique()
    ordered = list(dict.fromkeys(analytes)) if analytes is not None else _measure_order(measures)
    # One pass per grouping instead of a comparison of the whole column per measure.
    by_analyte = dict(tuple(chosen.groupby("analyte", sort=False)))
    empty = chosen.iloc[0:0]
    rules: dict[str, str | None] = {}
    if "substitution_rule" in results.columns:
        present = csf[["analyte", "substitution_rule"]].dropna().drop_duplicates()
        rules = {a: ", ".join(sorted(g["substitution_rule"])) for a, g in present.groupby("analyte", sort=False)}
    rows = [_summary(analyte, by_analyte.get(analyte, empty), rules.get(analyte)) for analyte in ordered]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.DataFrame(rows)[COLUMNS]


def lineage(study_id: str, chosen: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The edges of one study's `summary` rows (audit.analysis_lineage, lib/lineage/edges.py):
    each value to the delivered rows of the samples :func:`select_pre_post` chose for it
    (``chosen``, with the delivered columns): PRE_COLUMNS the pre samples, POST_COLUMNS the post
    samples, n_paired both samples of the subjects with both, n_pre_only / n_post_only the sample
    of the subjects with one, the test (when it ran) every chosen sample. Empty when ``chosen``
    does not name its delivered rows."""
    if not set(DELIVERED_COLUMNS) <= set(chosen.columns) or summary.empty:
        return empty_edges()
    by_analyte = dict(tuple(chosen.groupby("analyte", sort=False)))
    parts = []
    for row in summary.itertuples(index=False):
        rows = by_analyte.get(row.analyte)
        if rows is None:
            continue
        key = {"analyte": row.analyte}
        pre, post = rows[rows["timepoint"] == "pre"], rows[rows["timepoint"] == "post"]
        paired = set(pre["subject_id"]) & set(post["subject_id"])
        both = rows["subject_id"].isin(paired)
        parts += [
            edges_to_rows(study_id, TABLE, key, PRE_COLUMNS, pre),
            edges_to_rows(study_id, TABLE, key, POST_COLUMNS, post),
            edges_to_rows(study_id, TABLE, key, ("n_paired",), rows[both]),
            edges_to_rows(study_id, TABLE, key, ("n_pre_only",), pre[~pre["subject_id"].isin(paired)]),
            edges_to_rows(study_id, TABLE, key, ("n_post_only",), post[~post["subject_id"].isin(paired)]),
        ]
        if not pd.isna(row.p_value):
            parts.append(edges_to_rows(study_id, TABLE, key, TEST_COLUMNS, rows))
    return edge_frame(parts)


def csf_pre_post_by_study(results: pd.DataFrame, *, studies: list[str] | None = None,
                          analytes: list[str] | None = None) -> pd.DataFrame:
    """:func:`csf_pre_post` of each study's rows, stacked with ``study_id`` first (``studies``:
    default those of ``results``; a study without a CSF row has no row)."""
    studies = studies_of(results) if studies is None else list(studies)
    return stack([(s, csf_pre_post(study_rows(results, s), analytes=analytes)) for s in studies], COLUMNS)
