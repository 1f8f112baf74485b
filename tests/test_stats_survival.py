"""Kaplan-Meier and log-rank against R's survival package (derivations.md, "Survival")."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from stats.kaplan_meier import (
    CURVE_COLUMNS,
    DAYS_PER_MONTH,
    TWELVE_MONTHS_DAYS,
    days_to_months,
    kaplan_meier,
    logrank,
)

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CASES = json.loads((REFERENCE / "kaplan_meier.json").read_text())["cases"]
TOL = 1e-9
IDS = [f"case{i}_n{len(c['time_days'])}" for i, c in enumerate(CASES)]


def _nullable(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("column", CURVE_COLUMNS)
def test_curve_matches_r_survfit(case, column):
    curve = kaplan_meier(case["time_days"], case["event"]).curve
    expected = _nullable(case["curve"][column])
    got = curve[column].to_numpy(dtype=float)
    assert got.shape == expected.shape
    # null exactly where R has NA (survival 1 or 0), equal elsewhere
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    "field", ["median_days", "median_ci_low_days", "median_ci_high_days", "survival_12mo"]
)
def test_summary_matches_r_quantile_and_summary(case, field):
    summary = kaplan_meier(case["time_days"], case["event"]).summary
    got, expected = getattr(summary, field), case[field]
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_summary_counts(case):
    summary = kaplan_meier(case["time_days"], case["event"]).summary
    assert summary.n_subjects == len(case["time_days"])
    assert summary.n_events == sum(case["event"])


def test_reference_covers_nulls_at_survival_one_and_zero():
    assert any(c["curve"]["survival"][0] == 1 for c in CASES)
    assert any(c["curve"]["survival"][-1] == 0 for c in CASES)
    assert any(c["median_ci_high_days"] is None for c in CASES)


def test_all_censored():
    res = kaplan_meier([10, 200, 400], [0, 0, 0])
    assert res.curve["survival"].tolist() == [1.0, 1.0, 1.0]
    assert res.curve[["ci_low", "ci_high"]].isna().all().all()
    assert res.curve["n_at_risk"].tolist() == [3, 2, 1]
    assert res.curve["n_censored"].tolist() == [1, 1, 1]
    s = res.summary
    assert (s.n_events, s.median_days, s.median_ci_low_days, s.median_ci_high_days) == (
        0,
        None,
        None,
        None,
    )
    assert s.survival_12mo == 1.0  # follow-up reaches day 400


def test_median_midpoint_of_flat_stretch_at_one_half():
    # deaths on days 1..4: S = .75, .5, .25, 0; S == 0.5 on [2, 3) -> R median = 2.5
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).summary.median_days == 2.5


@pytest.mark.parametrize("n", [4, 6, 10, 12, 18])
def test_median_midpoint_survives_rounding(n):
    # n deaths on days 1..n: S = 1/2 on [n/2, n/2 + 1) in exact arithmetic, but the product
    # limit lands a few ulps off 0.5 for most n; R's findq tolerance (sqrt(eps)) still takes
    # the midpoint n/2 + 0.5
    assert kaplan_meier(list(range(1, n + 1)), [1] * n).summary.median_days == n / 2 + 0.5


def test_median_flat_at_one_half_until_the_end():
    # S = .75, .5 then censored at 3 and 4: flat at 0.5 to the end ->
    # R's findq "end of the curve" rule: (2 + last time 4) / 2 = 3
    assert kaplan_meier([1, 2, 3, 4], [1, 1, 0, 0]).summary.median_days == 3.0


def test_median_not_reached():
    s = kaplan_meier([5, 10, 20, 30], [1, 0, 0, 0]).summary
    assert s.median_days is None


def test_twelve_month_survival_beyond_follow_up_is_null():
    s = kaplan_meier([30, 100, 300], [1, 0, 1]).summary
    assert s.survival_12mo is None


def test_twelve_month_survival_includes_an_event_on_that_day():
    # right-continuous step: the death at 365.25 counts at 365.25
    s = kaplan_meier([100, TWELVE_MONTHS_DAYS, 500], [0, 1, 0]).summary
    assert s.survival_12mo == pytest.approx(0.5, abs=1e-12)


def test_ties_of_events_and_censoring_at_one_time():
    # day 5: 2 deaths and 1 censoring among 4 at risk -> S = 1 - 2/4
    res = kaplan_meier([5, 5, 5, 9], [1, 1, 0, 1])
    row = res.curve.iloc[0]
    assert (row.n_at_risk, row.n_events, row.n_censored) == (4, 2, 1)
    assert row.survival == pytest.approx(0.5, abs=1e-12)


def test_hand_computed_log_log_interval():
    # one death among 10: S = 0.9, Greenwood var of log S = 1/(10*9);
    # log-log: log(-log S) +/- z * se / |log S|, mapped back by exp(-exp(.)); the larger
    # log(-log S) gives the lower limit
    res = kaplan_meier(list(range(1, 11)), [1] + [0] * 9)
    s, se, z = 0.9, math.sqrt(1 / 90), 1.959963984540054
    lo = math.exp(-math.exp(math.log(-math.log(s)) + z * se / abs(math.log(s))))
    hi = math.exp(-math.exp(math.log(-math.log(s)) - z * se / abs(math.log(s))))
    assert lo < s < hi
    assert res.curve["ci_low"].iloc[0] == pytest.approx(lo, abs=1e-12)
    assert res.curve["ci_high"].iloc[0] == pytest.approx(hi, abs=1e-12)


def test_empty_input():
    res = kaplan_meier([], [])
    assert res.curve.empty and list(res.curve.columns) == CURVE_COLUMNS
    assert res.summary.n_subjects == 0 and res.summary.median_days is None


@pytest.mark.parametrize(
    "times,events", [([1, 2], [1]), ([1, np.nan], [1, 0]), ([1, 2], [1, 2]), ([-1, 2], [1, 0])]
)
def test_invalid_input_raises(times, events):
    with pytest.raises(ValueError):
        kaplan_meier(times, events)


def test_months_constant():
    assert DAYS_PER_MONTH == 30.4375
    assert TWELVE_MONTHS_DAYS == 365.25
    assert days_to_months(365.25) == 12.0
    assert days_to_months(np.array([30.4375, 0.0])).tolist() == [1.0, 0.0]


def test_logrank_hand_computed():
    # A dies on days 1 and 3, B on 2 and 4. O_A - E_A = 2 - (1/2 + 1/3 + 1/2) = 2/3;
    # hypergeometric variance 1/4 + 2/9 + 1/4 = 13/18; chi2 = (4/9) / (13/18) = 8/13 (1 df)
    stat, p = logrank([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"])
    assert stat == pytest.approx(8 / 13, abs=1e-12)
    assert p == pytest.approx(chi2.sf(8 / 13, 1), abs=1e-12)


def test_logrank_aml_equals_r_survdiff():
    # R: survdiff(Surv(time, status) ~ x, data = survival::aml)
    # prints "Chisq= 3.4 on 1 degrees of freedom, p= 0.07" (0.0653 in older versions)
    maintained = ([9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161], [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    nonmaint = ([5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45], [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1])
    stat, p = logrank(
        maintained[0] + nonmaint[0],
        maintained[1] + nonmaint[1],
        ["Maintained"] * 11 + ["Nonmaintained"] * 12,
    )
    assert round(stat, 1) == 3.4
    assert round(p, 4) == 0.0653


def test_logrank_three_groups_has_two_df():
    stat, p = logrank([1, 3, 2, 4, 5, 6], [1] * 6, ["A", "A", "B", "B", "C", "C"])
    assert p == pytest.approx(chi2.sf(stat, 2), abs=1e-12)


def test_logrank_single_group_is_nan():
    stat, p = logrank([1, 2], [1, 1], ["A", "A"])
    assert math.isnan(stat) and math.isnan(p)
