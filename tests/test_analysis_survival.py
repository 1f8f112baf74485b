"""analysis.km_curves / km_summary / log-rank from fct_subject_endpoints rows
(marts.md "analysis"; derivations.md "Survival"), held to R's survival package."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from dagster_project.lib.analysis.survival import (
    KM_CURVE_COLUMNS,
    KM_SUMMARY_COLUMNS,
    LOGRANK_COLUMNS,
    build_km_tables,
)
from stats.kaplan_meier import CURVE_COLUMNS, kaplan_meier

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CASES = json.loads((REFERENCE / "kaplan_meier.json").read_text())["cases"]
IDS = [f"case{i}_n{len(c['time_days'])}" for i, c in enumerate(CASES)]
TOL = 1e-9

# marts.md, analysis schema: required columns
MART_KM_CURVES = ["endpoint", "group_by", "group_value", "time_days", "n_at_risk", "n_events",
                  "n_censored", "survival", "ci_low", "ci_high"]
MART_KM_SUMMARY = ["endpoint", "group_by", "group_value", "n_subjects", "n_events", "median_days",
                   "median_ci_low_days", "median_ci_high_days", "survival_12mo"]


def _endpoints(times, events, diseases=None, pfs_times=None, pfs_events=None):
    n = len(times)
    return pd.DataFrame({
        "subject_id": [f"S{i:03d}" for i in range(n)],
        "disease": diseases if diseases is not None else ["LBCL"] * n,
        "os_days": times,
        "os_event": [bool(e) for e in events],  # bool here, 0/1 for PFS
        "pfs_days": pfs_times if pfs_times is not None else times,
        "pfs_event": pfs_events if pfs_events is not None else list(events),
    })


def _rows(table, endpoint, group_by, group_value):
    return table[(table.endpoint == endpoint) & (table.group_by == group_by)
                 & (table.group_value == group_value)]


def _nullable(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_columns_match_marts_md():
    curves, summary, tests = build_km_tables(_endpoints([5, 10, 20], [1, 0, 1]))
    assert list(curves.columns[:len(MART_KM_CURVES)]) == MART_KM_CURVES
    assert list(summary.columns[:len(MART_KM_SUMMARY)]) == MART_KM_SUMMARY
    assert list(curves.columns) == KM_CURVE_COLUMNS
    assert list(summary.columns) == KM_SUMMARY_COLUMNS
    assert list(tests.columns) == LOGRANK_COLUMNS


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("endpoint", ["OS", "PFS"])
def test_overall_group_reproduces_r(case, endpoint):
    n = len(case["time_days"])
    diseases = ["LBCL" if i % 3 else "MCL" for i in range(n)]
    curves, summary, _ = build_km_tables(_endpoints(case["time_days"], case["event"], diseases))
    curve = _rows(curves, endpoint, "overall", "all")
    for column in CURVE_COLUMNS:
        expected = _nullable(case["curve"][column])
        got = curve[column].to_numpy(dtype=float)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))  # null where R has NA
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL, equal_nan=True)
    row = _rows(summary, endpoint, "overall", "all").iloc[0]
    assert (row.n_subjects, row.n_events, row.n_excluded) == (n, sum(case["event"]), 0)
    for field in ("median_days", "median_ci_low_days", "median_ci_high_days", "survival_12mo"):
        if case[field] is None:
            assert math.isnan(row[field]), field
        else:
            assert row[field] == pytest.approx(case[field], abs=TOL), field
    if case["median_days"] is not None:
        assert row.median_months == pytest.approx(case["median_days"] / 30.4375, abs=TOL)


def test_disease_groups_are_the_subsets():
    case = CASES[0]
    n = len(case["time_days"])
    diseases = ["LBCL" if i % 3 else "MCL" for i in range(n)]
    curves, summary, _ = build_km_tables(_endpoints(case["time_days"], case["event"], diseases))
    assert set(curves.group_by) == {"overall", "disease"}
    assert set(summary[summary.group_by == "disease"].group_value) == {"LBCL", "MCL"}
    for disease in ("LBCL", "MCL"):
        mask = np.array(diseases) == disease
        ref = kaplan_meier(np.array(case["time_days"])[mask], np.array(case["event"])[mask])
        got = _rows(curves, "OS", "disease", disease)
        pd.testing.assert_frame_equal(got[CURVE_COLUMNS].reset_index(drop=True),
                                      ref.curve[CURVE_COLUMNS].reset_index(drop=True),
                                      check_dtype=False)
        row = _rows(summary, "OS", "disease", disease).iloc[0]
        assert row.n_subjects == mask.sum() == ref.summary.n_subjects
        assert row.n_events == ref.summary.n_events
    by_disease = summary[(summary.endpoint == "OS") & (summary.group_by == "disease")]
    assert by_disease.n_subjects.sum() == n


def test_missing_time_is_excluded_and_counted():
    df = _endpoints([10.0, 20.0, 30.0, 40.0, 50.0], [1, 0, 1, 1, 0],
                    diseases=["LBCL", "LBCL", "MCL", "MCL", "MCL"])
    df.loc[[0, 3], "os_days"] = np.nan  # one LBCL, one MCL
    df["os_event"] = df["os_event"].astype(object)
    df.loc[4, "os_event"] = None  # a missing event flag is excluded too
    curves, summary, tests = build_km_tables(df)
    os_ = summary[summary.endpoint == "OS"].set_index("group_value")
    assert os_.loc["all", ["n_subjects", "n_excluded"]].tolist() == [2, 3]
    assert os_.loc["LBCL", ["n_subjects", "n_excluded"]].tolist() == [1, 1]
    assert os_.loc["MCL", ["n_subjects", "n_excluded"]].tolist() == [1, 2]
    assert _rows(curves, "OS", "overall", "all").time_days.tolist() == [20.0, 30.0]
    pfs = summary[summary.endpoint == "PFS"]
    assert pfs.n_excluded.tolist() == [0, 0, 0] and pfs.n_subjects.tolist() == [5, 2, 3]
    assert tests.set_index("endpoint").loc["OS", "n_subjects"] == 2


def test_event_encodings_agree():
    times = [3, 8, 8, 15, 21]
    as_int = _endpoints(times, [1, 0, 1, 1, 0])
    as_bool = as_int.assign(os_event=[True, False, True, True, False],
                            pfs_event=pd.array([True, False, True, True, False], dtype="boolean"))
    for a, b in zip(build_km_tables(as_int), build_km_tables(as_bool)):
        pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError):
        build_km_tables(as_int.assign(os_event=[2, 0, 1, 1, 0]))


def test_logrank_hand_computed_two_groups():
    # LBCL dies on days 1 and 3, MCL on 2 and 4. O - E for LBCL = 2 - (1/2 + 1/3 + 1/2) = 2/3;
    # hypergeometric variance 1/4 + 2/9 + 1/4 = 13/18; chi2 = (4/9) / (13/18) = 8/13 on 1 df
    df = _endpoints([1, 3, 2, 4], [1, 1, 1, 1], diseases=["LBCL", "LBCL", "MCL", "MCL"])
    _, _, tests = build_km_tables(df)
    assert tests.endpoint.tolist() == ["OS", "PFS"]
    row = tests.iloc[0]
    assert (row.comparison, row.groups, row.df, row.test) == ("LBCL vs MCL", 2, 1, "logrank")
    assert (row.n_subjects, row.n_events) == (4, 4)
    assert row.statistic == pytest.approx(8 / 13, abs=1e-12)
    assert row.p_value == pytest.approx(chi2.sf(8 / 13, 1), abs=1e-12)


def test_logrank_three_diseases_one_test_two_df():
    df = _endpoints([1, 3, 2, 4, 5, 6], [1] * 6,
                    diseases=["MCL", "MCL", "LBCL", "LBCL", "FL", "FL"])
    _, _, tests = build_km_tables(df)
    row = tests.iloc[0]
    assert (row.comparison, row.groups, row.df) == ("FL vs LBCL vs MCL", 3, 2)
    assert row.p_value == pytest.approx(chi2.sf(row.statistic, 2), abs=1e-12)


def test_logrank_needs_two_diseases_and_an_event():
    _, _, one = build_km_tables(_endpoints([1, 2, 3], [1, 0, 1]))
    assert one.empty and list(one.columns) == LOGRANK_COLUMNS
    _, _, none = build_km_tables(_endpoints([1, 2], [0, 0], diseases=["LBCL", "MCL"]))
    assert none.n_events.tolist() == [0, 0]
    assert none.statistic.isna().all() and none.p_value.isna().all()


def test_empty_input_keeps_overall_rows():
    empty = _endpoints([], [])
    curves, summary, tests = build_km_tables(empty)
    assert curves.empty and list(curves.columns) == KM_CURVE_COLUMNS
    assert summary[["endpoint", "group_by", "group_value", "n_subjects"]].values.tolist() == [
        ["OS", "overall", "all", 0], ["PFS", "overall", "all", 0]]
    assert tests.empty


def test_duplicate_subject_raises():
    df = _endpoints([1, 2], [1, 1])
    df["subject_id"] = "S001"
    with pytest.raises(ValueError, match="one row per subject"):
        build_km_tables(df)


def test_each_study_alone_and_side_by_side_give_the_same_tables():
    """studies-and-inputs.md, "Studies": Kaplan-Meier per study, study_id first; the same subject
    ids in two studies are two subjects; a study without subjects keeps its overall rows."""
    from dagster_project.lib.analysis.survival import build_km_tables_by_study, has_survival_data

    case = CASES[0]
    n = len(case["time_days"])
    a = _endpoints(case["time_days"], case["event"], ["LBCL" if i % 3 else "MCL" for i in range(n)])
    b = _endpoints([1, 3, 2, 4], [1, 1, 1, 1], diseases=["LBCL", "LBCL", "MCL", "MCL"])
    both = build_km_tables_by_study(pd.concat([b.assign(study_id="b"), a.assign(study_id="a")]), ["a", "b", "c"])
    for table, columns in zip(both, (KM_CURVE_COLUMNS, KM_SUMMARY_COLUMNS, LOGRANK_COLUMNS)):
        assert list(table.columns) == ["study_id", *columns]
    for study, frame in (("a", a), ("b", b)):
        for got, want in zip(both, build_km_tables(frame)):
            rows = got[got["study_id"] == study].drop(columns="study_id").reset_index(drop=True)
            pd.testing.assert_frame_equal(rows, want)
    empty = both[1][both[1]["study_id"] == "c"]
    assert empty[["endpoint", "group_value", "n_subjects"]].values.tolist() == [["OS", "all", 0], ["PFS", "all", 0]]
    assert not has_survival_data(empty, "OS") and has_survival_data(both[1][both[1]["study_id"] == "a"], "OS")
