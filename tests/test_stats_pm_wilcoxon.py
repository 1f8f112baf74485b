"""Partially matched Wilcoxon test against robustrank::pm.wilcox.test (derivations.md, CSF)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from stats.pm_wilcoxon import METHOD_SR_MW, pm_wilcox_test

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CASES = json.loads((REFERENCE / "partially_matched_wilcoxon.json").read_text())["cases"]
TOL = 1e-9


def _n(v):
    return len(v) if isinstance(v, list) else 1  # the JSON gives one case's x_unpaired as a scalar


IDS = [
    f"case{i}_m{len(c['x_paired'])}_x{_n(c['x_unpaired'])}_y{_n(c['y_unpaired'])}"
    for i, c in enumerate(CASES)
]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_robustrank(case):
    res = pm_wilcox_test(case["x_paired"], case["y_paired"], case["x_unpaired"], case["y_unpaired"])
    assert res.statistic == pytest.approx(case["statistic"], abs=TOL)
    assert res.p_value == pytest.approx(case["p_value"], abs=TOL)
    assert res.method == case["method"]
    assert res.n_paired == len(case["x_paired"])
    assert (res.n_x_extra, res.n_y_extra) == (_n(case["x_unpaired"]), _n(case["y_unpaired"]))


def test_reference_covers_all_forms():
    kinds = {(_n(c["x_unpaired"]) > 0, _n(c["y_unpaired"]) > 0) for c in CASES}
    # only-Y extras, both (four-part form), only-X extras (the swap)
    assert kinds == {(False, True), (True, True), (True, False)}


def test_swapping_roles_flips_the_sign():
    c = next(c for c in CASES if not c["y_unpaired"])  # only X has extras
    a = pm_wilcox_test(c["x_paired"], c["y_paired"], c["x_unpaired"], [])
    b = pm_wilcox_test(c["y_paired"], c["x_paired"], [], c["x_unpaired"])
    assert a.statistic == pytest.approx(-b.statistic, abs=1e-12)
    assert a.p_value == pytest.approx(b.p_value, abs=1e-12)


def test_half_missing_pairs_become_extras():
    c = CASES[1]
    xp = c["x_paired"] + [c["x_unpaired"][0], float("nan")]
    yp = c["y_paired"] + [float("nan"), c["y_unpaired"][0]]
    res = pm_wilcox_test(xp, yp, c["x_unpaired"][1:], c["y_unpaired"][1:])
    assert res.statistic == pytest.approx(c["statistic"], abs=TOL)
    assert res.p_value == pytest.approx(c["p_value"], abs=TOL)
    assert (res.n_paired, res.n_x_extra, res.n_y_extra) == (12, 2, 3)


# ---- fall-backs: R's wilcox.test, values derived by hand -------------------------------


def test_no_extras_falls_back_to_exact_signed_rank():
    # d = x - y = -1..-5, no ties: V = 0, p = 2 * P(V <= 0) = 2 / 2^5
    res = pm_wilcox_test([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert res.method == "Wilcoxon signed rank exact test"
    assert res.statistic == 0.0
    assert res.p_value == pytest.approx(2 / 32, abs=1e-12)


def test_no_extras_with_ties_uses_normal_approximation():
    # d = 1, 1, -2, 3, 3, 3; |d| ranks 1.5, 1.5, 3, 5, 5, 5 -> V = 18; E = 10.5
    # var = 6*7*13/24 - ((2^3-2) + (3^3-3))/48 = 22.125; z = (18 - 10.5 - 0.5)/sqrt(22.125)
    x = [2, 2, 1, 4, 4, 4]
    y = [1, 1, 3, 1, 1, 1]
    res = pm_wilcox_test(x, y)
    z = 7 / math.sqrt(22.125)
    assert res.method == "Wilcoxon signed rank test with continuity correction"
    assert res.statistic == 18.0
    assert res.p_value == pytest.approx(2 * norm.sf(z), abs=1e-12)


def test_no_pairs_falls_back_to_exact_rank_sum():
    # W = 0 with 3 vs 3: p = 2 / choose(6, 3) = 0.1
    res = pm_wilcox_test([], [], [1, 2, 3], [4, 5, 6])
    assert res.method == "Wilcoxon rank sum exact test"
    assert res.statistic == 0.0
    assert res.p_value == pytest.approx(0.1, abs=1e-12)
    assert (res.n_paired, res.n_x_extra, res.n_y_extra) == (0, 3, 3)


def test_one_pair_joins_the_smaller_extra_side():
    # fewer X extras -> the pair's X (10) joins them: X = 1, 2, 10 vs Y = 4, 5, 6
    # W = (1 + 2 + 6) - 6 = 3; P(W <= 3) = 7/20 -> p = 0.7
    res = pm_wilcox_test([10], [11], [1, 2], [4, 5, 6])
    assert res.method == "Wilcoxon rank sum exact test"
    assert res.statistic == 3.0
    assert res.p_value == pytest.approx(0.7, abs=1e-12)
    assert (res.n_paired, res.n_x_extra, res.n_y_extra) == (1, 2, 3)


def test_rank_sum_with_ties_uses_normal_approximation():
    # X = 1, 2, 2 vs Y = 2, 3: ranks 1, 3, 3 | 3, 5 -> W = 7 - 6 = 1; E = 3
    # var = 3*2/12 * (6 - (3^3 - 3)/(5*4)) = 0.5 * 4.8 = 2.4; z = (1 - 3 + 0.5)/sqrt(2.4)
    res = pm_wilcox_test([], [], [1, 2, 2], [2, 3])
    assert res.method == "Wilcoxon rank sum test with continuity correction"
    assert res.statistic == 1.0
    assert res.p_value == pytest.approx(2 * norm.cdf(-1.5 / math.sqrt(2.4)), abs=1e-12)


@pytest.mark.parametrize(
    "args",
    [
        ([], [], [], []),  # nothing
        ([], [], [1.0, 2.0], []),  # one side only, no pairs
        ([], [], [], [1.0, 2.0]),
        ([1.0, 2.0], [1.0, 2.0], [], []),  # all differences zero
    ],
)
def test_untestable_inputs_give_nan(args):
    res = pm_wilcox_test(*args)
    assert math.isnan(res.p_value)


def test_paired_lengths_must_match():
    with pytest.raises(ValueError):
        pm_wilcox_test([1, 2, 3], [1, 2])


def test_sr_mw_direction_and_method():
    res = pm_wilcox_test(np.arange(1.0, 9.0), np.arange(1.0, 9.0) * 3, [], [40.0, 50.0, 60.0])
    assert res.method == METHOD_SR_MW
    assert res.statistic > 0  # Y larger
