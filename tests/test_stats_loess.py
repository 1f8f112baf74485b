"""LOESS band against R loess()/predict(se = TRUE) (derivations.md, "Cytokine kinetics")."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from stats.loess import loess_band, too_small_reason, whole_day_grid

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
CASES = json.loads((REFERENCE / "loess.json").read_text())["cases"]
TOL = 1e-6
IDS = [f"case{i}_n{len(c['study_day'])}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("column", ["fit", "se", "ci_low", "ci_high"])
def test_band_matches_r(case, column):
    res = loess_band(case["study_day"], case["log10_value"], grid=case["grid"])
    assert res.status == "ok"
    np.testing.assert_allclose(
        res.curve[column].to_numpy(), np.array(case[column]), rtol=0, atol=TOL
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_residual_df_matches_r(case):
    res = loess_band(case["study_day"], case["log10_value"])
    assert res.residual_df == pytest.approx(case["residual_df"], abs=TOL)
    assert res.n_obs == len(case["study_day"])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_default_grid_is_whole_days_in_range(case):
    assert whole_day_grid(case["study_day"]).tolist() == case["grid"]
    res = loess_band(case["study_day"], case["log10_value"])
    np.testing.assert_allclose(res.curve["fit"].to_numpy(), case["fit"], rtol=0, atol=TOL)


def test_missing_pairs_are_dropped():
    case = CASES[0]
    x = case["study_day"] + [3.0, float("nan")]
    y = case["log10_value"] + [float("nan"), 1.0]
    res = loess_band(x, y, grid=case["grid"])
    assert res.n_obs == len(case["study_day"])
    np.testing.assert_allclose(res.curve["fit"].to_numpy(), case["fit"], rtol=0, atol=TOL)


def test_grid_outside_data_range_is_nan():
    case = CASES[0]
    res = loess_band(case["study_day"], case["log10_value"], grid=[-6, 0, 29])
    fit = res.curve["fit"].to_numpy()
    assert math.isnan(fit[0]) and math.isnan(fit[2])
    assert fit[1] == pytest.approx(case["fit"][case["grid"].index(0)], abs=TOL)
    assert res.curve["ci_low"].isna().tolist() == [True, False, True]


def test_fractional_days_give_whole_day_grid():
    assert whole_day_grid([-0.5, 2.2, 4.9]).tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert whole_day_grid([]).size == 0


@pytest.mark.parametrize(
    "x",
    [
        [1, 1, 2, 2, 2],  # two distinct days: no quadratic
        [3, 3, 3],
        [],
        [1, 2, 3],  # floor(3 * 0.75) = 2 points per neighbourhood < 3 parameters
    ],
)
def test_too_small_group_is_reported_not_dropped(x):
    y = list(range(len(x)))
    assert too_small_reason(x) is not None
    res = loess_band(x, y)
    assert res.status == "too_small"
    assert res.reason
    assert res.curve.empty
    assert res.n_obs == len(x)


def test_loess_failure_is_reported_as_too_small():
    # 3 distinct days x 3 samples passes the pre-check, but every local quadratic is
    # near-singular: R only warns, loess (scikit-misc) refuses -> recorded, not dropped
    x = [1, 1, 1, 2, 2, 2, 3, 3, 3]
    y = [1, 2, 4, 3, 3, 4, 5, 6, 7]
    assert too_small_reason(x) is None
    res = loess_band(x, y)
    assert res.status == "too_small"
    assert res.reason.startswith("loess failed")


def test_ok_group_has_no_reason():
    x = np.arange(10.0)
    res = loess_band(x, np.sin(x))
    assert res.status == "ok" and res.reason is None
    assert res.curve["x"].tolist() == list(range(10))
    assert (res.curve["ci_low"] < res.curve["fit"]).all()
    assert (res.curve["ci_high"] > res.curve["fit"]).all()


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        loess_band([1, 2, 3], [1, 2])
