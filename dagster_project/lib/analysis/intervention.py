"""Measures around an anakinra course (derivations.md, "Around an anakinra course"; marts.md:
``analysis.intervention_windows``, ``intervention_tests``, ``intervention_lab_grades``;
Wehrli et al., JITC 2022;10:e003847, Figures 2 and 3).

Pure pandas in, pandas out; the statistics are :mod:`stats.paired_t`
(R ``t.test(after, before, paired = TRUE)`` and its log-scale "ratio" form) and the CTCAE grades
are :mod:`stats.ctcae`; neither is reimplemented here.

Course (:func:`anakinra_courses`)
    Anakinra doses with indication ``crs`` or ``icans`` (prophylactic and ``other`` doses are not
    a course and do not bridge a gap), ordered by ``administered_at``; a gap of more than 72 h
    between two consecutive such doses starts a new course (exactly 72 h does not). The first
    course of each subject is analysed. First / last dose = its first and last dose.

Windows (:func:`intervention_windows`). Every window includes both edges (derivations.md,
"Windows"). ``F`` = first dose time, ``L`` = last dose time (UTC), ``dF`` / ``dL`` = their study
days.

=========================  ==================================  ==================================
measure                    before                              after
=========================  ==================================  ==================================
TMAX (vitals)              highest temperature_c in [F-24h, F]  highest temperature_c in [L, L+24h]
ANC, PLT, CRP, FERRITIN    latest serum value in [F-48h, F]     earliest serum value in [L, L+48h]
serum cytokines            latest sample on study days          earliest sample on study days
                           dF-2 .. dF-1                         dL+2 .. dL+8
=========================  ==================================  ==================================

"Days" of the cytokine windows (and of the lab-grade window) are *study days*, i.e. calendar
days as the site wrote them (sources.md, "Study time"; marts.md: "days are study days"), not
24-h periods from the dose time. That is how Wehrli Fig. 3 counts them ("1-2 days (median 1 day)
before and 2-8 days (median 4 days) after the last anakinra dose (corresponding to days 3, 7, 14,
21, and 28 after CART infusion)"): samples are taken on fixed study days, and a sample drawn at
07:00 two calendar days before a 10:00 dose is 51 h before it, which 24-h periods would drop.
The temperature and lab windows are stated in hours by the spec and are measured in hours.

One row per subject with a course x measure (``TMAX``, ``ANC``, ``PLT``, ``CRP``, ``FERRITIN``,
then every serum cytokine code present in the results, in the contract's order). A subject without
a value in a window keeps its row with a null value and a ``status``:

- ``paired``: both values present and usable by the measure's test;
- ``no_value_before`` / ``no_value_after`` / ``no_value_before_after``;
- ``nonpositive_value``: a cytokine pair with a value <= 0 (the ratio test takes logs);
- ``no_course_study_day``: the course's study days are unknown (cytokine windows need them).

``pct_change`` = (after - before) / before x 100 and ``ratio`` = after / before, null when either
value is missing or before is 0. Ties: on equal temperatures the earliest reading is reported;
two results at the same instant are ordered by sample_id then measurement_id (the largest wins).
Cytokines enter by their ``analysis_value`` (the substitution rule of the mart, carried in
``substitution_rule``; ``before_censoring`` / ``after_censoring`` say whether a value was censored).

Tests (:func:`intervention_tests`), per measure, on the rows with status ``paired``:

- TMAX, ANC, PLT, CRP, FERRITIN: ``paired_t`` (R ``t.test(after, before, paired = TRUE)``).
  For CRP and ferritin (waterfalls in the paper, whose legend gives p-values without naming the
  test) our choice is the same paired t-test on the values, plus the mean and median percent
  change and the number of subjects whose value fell; those summaries are given for every measure.
- cytokines: ``ratio_paired_t`` (paired t-test on log values) with the geometric mean ratio
  after/before and its 95% CI.
- n_subjects = subjects with a course, n_pairs = rows ``paired``, n_missing = the rest.
  Fewer than two pairs (or constant differences) give null statistic and p-value.

Study days are floor(study_day) wherever a window counts days (a relative-time study delivers
fractional days: 7.25 = day 7 at 06:00). A relative-time study has no clock: :func:`intervention_study`
measures its hour windows on a timeline of its study days (day 0 at :data:`TIMELINE_ORIGIN`,
7.25 = 06:00 of day 7) and leaves the calendar columns of its rows (dose and sample times) null.
Several studies: :func:`intervention_study` runs on one study's rows; the asset stacks the
studies' tables with ``study_id`` first (lib/analysis/studies.py).

Lab grades (:func:`intervention_lab_grades`): per subject with a course and test (ANC, PLT), the
worst CTCAE v5.0 grade (derivations.md, "Lab toxicity") of the values on study days dL+21 ..
dL+28 ("3-4 weeks after anakinra", Wehrli Fig. 2C), with configurable lower limits of normal
(default ANC 2.0, PLT 150 x 10^9/L). No value in the window -> null grade, status
``no_value_in_window``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dagster_project.lib.lineage.edges import edge_frame, edges_to_rows, edges_to_targets

from stats.ctcae import DEFAULT_LLN, ctcae_grades
from stats.paired_t import paired_t, ratio_paired_t
from schemas.analytes import CYTOKINE_CODES

__all__ = [
    "CALENDAR_COLUMNS",
    "COURSE_COLUMNS",
    "TIMELINE_ORIGIN",
    "LAB_GRADE_COLUMNS",
    "LAB_MEASURES",
    "TEST_COLUMNS",
    "WINDOW_COLUMNS",
    "anakinra_courses",
    "intervention_lab_grades",
    "intervention_study",
    "intervention_tests",
    "intervention_windows",
    "measure_kind",
    "on_study_day_timeline",
]

THERAPEUTIC_INDICATIONS = ("crs", "icans")
MAX_GAP = pd.Timedelta(hours=72)
TMAX_WINDOW = pd.Timedelta(hours=24)
LAB_WINDOW = pd.Timedelta(hours=48)
LAB_MEASURES = ("ANC", "PLT", "CRP", "FERRITIN")
CYTOKINE_BEFORE_DAYS = (2, 1)  # study days dF-2 .. dF-1
CYTOKINE_AFTER_DAYS = (2, 8)  # study days dL+2 .. dL+8
GRADE_DAYS = (21, 28)  # study days dL+21 .. dL+28
GRADE_TESTS = ("ANC", "PLT")
TEMPERATURE_UNIT = "C"

WINDOW_TEXT = {
    "vital": "highest in [first dose - 24 h, first dose] vs [last dose, last dose + 24 h]",
    "lab": "latest in [first dose - 48 h, first dose] vs earliest in [last dose, last dose + 48 h]",
    "cytokine": "latest on study days first-2..first-1 vs earliest on study days last+2..last+8 "
    "(days of the first / last dose)",
}

COURSE_COLUMNS = [
    "subject_id",
    "first_dose_at",
    "last_dose_at",
    "first_dose_study_day",
    "last_dose_study_day",
    "n_doses",
    "indications",
    "n_courses",
]
WINDOW_COLUMNS = [
    "subject_id",
    "measure",
    "kind",
    "unit",
    "before_value",
    "after_value",
    "pct_change",
    "ratio",
    "status",
    "before_at",
    "after_at",
    "before_study_day",
    "after_study_day",
    "n_before",
    "n_after",
    "before_censoring",
    "after_censoring",
    "substitution_rule",
    "first_dose_at",
    "last_dose_at",
]
TEST_COLUMNS = [
    "measure",
    "kind",
    "test",
    "n_subjects",
    "n_pairs",
    "n_missing",
    "mean_before",
    "mean_after",
    "statistic",
    "p_value",
    "gm_ratio",
    "gm_ratio_ci_low",
    "gm_ratio_ci_high",
    "mean_pct_change",
    "median_pct_change",
    "n_decreased",
    "unit",
    "substitution_rule",
    "window",
]
LAB_GRADE_COLUMNS = [
    "subject_id",
    "test",
    "worst_ctcae_grade_d21_d28",
    "worst_value",
    "worst_value_study_day",
    "n_values",
    "window_first_day",
    "window_last_day",
    "lln",
    "status",
]

_DTYPES = {
    "subject_id": "string",
    "first_dose_at": "datetime64[us]",
    "last_dose_at": "datetime64[us]",
    "first_dose_study_day": "Int64",
    "last_dose_study_day": "Int64",
    "n_doses": "int64",
    "indications": "string",
    "n_courses": "int64",
    "measure": "string",
    "kind": "string",
    "unit": "string",
    "before_value": float,
    "after_value": float,
    "pct_change": float,
    "ratio": float,
    "status": "string",
    "before_at": "datetime64[us]",
    "after_at": "datetime64[us]",
    "before_study_day": "Int64",
    "after_study_day": "Int64",
    "n_before": "int64",
    "n_after": "int64",
    "before_censoring": "string",
    "after_censoring": "string",
    "substitution_rule": "string",
    "test": "string",
    "n_subjects": "int64",
    "n_pairs": "int64",
    "n_missing": "int64",
    "mean_before": float,
    "mean_after": float,
    "statistic": float,
    "p_value": float,
    "gm_ratio": float,
    "gm_ratio_ci_low": float,
    "gm_ratio_ci_high": float,
    "mean_pct_change": float,
    "median_pct_change": float,
    "n_decreased": "int64",
    "window": "string",
    "worst_ctcae_grade_d21_d28": "Int64",
    "worst_value": float,
    "worst_value_study_day": "Int64",
    "n_values": "int64",
    "window_first_day": "Int64",
    "window_last_day": "Int64",
    "lln": float,
}


def _frame(records: list[dict], columns: list[str]) -> pd.DataFrame:
    """Rows -> a frame with exactly ``columns`` in stable dtypes (also when empty): text as
    pandas ``string`` (VARCHAR), times as naive UTC ``datetime64[us]`` (TIMESTAMP, as the marts)."""
    out = pd.DataFrame(records, columns=columns)
    for col in columns:
        dtype = _DTYPES[col]
        if dtype == "datetime64[us]":
            out[col] = _utc_naive(out[col]).astype("datetime64[us]")
        elif dtype == "Int64":
            out[col] = pd.array(
                [pd.NA if v is None or pd.isna(v) else int(v) for v in out[col]], dtype="Int64"
            )
        elif dtype == "string":  # VARCHAR in DuckDB even when empty or all null
            out[col] = out[col].astype(object).where(out[col].notna(), None).astype("string")
        else:
            out[col] = out[col].astype(dtype)
    return out.reset_index(drop=True)


def _utc_naive(values) -> pd.Series:
    """Timestamps as naive UTC (the warehouse stores UTC as TIMESTAMP without zone)."""
    s = pd.to_datetime(pd.Series(values), errors="raise")
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.astype("datetime64[ns]")


def _require(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} rows lack columns: {missing}")


def measure_kind(measure: str) -> str:
    """``vital`` (TMAX), ``lab`` (ANC, PLT, CRP, FERRITIN) or ``cytokine``."""
    if measure == "TMAX":
        return "vital"
    if measure in LAB_MEASURES:
        return "lab"
    if measure in CYTOKINE_CODES:
        return "cytokine"
    raise ValueError(f"unknown intervention measure {measure!r}")


def _study_day(value) -> int | None:
    """The whole study day of a (possibly fractional) study day: floor(7.25) = 7."""
    return None if value is None or pd.isna(value) else int(math.floor(float(value)))


# --------------------------------------------------------------------------------------------
# courses


def anakinra_courses(medications: pd.DataFrame) -> pd.DataFrame:
    """The first anakinra course of each subject (see module doc), one row per subject.

    Input: rows of ``staging.stg_clinical__medications`` (subject_id, drug, administered_at,
    indication; study_day used when present). Output columns :data:`COURSE_COLUMNS`:
    first/last dose time (UTC) and study day, n_doses of the course, the indications seen in it
    (``;``-joined), and n_courses = how many courses the subject had (only the first is analysed).
    Subjects are sorted by subject_id; a subject with only prophylactic anakinra has no row.
    """
    _require(medications, ["subject_id", "drug", "administered_at", "indication"], "medications")
    doses = medications.loc[
        medications["drug"].astype(str).str.strip().str.lower().eq("anakinra")
        & medications["indication"].astype(str).str.strip().str.lower().isin(THERAPEUTIC_INDICATIONS)
        & medications["administered_at"].notna()
    ].copy()
    if doses.empty:
        return _frame([], COURSE_COLUMNS)
    doses["administered_at"] = _utc_naive(doses["administered_at"]).to_numpy()
    if "study_day" not in doses.columns:
        doses["study_day"] = None
    doses["indication"] = doses["indication"].astype(str).str.strip().str.lower()
    doses = doses.sort_values(["subject_id", "administered_at"], kind="mergesort")

    records = []
    for subject_id, part in doses.groupby("subject_id", sort=True):
        gaps = part["administered_at"].diff()
        course = (gaps > MAX_GAP).cumsum().to_numpy()
        first = part[course == 0]
        records.append(
            {
                "subject_id": subject_id,
                "first_dose_at": first["administered_at"].iloc[0],
                "last_dose_at": first["administered_at"].iloc[-1],
                "first_dose_study_day": _study_day(first["study_day"].iloc[0]),
                "last_dose_study_day": _study_day(first["study_day"].iloc[-1]),
                "n_doses": len(first),
                "indications": ";".join(sorted(first["indication"].unique())),
                "n_courses": int(course.max()) + 1,
            }
        )
    return _frame(records, COURSE_COLUMNS)


# --------------------------------------------------------------------------------------------
# windows


def _prepare_results(biomarkers: pd.DataFrame) -> pd.DataFrame:
    _require(
        biomarkers,
        ["subject_id", "specimen", "analyte", "collected_at", "study_day", "analysis_value", "unit"],
        "fct_biomarker_results",
    )
    res = biomarkers.loc[
        biomarkers["specimen"].astype(str).eq("serum") & biomarkers["analysis_value"].notna()
    ].copy()
    res["collected_at"] = _utc_naive(res["collected_at"]).to_numpy()
    for col in ("sample_id", "measurement_id", "censoring", "substitution_rule"):
        if col not in res.columns:
            res[col] = None
    res["analysis_value"] = res["analysis_value"].astype(float)
    # chronological, then sample_id / measurement_id so that equal instants are ordered stably
    res["_sample"] = res["sample_id"].fillna("").astype(str)
    res["_measurement"] = res["measurement_id"].fillna("").astype(str)
    return res.sort_values(["collected_at", "_sample", "_measurement"], kind="mergesort")


def _cytokine_measures(results: pd.DataFrame) -> list[str]:
    present = set(results["analyte"].astype(str))
    return [code for code in CYTOKINE_CODES if code in present]


def _pick(part: pd.DataFrame, *, time_col: str, value_col: str, how: str) -> tuple[pd.Series | None, int]:
    """The chosen row of a window (``latest``, ``earliest`` or ``highest``) and the count in it."""
    if part.empty:
        return None, 0
    if how == "latest":
        return part.iloc[-1], len(part)
    if how == "earliest":
        return part.iloc[0], len(part)
    # highest value, the earliest such reading (part is in time order; argmax takes the first)
    return part.iloc[int(np.argmax(part[value_col].to_numpy(dtype=float)))], len(part)


def _in_hours(part: pd.DataFrame, time_col: str, start, end) -> pd.DataFrame:
    t = part[time_col]
    return part[(t >= start) & (t <= end)]


def _in_days(part: pd.DataFrame, first_day: int, last_day: int) -> pd.DataFrame:
    d = np.floor(pd.to_numeric(part["study_day"], errors="coerce").astype(float))
    return part[d.notna() & (d >= first_day) & (d <= last_day)]


def _status(before: float | None, after: float | None, kind: str) -> str:
    b_missing = before is None or math.isnan(before)
    a_missing = after is None or math.isnan(after)
    if b_missing and a_missing:
        return "no_value_before_after"
    if b_missing:
        return "no_value_before"
    if a_missing:
        return "no_value_after"
    if kind == "cytokine" and (before <= 0 or after <= 0):
        return "nonpositive_value"
    return "paired"


def _row(course, measure: str, kind: str, unit, before, n_before, after, n_after,
         time_col: str, value_col: str, status: str | None = None) -> dict:
    def val(r):
        return math.nan if r is None else float(r[value_col])

    b, a = val(before), val(after)
    usable = not (math.isnan(b) or math.isnan(a)) and b != 0
    if unit is None:
        for r in (before, after):
            if r is not None and "unit" in r.index and pd.notna(r["unit"]):
                unit = r["unit"]
                break
    rule = None
    if kind == "cytokine":
        rules = {r["substitution_rule"] for r in (before, after) if r is not None and pd.notna(r["substitution_rule"])}
        rule = ";".join(sorted(rules)) or None
    return {
        "_before_row": _delivered_row(before, "vitals" if kind == "vital" else None),
        "_after_row": _delivered_row(after, "vitals" if kind == "vital" else None),
        "subject_id": course.subject_id,
        "measure": measure,
        "kind": kind,
        "unit": unit,
        "before_value": b,
        "after_value": a,
        "pct_change": (a - b) / b * 100.0 if usable else math.nan,
        "ratio": a / b if usable else math.nan,
        "status": status or _status(b, a, kind),
        "before_at": None if before is None else before[time_col],
        "after_at": None if after is None else after[time_col],
        "before_study_day": None if before is None else _study_day(before.get("study_day")),
        "after_study_day": None if after is None else _study_day(after.get("study_day")),
        "n_before": n_before,
        "n_after": n_after,
        "before_censoring": None if before is None or kind == "vital" else before.get("censoring"),
        "after_censoring": None if after is None or kind == "vital" else after.get("censoring"),
        "substitution_rule": rule,
        "first_dose_at": course.first_dose_at,
        "last_dose_at": course.last_dose_at,
    }


def _delivered_row(row: pd.Series | None, source: str | None) -> dict | None:
    """The delivered row of a chosen reading or result (lineage), when its rows name it
    (delivery_sha256, file_name, row_number; the source and SDTM --SEQ when they have them)."""
    if row is None or "delivery_sha256" not in row.index or pd.isna(row["delivery_sha256"]):
        return None
    return {"source": row.get("source", source) or source, "delivery_sha256": row["delivery_sha256"],
            "file_name": row["file_name"], "row_number": row["row_number"], "record_seq": row.get("record_seq"),
            "study_day": row.get("study_day")}


def intervention_windows(courses: pd.DataFrame, vitals: pd.DataFrame, biomarkers: pd.DataFrame,
                         rows: list[dict] | None = None) -> pd.DataFrame:
    """``analysis.intervention_windows``: one row per subject with a course x measure.

    ``courses`` from :func:`anakinra_courses`; ``vitals`` rows of ``staging.stg_clinical__vitals``
    (subject_id, recorded_at, temperature_c; study_day used when present); ``biomarkers`` rows of
    ``marts.fct_biomarker_results`` (serum rows are used). Windows and statuses: module doc.
    ``rows`` (a list): for :func:`lineage`, one entry per window row appended, its subject_id,
    measure and the delivered rows of its before and after values (None where not named).
    """
    _require(courses, ["subject_id", "first_dose_at", "last_dose_at"], "courses")
    _require(vitals, ["subject_id", "recorded_at", "temperature_c"], "vitals")
    if courses.empty:
        return _frame([], WINDOW_COLUMNS)
    courses = courses.copy()
    courses["first_dose_at"] = _utc_naive(courses["first_dose_at"]).to_numpy()
    courses["last_dose_at"] = _utc_naive(courses["last_dose_at"]).to_numpy()
    for col in ("first_dose_study_day", "last_dose_study_day"):
        if col not in courses.columns:
            courses[col] = None

    temps = vitals.loc[vitals["temperature_c"].notna()].copy()
    temps["recorded_at"] = _utc_naive(temps["recorded_at"]).to_numpy()
    temps["temperature_c"] = temps["temperature_c"].astype(float)
    if "study_day" not in temps.columns:
        temps["study_day"] = None
    temps = temps.sort_values("recorded_at", kind="mergesort")
    temps_by_subject = {k: g for k, g in temps.groupby("subject_id", sort=False)}

    results = _prepare_results(biomarkers)
    results_by_key = {k: g for k, g in results.groupby(["subject_id", "analyte"], sort=False)}
    cytokines = _cytokine_measures(results)
    empty_results = results.iloc[0:0]

    records = []
    for course in courses.sort_values("subject_id").itertuples(index=False):
        first, last = course.first_dose_at, course.last_dose_at

        # TMAX: highest temperature in the 24 h before the first / after the last dose
        t = temps_by_subject.get(course.subject_id, temps.iloc[0:0])
        before, nb = _pick(_in_hours(t, "recorded_at", first - TMAX_WINDOW, first),
                           time_col="recorded_at", value_col="temperature_c", how="highest")
        after, na = _pick(_in_hours(t, "recorded_at", last, last + TMAX_WINDOW),
                          time_col="recorded_at", value_col="temperature_c", how="highest")
        records.append(_row(course, "TMAX", "vital", TEMPERATURE_UNIT, before, nb, after, na,
                            "recorded_at", "temperature_c"))

        # labs: latest in the 48 h before the first dose, earliest in the 48 h after the last
        for measure in LAB_MEASURES:
            r = results_by_key.get((course.subject_id, measure), empty_results)
            before, nb = _pick(_in_hours(r, "collected_at", first - LAB_WINDOW, first),
                               time_col="collected_at", value_col="analysis_value", how="latest")
            after, na = _pick(_in_hours(r, "collected_at", last, last + LAB_WINDOW),
                              time_col="collected_at", value_col="analysis_value", how="earliest")
            records.append(_row(course, measure, "lab", None, before, nb, after, na,
                                "collected_at", "analysis_value"))

        # cytokines: study days dF-2..dF-1 (latest) vs dL+2..dL+8 (earliest)
        d_first = _study_day(course.first_dose_study_day)
        d_last = _study_day(course.last_dose_study_day)
        for measure in cytokines:
            r = results_by_key.get((course.subject_id, measure), empty_results)
            if d_first is None or d_last is None:
                records.append(_row(course, measure, "cytokine", None, None, 0, None, 0,
                                    "collected_at", "analysis_value", status="no_course_study_day"))
                continue
            before, nb = _pick(_in_days(r, d_first - CYTOKINE_BEFORE_DAYS[0], d_first - CYTOKINE_BEFORE_DAYS[1]),
                               time_col="collected_at", value_col="analysis_value", how="latest")
            after, na = _pick(_in_days(r, d_last + CYTOKINE_AFTER_DAYS[0], d_last + CYTOKINE_AFTER_DAYS[1]),
                              time_col="collected_at", value_col="analysis_value", how="earliest")
            records.append(_row(course, measure, "cytokine", None, before, nb, after, na,
                                "collected_at", "analysis_value"))
    if rows is not None:
        rows.extend({"subject_id": r["subject_id"], "measure": r["measure"], "before": r["_before_row"],
                     "after": r["_after_row"]} for r in records)
    return _frame(records, WINDOW_COLUMNS)


WINDOWS_TABLE, TESTS_TABLE = "analysis.intervention_windows", "analysis.intervention_tests"
# A test's values are decided by its pairs; n_subjects and n_missing by every window row.
PAIR_COLUMNS = ("n_pairs", "mean_before", "mean_after", "statistic", "p_value", "gm_ratio", "gm_ratio_ci_low",
                "gm_ratio_ci_high", "mean_pct_change", "median_pct_change", "n_decreased")


def lineage(study_id: str, rows: list[dict], windows: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """The edges of one study's windows and tests (audit.analysis_lineage, lib/lineage/edges.py):
    a window row's before_value / after_value -> the delivered row of the reading or result
    chosen, its pct_change, ratio and status -> both; a test's PAIR_COLUMNS -> the status of its
    window rows ``paired`` (the rows it tested), n_subjects and n_missing -> every window row of
    the measure. ``rows`` from :func:`intervention_windows` (``rows=``)."""
    parts = []
    for row in rows:
        key = {"subject_id": row["subject_id"], "measure": row["measure"]}
        chosen = [r for r in (row["before"], row["after"]) if r is not None]
        for columns, refs in ((("before_value",), [row["before"]]), (("after_value",), [row["after"]]),
                              (("pct_change", "ratio", "status"), chosen)):
            refs = [r for r in refs if r is not None]
            if refs:
                parts.append(edges_to_rows(study_id, WINDOWS_TABLE, key, columns, pd.DataFrame(refs)))
    for measure, group in windows.groupby("measure", sort=False):
        key = {"measure": measure}
        every = [{"subject_id": s, "measure": measure} for s in group["subject_id"]]
        paired = [{"subject_id": s, "measure": measure} for s in group.loc[group["status"] == "paired", "subject_id"]]
        if measure in set(tests["measure"]):
            parts.append(edges_to_targets(study_id, TESTS_TABLE, key, ("n_subjects", "n_missing"), WINDOWS_TABLE,
                                          every, "status"))
            parts.append(edges_to_targets(study_id, TESTS_TABLE, key, PAIR_COLUMNS, WINDOWS_TABLE, paired, "status"))
    return edge_frame(parts)


# --------------------------------------------------------------------------------------------
# tests


def _float(v: float) -> float:
    return math.nan if v is None else float(v)


def intervention_tests(windows: pd.DataFrame) -> pd.DataFrame:
    """``analysis.intervention_tests``: one row per measure of ``windows`` (in its order).

    Needs subject_id, measure, before_value, after_value and status (rows ``paired`` are the
    pairs); pct_change is used when present. Tests and summaries: module doc.
    """
    _require(windows, ["subject_id", "measure", "before_value", "after_value", "status"], "intervention_windows")
    records = []
    for measure in pd.unique(windows["measure"]):
        rows = windows[windows["measure"] == measure]
        kind = measure_kind(str(measure))
        pairs = rows[rows["status"] == "paired"]
        before = pairs["before_value"].astype(float).to_numpy()
        after = pairs["after_value"].astype(float).to_numpy()
        rec: dict = {"measure": measure, "kind": kind, "n_subjects": int(rows["subject_id"].nunique())}
        if kind == "cytokine":
            positive = (before > 0) & (after > 0)
            res = ratio_paired_t(before[positive], after[positive])
            rec.update(test="ratio_paired_t", gm_ratio=res.gm_ratio, gm_ratio_ci_low=res.gm_ratio_ci_low,
                       gm_ratio_ci_high=res.gm_ratio_ci_high)
        else:
            res = paired_t(before, after)
            rec.update(test="paired_t", gm_ratio=math.nan, gm_ratio_ci_low=math.nan, gm_ratio_ci_high=math.nan)
        pct = (
            pairs["pct_change"].astype(float)
            if "pct_change" in pairs.columns
            else pd.Series((after - before) / np.where(before == 0, np.nan, before) * 100.0)
        ).dropna()
        units = rows["unit"].dropna().unique() if "unit" in rows.columns else []
        rules = rows["substitution_rule"].dropna().unique() if "substitution_rule" in rows.columns else []
        rec.update(
            n_pairs=res.n_pairs,
            n_missing=rec["n_subjects"] - res.n_pairs,
            mean_before=res.mean_before,
            mean_after=res.mean_after,
            statistic=_float(res.statistic),
            p_value=_float(res.p_value),
            mean_pct_change=float(pct.mean()) if len(pct) else math.nan,
            median_pct_change=float(pct.median()) if len(pct) else math.nan,
            n_decreased=int((after < before).sum()),
            unit=";".join(sorted(map(str, units))) or None,
            substitution_rule=";".join(sorted(map(str, rules))) or None,
            window=WINDOW_TEXT[kind],
        )
        records.append(rec)
    return _frame(records, TEST_COLUMNS)


# --------------------------------------------------------------------------------------------
# CTCAE grades 3-4 weeks after the course


def intervention_lab_grades(
    courses: pd.DataFrame,
    biomarkers: pd.DataFrame,
    lln_anc: float = DEFAULT_LLN["ANC"],
    lln_plt: float = DEFAULT_LLN["PLT"],
) -> pd.DataFrame:
    """``analysis.intervention_lab_grades``: subject with a course x test (ANC, PLT).

    The worst CTCAE v5.0 grade (:func:`stats.ctcae.ctcae_grades`, with the given
    lower limits of normal) of the serum values on study days dL+21 .. dL+28 (both included),
    with the lowest value, its study day and the number of values. Status ``ok``,
    ``no_value_in_window`` (grade null) or ``no_course_study_day``.
    """
    _require(courses, ["subject_id", "last_dose_study_day"], "courses")
    llns = {"ANC": float(lln_anc), "PLT": float(lln_plt)}
    for test, lln in llns.items():  # fail early on an impossible LLN, also for an empty cohort
        ctcae_grades(test, [], lln)
    if courses.empty:
        return _frame([], LAB_GRADE_COLUMNS)
    results = _prepare_results(biomarkers)
    results = results[results["analyte"].isin(GRADE_TESTS)]
    by_key = {k: g for k, g in results.groupby(["subject_id", "analyte"], sort=False)}
    records = []
    for course in courses.sort_values("subject_id").itertuples(index=False):
        d_last = _study_day(course.last_dose_study_day)
        for test in GRADE_TESTS:
            rec = {"subject_id": course.subject_id, "test": test, "lln": llns[test], "n_values": 0,
                   "worst_ctcae_grade_d21_d28": None, "worst_value": math.nan, "worst_value_study_day": None}
            if d_last is None:
                records.append(rec | {"window_first_day": None, "window_last_day": None,
                                      "status": "no_course_study_day"})
                continue
            lo, hi = d_last + GRADE_DAYS[0], d_last + GRADE_DAYS[1]
            rec |= {"window_first_day": lo, "window_last_day": hi}
            part = _in_days(by_key.get((course.subject_id, test), results.iloc[0:0]), lo, hi)
            if part.empty:
                records.append(rec | {"status": "no_value_in_window"})
                continue
            grades = ctcae_grades(test, part["analysis_value"].to_numpy(), llns[test])
            lowest = part.iloc[int(np.argmin(part["analysis_value"].to_numpy(dtype=float)))]
            records.append(
                rec
                | {
                    "worst_ctcae_grade_d21_d28": int(grades.max()),
                    "worst_value": float(lowest["analysis_value"]),
                    "worst_value_study_day": _study_day(lowest["study_day"]),
                    "n_values": len(part),
                    "status": "ok",
                }
            )
    return _frame(records, LAB_GRADE_COLUMNS)


# --------------------------------------------------------------------------------------------
# one study, calendar or relative time

# A relative-time study's timeline: study day d is TIMELINE_ORIGIN + d days (never stored).
TIMELINE_ORIGIN = pd.Timestamp("2000-01-01")
# The columns of each table that hold a clock time: null for a relative-time study.
CALENDAR_COLUMNS = {
    "courses": ("first_dose_at", "last_dose_at"),
    "windows": ("before_at", "after_at", "first_dose_at", "last_dose_at"),
}


def on_study_day_timeline(frame: pd.DataFrame, time_col: str) -> pd.DataFrame:
    """``frame`` with ``time_col`` = TIMELINE_ORIGIN + study_day days (a relative-time study's
    rows carry a study day and no time); rows without a study day get no time."""
    days = pd.to_numeric(frame["study_day"], errors="coerce").astype(float) if "study_day" in frame else \
        pd.Series(np.nan, index=frame.index)
    return frame.assign(**{time_col: TIMELINE_ORIGIN + pd.to_timedelta(days, unit="D")})


def _no_clock(frame: pd.DataFrame, columns) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
    return out


def intervention_study(
    medications: pd.DataFrame,
    vitals: pd.DataFrame,
    biomarkers: pd.DataFrame,
    *,
    relative: bool = False,
    lln_anc: float = DEFAULT_LLN["ANC"],
    lln_plt: float = DEFAULT_LLN["PLT"],
    study_id: str | None = None,
    edges: list[pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(courses, windows, tests, lab_grades)`` of one study's rows (see the module doc);
    ``relative``: the study is in relative time (hours measured on its study days, clock columns
    null). ``edges`` (a list): the lineage of the windows and tests of study ``study_id`` is
    appended to it (:func:`lineage`)."""
    if relative:
        medications = on_study_day_timeline(medications, "administered_at")
        vitals = on_study_day_timeline(vitals, "recorded_at")
        biomarkers = on_study_day_timeline(biomarkers, "collected_at")
    courses = anakinra_courses(medications)
    chosen: list[dict] | None = [] if edges is not None else None
    windows = intervention_windows(courses, vitals, biomarkers, rows=chosen)
    tests = intervention_tests(windows)
    if edges is not None:
        edges.append(lineage(study_id, chosen, windows, tests))
    grades = intervention_lab_grades(courses, biomarkers, lln_anc=lln_anc, lln_plt=lln_plt)
    if relative:
        courses = _no_clock(courses, CALENDAR_COLUMNS["courses"])
        windows = _no_clock(windows, CALENDAR_COLUMNS["windows"])
    return courses, windows, tests, grades
