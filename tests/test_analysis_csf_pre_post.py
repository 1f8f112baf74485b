"""analysis.csf_pre_post (marts.md; derivations.md, "CSF before and after": pre = last CSF
sample on days -14..0, post = the sample on days 3..7 closest to day 5, earlier on a tie;
quartiles by R's type 7; partially matched Wilcoxon with pre = X, post = Y whose p-values must
agree with the authors' R implementation)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dagster_project.lib.analysis.csf_pre_post import COLUMNS, csf_pre_post, select_pre_post

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "partially_matched_wilcoxon.json"
CASES = json.loads(REFERENCE.read_text())["cases"]
INFUSED = pd.Timestamp("2024-01-10")


def _row(subject, analyte, day, value, hour=10, sample=None, kind=None, unit="/uL"):
    return {
        "subject_id": subject,
        "specimen": "csf",
        "analyte": analyte,
        "analyte_kind": kind or ("csf_chemistry" if analyte in ("WBC", "PROTEIN", "RBC", "GLUCOSE") else "cytokine"),
        "sample_id": sample or f"{subject}-d{day}-h{hour}",
        "study_day": day,
        "collected_at": INFUSED + pd.Timedelta(days=day, hours=hour),
        "analysis_value": value,
        "unit": unit,
        "substitution_rule": "lloq_half_uloq",
    }


def test_windows_and_tie_breaks():
    rows = [
        # A: day -15 is outside; two samples on day 0 -> the later one; post: day 4 and 6 tie -> 4
        _row("A", "WBC", -15, 100), _row("A", "WBC", -3, 1), _row("A", "WBC", 0, 2, hour=8),
        _row("A", "WBC", 0, 3, hour=20), _row("A", "WBC", 4, 40), _row("A", "WBC", 6, 60),
        # B: edges -14 and 3 are inside; day 1, 2 and 8 outside; post day 3 is the only one
        _row("B", "WBC", -14, 5), _row("B", "WBC", 1, 50), _row("B", "WBC", 2, 51),
        _row("B", "WBC", 3, 30), _row("B", "WBC", 8, 80),
        # C: day 5 beats 3 and 7; two samples on day 5 -> the earlier one
        _row("C", "WBC", 3, 31), _row("C", "WBC", 5, 52, hour=7), _row("C", "WBC", 5, 53, hour=18),
        _row("C", "WBC", 7, 70),
        # D: post only, day 7 edge
        _row("D", "WBC", 7, 71),
    ]
    sel = select_pre_post(pd.DataFrame(rows))
    got = {(r.subject_id, r.timepoint): (r.study_day, r.analysis_value) for r in sel.itertuples()}
    assert got == {
        ("A", "pre"): (0, 3), ("A", "post"): (4, 40),
        ("B", "pre"): (-14, 5), ("B", "post"): (3, 30),
        ("C", "post"): (5, 52),
        ("D", "post"): (7, 71),
    }


def test_counts_and_type7_quartiles():
    rows = [
        _row("A", "PROTEIN", -1, 1.0), _row("A", "PROTEIN", 5, 10.0),
        _row("B", "PROTEIN", -1, 2.0), _row("B", "PROTEIN", 5, 20.0),
        _row("C", "PROTEIN", -1, 3.0),
        _row("D", "PROTEIN", -1, 4.0),
        _row("E", "PROTEIN", 5, 40.0),
    ]
    out = csf_pre_post(pd.DataFrame(rows)).set_index("analyte")
    r = out.loc["PROTEIN"]
    assert (r.n_pre, r.n_post, r.n_paired, r.n_pre_only, r.n_post_only) == (4, 3, 2, 2, 1)
    # R quantile(c(1,2,3,4)) type 7: 1.75, 2.5, 3.25; quantile(c(10,20,40)): 15, 20, 30
    assert (r.q1_pre, r.median_pre, r.q3_pre) == pytest.approx((1.75, 2.5, 3.25))
    assert (r.q1_post, r.median_post, r.q3_post) == pytest.approx((15.0, 20.0, 30.0))
    assert r.quantile_type == 7 and r.substitution_rule == "lloq_half_uloq"


def _cohort_from_case(case, analyte="IL6"):
    """Subjects carrying a reference case: pairs, pre-only (X extras), post-only (Y extras)."""
    rows, k = [], 0
    as_list = lambda v: np.atleast_1d(np.asarray(v, dtype=float)).tolist()  # noqa: E731 (R unboxes length 1)
    for x, y in zip(as_list(case["x_paired"]), as_list(case["y_paired"])):
        k += 1
        rows += [_row(f"P{k:03d}", analyte, -2, x), _row(f"P{k:03d}", analyte, 5, y)]
    for x in as_list(case["x_unpaired"]):
        k += 1
        rows.append(_row(f"P{k:03d}", analyte, 0, x))
    for y in as_list(case["y_unpaired"]):
        k += 1
        rows.append(_row(f"P{k:03d}", analyte, 4, y))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_p_value_matches_robustrank(case):
    """pre = X, post = Y: the p-value and Z of robustrank::pm.wilcox.test (reference to 1e-6)."""
    out = csf_pre_post(_cohort_from_case(case)).set_index("analyte").loc["IL6"]
    n = lambda v: np.atleast_1d(v).size  # noqa: E731
    assert out.n_paired == n(case["x_paired"])
    assert out.n_pre_only == n(case["x_unpaired"]) and out.n_post_only == n(case["y_unpaired"])
    assert out.p_value == pytest.approx(case["p_value"], abs=1e-6)
    assert out.statistic == pytest.approx(case["statistic"], abs=1e-6)
    assert out.test == case["method"]


def test_one_side_empty_gives_no_p_value():
    rows = [_row("A", "WBC", -1, 1.0), _row("B", "WBC", -2, 2.0), _row("C", "WBC", 10, 3.0)]
    r = csf_pre_post(pd.DataFrame(rows)).set_index("analyte").loc["WBC"]
    assert (r.n_pre, r.n_post, r.n_paired) == (2, 0, 0)
    assert math.isnan(r.p_value) and r.test is None and math.isnan(r.median_post)


def test_default_measures_and_override():
    rows = [
        _row("A", "WBC", -1, 1.0), _row("A", "WBC", 5, 2.0),
        _row("A", "RBC", -1, 1.0), _row("A", "GLUCOSE", -1, 60.0),
        _row("A", "IL8", -1, 10.0, unit="pg/mL"), _row("A", "PROTEIN", -1, 30.0, unit="mg/dL"),
        # serum rows never enter
        {**_row("A", "IL6", -1, 5.0), "specimen": "serum"},
    ]
    frame = pd.DataFrame(rows)
    out = csf_pre_post(frame)
    assert out["analyte"].tolist() == ["WBC", "PROTEIN", "IL8"]  # WBC, PROTEIN, then cytokines
    assert list(out.columns) == COLUMNS
    assert out.set_index("analyte").loc["PROTEIN", "unit"] == "mg/dL"
    assert csf_pre_post(frame, analytes=["RBC", "GLUCOSE"])["analyte"].tolist() == ["RBC", "GLUCOSE"]


def test_not_infused_and_missing_values_are_ignored():
    rows = [
        _row("A", "WBC", -1, 1.0), _row("A", "WBC", 5, 2.0),
        {**_row("Z", "WBC", 0, 9.0), "study_day": None},
        {**_row("B", "WBC", 5, 0.0), "analysis_value": np.nan},
    ]
    r = csf_pre_post(pd.DataFrame(rows)).set_index("analyte").loc["WBC"]
    assert (r.n_pre, r.n_post, r.n_paired) == (1, 1, 1)


def test_relative_time_days_are_floored_and_order_by_the_fractional_day():
    """A relative-time study: no collected_at, fractional study days; windows on floor(day)."""
    rows = [
        {**_row("A", "WBC", -1, 1.0), "study_day": -0.5, "collected_at": None},  # day -1: pre
        {**_row("A", "WBC", 0, 2.0), "study_day": 0.75, "collected_at": None},  # day 0, later: pre
        {**_row("A", "WBC", 0, 9.0), "study_day": 0.25, "collected_at": None},  # day 0, earlier
        {**_row("A", "WBC", 5, 5.0), "study_day": 5.9, "collected_at": None},  # day 5, later
        {**_row("A", "WBC", 5, 6.0), "study_day": 5.1, "collected_at": None},  # day 5, earlier: post
        {**_row("A", "WBC", 8, 7.0), "study_day": 7.99, "collected_at": None},  # day 7: farther
    ]
    sel = select_pre_post(pd.DataFrame(rows))
    got = {r.timepoint: (r.study_day, r.analysis_value) for r in sel.itertuples()}
    assert got == {"pre": (0, 2.0), "post": (5, 6.0)}


def test_each_study_alone_and_side_by_side_give_the_same_rows():
    from dagster_project.lib.analysis.csf_pre_post import csf_pre_post_by_study

    a = _cohort_from_case(CASES[0])
    b = _cohort_from_case(CASES[1]).assign(analyte="WBC")
    both = csf_pre_post_by_study(pd.concat([a.assign(study_id="a"), b.assign(study_id="b")]))
    assert list(both.columns) == ["study_id", *COLUMNS]
    for study, frame in (("a", a), ("b", b)):
        got = both[both["study_id"] == study].drop(columns="study_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, csf_pre_post(frame))
