"""Measures around an anakinra course (derivations.md, "Around an anakinra course", "Lab toxicity
(CTCAE v5.0)", "Windows": every window includes both edges).

Hand-made rows, so every expected value is known without the code under test: course detection
(72 h gap, prophylaxis), each window's edges one minute inside / outside, the reporting of
subjects without a value, the tests against R (shared/reference/paired_t.json) and the CTCAE
grades through the shared function at its thresholds.
"""

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from dagster_project.lib.analysis.intervention import (
    COURSE_COLUMNS,
    LAB_GRADE_COLUMNS,
    TEST_COLUMNS,
    WINDOW_COLUMNS,
    anakinra_courses,
    intervention_lab_grades,
    intervention_tests,
    intervention_windows,
)
from stats.ctcae import ctcae_grade

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paired_t.json"
TOL = 1e-9
INFUSED = datetime(2020, 1, 1)
FIRST = datetime(2020, 1, 10, 10, 0)  # study day 9
LAST = datetime(2020, 1, 12, 10, 0)  # study day 11
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


def study_day(ts: datetime) -> int:
    return (ts.date() - INFUSED.date()).days


def med(subject, at, indication="icans", drug="anakinra"):
    return {"subject_id": subject, "drug": drug, "administered_at": at, "study_day": study_day(at),
            "dose": 100.0, "dose_unit": "mg", "route": "SC", "indication": indication}


def meds_frame(rows) -> pd.DataFrame:
    cols = ["subject_id", "drug", "administered_at", "study_day", "dose", "dose_unit", "route", "indication"]
    return pd.DataFrame(rows, columns=cols)


def course_frame(subjects=("S1",), first=FIRST, last=LAST) -> pd.DataFrame:
    rows = []
    for s in subjects:
        t = first
        while t <= last:
            rows.append(med(s, t))
            t += timedelta(days=1)
    return anakinra_courses(meds_frame(rows))


def vitals_frame(rows) -> pd.DataFrame:
    """rows: (subject, time, temperature)."""
    return pd.DataFrame(
        [{"subject_id": s, "recorded_at": t, "study_day": study_day(t), "temperature_c": v} for s, t, v in rows],
        columns=["subject_id", "recorded_at", "study_day", "temperature_c"],
    )


def results_frame(rows) -> pd.DataFrame:
    """rows: (subject, analyte, time, value); serum, cytokines in pg/mL."""
    out = []
    for i, (s, analyte, t, v) in enumerate(rows):
        out.append({
            "measurement_id": f"m{i:04d}", "subject_id": s, "specimen": "serum", "analyte": analyte,
            "sample_id": None, "collected_at": t, "study_day": study_day(t), "analysis_value": v,
            "unit": "pg/mL", "censoring": "none", "substitution_rule": "lloq_half_uloq",
        })
    cols = ["measurement_id", "subject_id", "specimen", "analyte", "sample_id", "collected_at", "study_day",
            "analysis_value", "unit", "censoring", "substitution_rule"]
    return pd.DataFrame(out, columns=cols)


NO_VITALS = vitals_frame([])
NO_RESULTS = results_frame([])


def row(windows: pd.DataFrame, measure: str, subject: str = "S1") -> pd.Series:
    hit = windows[(windows["measure"] == measure) & (windows["subject_id"] == subject)]
    assert len(hit) == 1, (measure, subject, len(hit))
    return hit.iloc[0]


# ---------------------------------------------------------------------------------------------
# courses (derivations.md: no gap over 72 h; prophylactic doses are not a course)


def test_gap_of_exactly_72_hours_stays_in_the_course():
    t0 = datetime(2020, 1, 5, 10, 0)
    c = anakinra_courses(meds_frame([med("S1", t0), med("S1", t0 + 24 * H), med("S1", t0 + 96 * H)]))
    assert list(c.columns) == COURSE_COLUMNS
    r = c.iloc[0]
    assert (r["n_doses"], r["n_courses"]) == (3, 1)
    assert r["first_dose_at"] == pd.Timestamp(t0)
    assert r["last_dose_at"] == pd.Timestamp(t0 + 96 * H)
    assert (r["first_dose_study_day"], r["last_dose_study_day"]) == (4, 8)


def test_gap_one_minute_over_72_hours_starts_a_new_course():
    t0 = datetime(2020, 1, 5, 10, 0)
    c = anakinra_courses(meds_frame([med("S1", t0), med("S1", t0 + 24 * H), med("S1", t0 + 96 * H + MIN)]))
    r = c.iloc[0]
    assert (r["n_doses"], r["n_courses"]) == (2, 2)
    assert r["last_dose_at"] == pd.Timestamp(t0 + 24 * H)


def test_prophylactic_doses_are_not_a_course_and_do_not_bridge_a_gap():
    t0 = datetime(2020, 1, 3, 8, 0)
    rows = [med("P", t0 + timedelta(days=d), "prophylaxis") for d in range(9)]  # prophylaxis only
    rows += [med("B", t0)]  # icans dose, then daily prophylaxis, then icans again after 5 days
    rows += [med("B", t0 + timedelta(days=d), "prophylaxis") for d in range(1, 5)]
    rows += [med("B", t0 + timedelta(days=5)), med("B", t0 + timedelta(days=6), "crs")]
    rows += [med("C", t0 + timedelta(days=d), "prophylaxis") for d in range(3)]  # prophylaxis, then crs
    rows += [med("C", t0 + timedelta(days=d), "crs") for d in range(5, 8)]
    rows += [med("D", t0, "icans", drug="tocilizumab"), med("D", t0, "other")]  # neither is a course
    c = anakinra_courses(meds_frame(rows)).set_index("subject_id")
    assert sorted(c.index) == ["B", "C"]
    assert (c.at["B", "n_doses"], c.at["B", "n_courses"]) == (1, 2)
    assert c.at["B", "indications"] == "icans"
    assert c.at["C", "first_dose_at"] == pd.Timestamp(t0 + timedelta(days=5))
    assert (c.at["C", "n_doses"], c.at["C", "indications"]) == (3, "crs")


def test_no_course_gives_empty_tables_with_their_columns():
    courses = anakinra_courses(meds_frame([med("P", FIRST, "prophylaxis")]))
    assert courses.empty and list(courses.columns) == COURSE_COLUMNS
    windows = intervention_windows(courses, NO_VITALS, NO_RESULTS)
    assert windows.empty and list(windows.columns) == WINDOW_COLUMNS
    tests = intervention_tests(windows)
    assert tests.empty and list(tests.columns) == TEST_COLUMNS
    grades = intervention_lab_grades(courses, NO_RESULTS)
    assert grades.empty and list(grades.columns) == LAB_GRADE_COLUMNS


# ---------------------------------------------------------------------------------------------
# windows: each edge one minute inside (included) and outside (excluded)

# (window side, anchor, edge offset, direction outward): a value at anchor + offset is on the edge,
# one minute further outward is outside.
HOUR_EDGES = {
    "before_start": ("before", FIRST, -1, -1),  # first - span
    "before_end": ("before", FIRST, 0, +1),  # first dose itself
    "after_start": ("after", LAST, 0, -1),  # last dose itself
    "after_end": ("after", LAST, +1, +1),  # last + span
}


@pytest.mark.parametrize("edge", list(HOUR_EDGES))
@pytest.mark.parametrize("outside", [False, True], ids=["on_edge", "one_minute_out"])
def test_tmax_window_edges(edge, outside):
    side, anchor, k, outward = HOUR_EDGES[edge]
    t = anchor + k * 24 * H + (outward * MIN if outside else timedelta(0))
    w = intervention_windows(course_frame(), vitals_frame([("S1", t, 39.4)]), NO_RESULTS)
    r = row(w, "TMAX")
    got = r[f"{side}_value"]
    if outside:
        assert math.isnan(got) and r[f"n_{side}"] == 0
        assert r["status"] == "no_value_before_after"
    else:
        assert got == 39.4 and r[f"{side}_at"] == pd.Timestamp(t)
        assert r["status"] == ("no_value_after" if side == "before" else "no_value_before")


@pytest.mark.parametrize("measure", ["ANC", "PLT", "CRP", "FERRITIN"])
@pytest.mark.parametrize("edge", list(HOUR_EDGES))
@pytest.mark.parametrize("outside", [False, True], ids=["on_edge", "one_minute_out"])
def test_lab_window_edges(measure, edge, outside):
    side, anchor, k, outward = HOUR_EDGES[edge]
    t = anchor + k * 48 * H + (outward * MIN if outside else timedelta(0))
    w = intervention_windows(course_frame(), NO_VITALS, results_frame([("S1", measure, t, 1.25)]))
    r = row(w, measure)
    if outside:
        assert math.isnan(r[f"{side}_value"]) and r[f"n_{side}"] == 0
    else:
        assert r[f"{side}_value"] == 1.25 and r[f"{side}_at"] == pd.Timestamp(t)


# Cytokine windows are study days (module doc): dF-2..dF-1 before, dL+2..dL+8 after. One minute
# across midnight moves a sample in or out; the first dose's own day is outside even before 10:00.
_D = timedelta(days=1)
CYTOKINE_EDGES = {
    # name: (side, time inside on the edge, time one minute outside)
    "before_start": ("before", datetime(2020, 1, 8, 0, 0), datetime(2020, 1, 7, 23, 59)),  # day 7 | day 6
    "before_end": ("before", datetime(2020, 1, 9, 23, 59), datetime(2020, 1, 10, 0, 0)),  # day 8 | day 9 (dose day)
    "after_start": ("after", datetime(2020, 1, 14, 0, 0), datetime(2020, 1, 13, 23, 59)),  # day 13 | day 12
    "after_end": ("after", datetime(2020, 1, 20, 23, 59), datetime(2020, 1, 21, 0, 0)),  # day 19 | day 20
}


@pytest.mark.parametrize("edge", list(CYTOKINE_EDGES))
@pytest.mark.parametrize("outside", [False, True], ids=["on_edge", "one_minute_out"])
def test_cytokine_window_edges_are_study_days(edge, outside):
    side, inside_at, outside_at = CYTOKINE_EDGES[edge]
    t = outside_at if outside else inside_at
    w = intervention_windows(course_frame(), NO_VITALS, results_frame([("S1", "IL6", t, 55.0)]))
    r = row(w, "IL6")
    assert r["kind"] == "cytokine"
    if outside:
        assert math.isnan(r[f"{side}_value"])
    else:
        assert r[f"{side}_value"] == 55.0 and r[f"{side}_study_day"] == study_day(t)


def test_choices_inside_the_windows():
    """TMAX = highest (earliest on a tie); labs latest before / earliest after; cytokines likewise."""
    vit = vitals_frame([
        ("S1", FIRST - 20 * H, 38.9), ("S1", FIRST - 10 * H, 39.6), ("S1", FIRST - 2 * H, 39.6),
        ("S1", FIRST - 1 * H, 38.0),
        ("S1", LAST - 1 * H, 40.5),  # during the course: in neither window
        ("S1", LAST + 2 * H, 37.4), ("S1", LAST + 20 * H, 37.9),
    ])
    res = results_frame([
        ("S1", "CRP", FIRST - 40 * H, 100.0), ("S1", "CRP", FIRST - 4 * H, 80.0),
        ("S1", "CRP", LAST + 8 * H, 20.0), ("S1", "CRP", LAST + 30 * H, 10.0),
        ("S1", "IL6", datetime(2020, 1, 8, 7), 300.0), ("S1", "IL6", datetime(2020, 1, 9, 7), 200.0),
        ("S1", "IL6", datetime(2020, 1, 15, 7), 20.0), ("S1", "IL6", datetime(2020, 1, 19, 7), 5.0),
    ])
    w = intervention_windows(course_frame(), vit, res)
    t = row(w, "TMAX")
    assert (t["before_value"], t["after_value"]) == (39.6, 37.9)
    assert t["before_at"] == pd.Timestamp(FIRST - 10 * H)
    assert (t["n_before"], t["n_after"]) == (4, 2)
    crp = row(w, "CRP")
    assert (crp["before_value"], crp["after_value"]) == (80.0, 20.0)
    assert crp["pct_change"] == pytest.approx(-75.0) and crp["ratio"] == pytest.approx(0.25)
    il6 = row(w, "IL6")
    assert (il6["before_value"], il6["after_value"]) == (200.0, 20.0)
    assert (il6["before_study_day"], il6["after_study_day"]) == (8, 14)
    assert il6["substitution_rule"] == "lloq_half_uloq"
    assert il6["status"] == "paired"


def test_subjects_without_a_value_are_kept_and_reported():
    courses = course_frame(("S1", "S2", "S3", "S4"))
    vit = vitals_frame([
        ("S1", FIRST - H, 39.0), ("S1", LAST + H, 37.0),
        ("S2", FIRST - H, 39.0),  # nothing after
        ("S3", LAST + H, 37.0),  # nothing before
        ("S4", FIRST - 25 * H, 39.0),  # only outside the windows
    ])
    res = results_frame([
        ("S1", "IL6", datetime(2020, 1, 9, 7), 100.0), ("S1", "IL6", datetime(2020, 1, 15, 7), 10.0),
        ("S2", "IL6", datetime(2020, 1, 9, 7), 100.0), ("S2", "IL6", datetime(2020, 1, 15, 7), 0.0),
    ])
    w = intervention_windows(courses, vit, res)
    # every subject x measure present: TMAX, 4 labs, and the one cytokine in the results
    assert len(w) == 4 * 6
    assert set(w["measure"]) == {"TMAX", "ANC", "PLT", "CRP", "FERRITIN", "IL6"}
    status = {s: row(w, "TMAX", s)["status"] for s in ("S1", "S2", "S3", "S4")}
    assert status == {"S1": "paired", "S2": "no_value_after", "S3": "no_value_before",
                      "S4": "no_value_before_after"}
    assert row(w, "IL6", "S2")["status"] == "nonpositive_value"
    assert row(w, "ANC", "S1")["status"] == "no_value_before_after"
    tests = intervention_tests(w).set_index("measure")
    assert tests.at["TMAX", "n_subjects"] == 4
    assert tests.at["TMAX", "n_pairs"] == 1 and tests.at["TMAX", "n_missing"] == 3
    assert math.isnan(tests.at["TMAX", "p_value"])  # one pair: no test (R stops)
    assert tests.at["IL6", "n_pairs"] == 1 and tests.at["IL6", "n_missing"] == 3
    assert tests.at["ANC", "n_pairs"] == 0 and math.isnan(tests.at["ANC", "mean_before"])


def test_zero_before_value_has_no_percent_change_but_still_pairs_for_the_t_test():
    res = results_frame([("S1", "CRP", FIRST - H, 0.0), ("S1", "CRP", LAST + H, 3.0)])
    r = row(intervention_windows(course_frame(), NO_VITALS, res), "CRP")
    assert r["status"] == "paired"
    assert math.isnan(r["pct_change"]) and math.isnan(r["ratio"])


def test_courses_without_study_days_report_cytokines_as_such():
    courses = course_frame().assign(first_dose_study_day=pd.NA, last_dose_study_day=pd.NA)
    res = results_frame([("S1", "IL6", datetime(2020, 1, 9, 7), 100.0)])
    w = intervention_windows(courses, NO_VITALS, res)
    assert row(w, "IL6")["status"] == "no_course_study_day"
    g = intervention_lab_grades(courses, res)
    assert set(g["status"]) == {"no_course_study_day"}


# ---------------------------------------------------------------------------------------------
# tests against R (shared/reference/paired_t.json)

CASES = json.loads(REFERENCE.read_text())["cases"]


def _windows_from(case, measures) -> pd.DataFrame:
    rows = []
    for measure in measures:
        for i, (b, a) in enumerate(zip(case["before"], case["after"])):
            rows.append({"subject_id": f"S{i:02d}", "measure": measure, "before_value": b, "after_value": a,
                         "pct_change": (a - b) / b * 100, "status": "paired", "unit": "u"})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_tests_equal_r_reference(case):
    tests = intervention_tests(_windows_from(case, ["TMAX", "ANC", "PLT", "CRP", "FERRITIN", "IL6"]))
    assert list(tests.columns) == TEST_COLUMNS
    t = tests.set_index("measure")
    n = len(case["before"])
    for measure in ("TMAX", "ANC", "PLT", "CRP", "FERRITIN"):
        assert t.at[measure, "test"] == "paired_t"
        assert t.at[measure, "statistic"] == pytest.approx(case["paired_t"]["statistic"], abs=TOL)
        assert t.at[measure, "p_value"] == pytest.approx(case["paired_t"]["p_value"], abs=TOL)
        assert t.at[measure, "n_pairs"] == n and t.at[measure, "n_missing"] == 0
        assert math.isnan(t.at[measure, "gm_ratio"])
    ref = case["ratio_paired_t"]
    assert t.at["IL6", "test"] == "ratio_paired_t"
    for key in ("statistic", "p_value", "gm_ratio", "gm_ratio_ci_low", "gm_ratio_ci_high"):
        assert t.at["IL6", key] == pytest.approx(ref[key], abs=TOL), key
    assert t.at["IL6", "mean_before"] == pytest.approx(sum(case["before"]) / n, abs=TOL)
    assert t.at["IL6", "mean_after"] == pytest.approx(sum(case["after"]) / n, abs=TOL)
    pct = [(a - b) / b * 100 for b, a in zip(case["before"], case["after"])]
    assert t.at["CRP", "mean_pct_change"] == pytest.approx(sum(pct) / n, abs=TOL)
    assert t.at["CRP", "median_pct_change"] == pytest.approx(float(pd.Series(pct).median()), abs=TOL)
    assert t.at["CRP", "n_decreased"] == sum(a < b for b, a in zip(case["before"], case["after"]))


def test_windows_feed_the_tests_end_to_end():
    """The first reference case planted as lab values of 14 subjects gives R's paired t."""
    case = CASES[0]
    subjects = [f"S{i:02d}" for i in range(len(case["before"]))]
    rows = []
    for s, b, a in zip(subjects, case["before"], case["after"]):
        rows += [(s, "PLT", FIRST - 3 * H, b), (s, "PLT", LAST + 3 * H, a)]
    w = intervention_windows(course_frame(subjects), NO_VITALS, results_frame(rows))
    t = intervention_tests(w).set_index("measure")
    assert t.at["PLT", "n_pairs"] == len(subjects)
    assert t.at["PLT", "statistic"] == pytest.approx(case["paired_t"]["statistic"], abs=TOL)
    assert t.at["PLT", "p_value"] == pytest.approx(case["paired_t"]["p_value"], abs=TOL)


# ---------------------------------------------------------------------------------------------
# CTCAE v5.0 grades on days 21..28 after the last dose (dL = 11 -> study days 32..39)

ANC_POINTS = [(2.0, 0), (1.99, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4)]
PLT_POINTS = [(150, 0), (149, 1), (75, 1), (74, 2), (50, 2), (49, 3), (25, 3), (24, 4)]


def _grade_at(test, value, day, **lln):
    ts = INFUSED + timedelta(days=day, hours=6)
    g = intervention_lab_grades(course_frame(), results_frame([("S1", test, ts, value)]), **lln)
    return g[g["test"] == test].iloc[0]


@pytest.mark.parametrize("test, value, grade", [("ANC", v, g) for v, g in ANC_POINTS] + [("PLT", v, g) for v, g in PLT_POINTS])
def test_ctcae_grade_at_thresholds_is_the_shared_function(test, value, grade):
    r = _grade_at(test, value, 35)
    assert r["worst_ctcae_grade_d21_d28"] == grade == ctcae_grade(test, value)
    assert r["status"] == "ok" and r["worst_value"] == value and r["n_values"] == 1


@pytest.mark.parametrize("day, inside", [(31, False), (32, True), (39, True), (40, False)])
def test_grade_window_is_study_days_21_to_28_after_the_last_dose(day, inside):
    r = _grade_at("ANC", 0.3, day)
    assert (r["window_first_day"], r["window_last_day"]) == (32, 39)
    if inside:
        assert r["worst_ctcae_grade_d21_d28"] == 4 and r["worst_value_study_day"] == day
    else:
        assert pd.isna(r["worst_ctcae_grade_d21_d28"]) and r["status"] == "no_value_in_window"
        assert r["n_values"] == 0


def test_lln_is_configurable_and_worst_grade_wins():
    assert _grade_at("ANC", 1.9, 35)["worst_ctcae_grade_d21_d28"] == 1
    r = _grade_at("ANC", 1.9, 35, lln_anc=1.8)
    assert r["worst_ctcae_grade_d21_d28"] == 0 == ctcae_grade("ANC", 1.9, lln=1.8) and r["lln"] == 1.8
    assert _grade_at("PLT", 145, 35, lln_plt=140)["worst_ctcae_grade_d21_d28"] == 0
    res = results_frame([("S1", "PLT", INFUSED + timedelta(days=d, hours=6), v)
                         for d, v in ((33, 120.0), (35, 40.0), (37, 90.0))])
    g = intervention_lab_grades(course_frame(), res).set_index("test")
    assert g.at["PLT", "worst_ctcae_grade_d21_d28"] == 3 and g.at["PLT", "worst_value"] == 40.0
    assert g.at["PLT", "n_values"] == 3 and g.at["ANC", "status"] == "no_value_in_window"
    with pytest.raises(ValueError):
        intervention_lab_grades(course_frame(), res, lln_anc=1.5)  # LLN must exceed the grade 1 floor


# ---------------------------------------------------------------------------------------------
# a relative-time study (studies-and-inputs.md, "Relative time"): study days, no clock


def _relative(frame: pd.DataFrame, time_col: str) -> pd.DataFrame:
    """The same rows as a relative-time export gives them: the fractional study day (7.25 = day 7
    at 06:00) instead of the time."""
    days = (pd.to_datetime(frame[time_col]) - pd.Timestamp(INFUSED)) / pd.Timedelta(days=1)
    return frame.assign(study_day=days.astype(float), **{time_col: pd.NaT})


def test_relative_time_study_gives_the_calendar_numbers_without_clock_columns():
    from dagster_project.lib.analysis.intervention import CALENDAR_COLUMNS, intervention_study

    meds = meds_frame([med("S1", FIRST + timedelta(days=d)) for d in range(3)]
                      + [med("S2", FIRST + timedelta(hours=7)), med("S2", FIRST + timedelta(days=2, hours=3))])
    vitals = vitals_frame([("S1", FIRST - 3 * H, 39.1), ("S1", LAST + 5 * H, 37.2),
                           ("S2", FIRST - 20 * H, 38.9), ("S2", FIRST + 52 * H, 37.0)])
    results = results_frame([("S1", "ANC", FIRST - 30 * H, 0.4), ("S1", "ANC", LAST + 40 * H, 0.9),
                             ("S1", "IL6", FIRST - 30 * H, 120.0), ("S1", "IL6", LAST + 3 * _D, 30.0),
                             ("S1", "PLT", LAST + 22 * _D, 40.0), ("S2", "IL6", FIRST - 2 * _D, 80.0),
                             ("S2", "IL6", FIRST + 6 * _D, 20.0)])
    calendar = intervention_study(meds, vitals, results)
    relative = intervention_study(_relative(meds, "administered_at"), _relative(vitals, "recorded_at"),
                                  _relative(results, "collected_at"), relative=True)
    for name, cal, rel in zip(("courses", "windows", "tests", "grades"), calendar, relative):
        clock = list(CALENDAR_COLUMNS.get(name, ()))
        assert list(rel.columns) == list(cal.columns), name
        assert rel[clock].isna().all().all(), name
        pd.testing.assert_frame_equal(rel.drop(columns=clock), cal.drop(columns=clock), obj=name)
    assert (calendar[1]["status"] == "paired").any()


# ---------------------------------------------------------------------------------------------
# the Dagster assets on a cohort with no course (as park2023: prophylaxis only)


def test_assets_on_a_cohort_without_a_course_write_empty_tables(tmp_path, monkeypatch):
    from dagster_project.defs.analysis.intervention import intervention_figures, intervention_tables
    from dagster_project.settings import Settings

    db = tmp_path / "warehouse.duckdb"
    biomarker = results_frame([("S1", "ANC", FIRST, 1.0)])
    with duckdb.connect(str(db)) as con:
        for schema in ("staging", "marts"):
            con.execute(f"create schema {schema}")
        for name, frame in {
            "staging.stg_clinical__medications": meds_frame([med("S1", FIRST, "prophylaxis")]),
            # the staging and mart rows name their delivered row (lineage)
            "staging.stg_clinical__vitals": vitals_frame([("S1", FIRST, 38.0)]).assign(
                delivery_sha256="0" * 64, file_name="vitals/v.csv", row_number=1),
            "marts.fct_biomarker_results": biomarker.assign(
                source="serum_labs", delivery_sha256="1" * 64, file_name="serum_labs/l.csv", row_number=1,
                record_seq=None),
            "marts.dim_studies": pd.DataFrame({"title": ["park2023"], "time_mode": ["calendar"]}),
        }.items():
            frame = pd.concat([pd.DataFrame({"study_id": ["default"] * len(frame)}), frame], axis=1)
            con.register("f", frame)
            con.execute(f"create table {name} as select * from f")
            con.unregister("f")
    monkeypatch.setenv("WAREHOUSE_CTCAE_LLN_ANC", "1.8")
    settings = Settings.from_env(landing_dir=tmp_path, db_path=db, serving_db_path=tmp_path / "s.duckdb")
    result = dg.materialize([intervention_tables, intervention_figures], resources={"settings": settings})
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        for table, columns in (("intervention_windows", WINDOW_COLUMNS), ("intervention_tests", TEST_COLUMNS),
                               ("intervention_lab_grades", LAB_GRADE_COLUMNS)):
            described = con.execute(f"describe analysis.{table}").fetchall()
            assert [d[0] for d in described] == ["study_id", *columns]
            assert '"NULL"' not in {d[1] for d in described}  # typed even when empty
            assert con.execute(f"select count(*) from analysis.{table}").fetchone()[0] == 0
    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        meta[mat.asset_key.to_user_string()] = mat.metadata
    assert "No anakinra course" in meta["analysis/intervention_windows"]["note"].value
    assert meta["analysis/intervention_lab_grades"]["lln_anc"].value == 1.8
    assert meta["analysis/intervention_figures"]["figures"].value == 0
    assert not (tmp_path / "figures").exists() or not list((tmp_path / "figures").rglob("anakinra_*"))
