"""Paired and ratio-paired t-tests against R t.test (derivations.md, around an anakinra course)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from stats.paired_t import paired_t, ratio_paired_t

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CASES = json.loads((REFERENCE / "paired_t.json").read_text())["cases"]
TOL = 1e-9
IDS = [f"case{i}_n{len(c['before'])}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_paired_t_matches_r(case):
    res = paired_t(case["before"], case["after"])
    ref = case["paired_t"]
    assert res.statistic == pytest.approx(ref["statistic"], abs=TOL)
    assert res.p_value == pytest.approx(ref["p_value"], abs=TOL)
    assert res.n_pairs == len(case["before"])
    assert res.mean_before == pytest.approx(sum(case["before"]) / len(case["before"]), abs=TOL)
    assert res.mean_after == pytest.approx(sum(case["after"]) / len(case["after"]), abs=TOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ratio_paired_t_matches_r(case):
    res = ratio_paired_t(case["before"], case["after"])
    ref = case["ratio_paired_t"]
    for key in ("statistic", "p_value", "gm_ratio", "gm_ratio_ci_low", "gm_ratio_ci_high"):
        assert getattr(res, key) == pytest.approx(ref[key], abs=TOL), key
    assert res.n_pairs == len(case["before"])


def test_statistic_sign_is_after_minus_before():
    assert paired_t([1, 2, 3], [2, 4, 5]).statistic > 0
    assert ratio_paired_t([1, 2, 3], [2, 4, 5]).gm_ratio > 1


def test_missing_values_drop_the_pair():
    case = CASES[0]
    before = list(case["before"]) + [float("nan"), 5.0]
    after = list(case["after"]) + [3.0, float("nan")]
    res = paired_t(before, after)
    assert res.n_pairs == len(case["before"])
    assert res.statistic == pytest.approx(case["paired_t"]["statistic"], abs=TOL)


def test_hand_computed_two_pairs():
    # differences 1 and 3: mean 2, sd sqrt(2), t = 2 / (sqrt(2)/sqrt(2)) = 2 on 1 df,
    # two-sided p = 1 - 2*atan(2)/pi for Student t with 1 df (Cauchy)
    res = paired_t([0, 0], [1, 3])
    assert res.statistic == pytest.approx(2.0, abs=1e-12)
    assert res.p_value == pytest.approx(1 - 2 * math.atan(2) / math.pi, abs=1e-12)


@pytest.mark.parametrize("before,after", [([1.0], [2.0]), ([], []), ([1, 2, 3], [2, 3, 4])])
def test_untestable_inputs_give_nan(before, after):
    # one pair, no pairs, or constant differences: R's t.test stops; we return NaN
    res = paired_t(before, after)
    assert math.isnan(res.statistic) and math.isnan(res.p_value)


def test_ratio_needs_positive_values():
    with pytest.raises(ValueError):
        ratio_paired_t([1.0, 0.0], [2.0, 3.0])


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        paired_t(np.ones(3), np.ones(2))
