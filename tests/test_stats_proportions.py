"""Exact (Clopper-Pearson) intervals against R binom.test (derivations.md, "Proportions")."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stats.clopper_pearson import clopper_pearson, clopper_pearson_arrays

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
# No skip: a missing reference folder must fail collection (CI always has it).
CASES = json.loads((REFERENCE / "clopper_pearson.json").read_text())["cases"]
TOL = 1e-9


def _id(case):
    return f"x{case['x']}_n{case['n']}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_scalar_matches_r_binom_test(case):
    low, high = clopper_pearson(case["x"], case["n"])
    assert low == pytest.approx(case["ci_low"], abs=TOL)
    assert high == pytest.approx(case["ci_high"], abs=TOL)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_vectorised_matches_r_binom_test(case):
    # each case placed among others, so a broadcasting/ordering slip would show
    df = pd.DataFrame({"x": [1, case["x"], 0], "n": [3, case["n"], 0]})
    low, high = clopper_pearson_arrays(df["x"], df["n"])
    assert low[1] == pytest.approx(case["ci_low"], abs=TOL)
    assert high[1] == pytest.approx(case["ci_high"], abs=TOL)
    assert math.isnan(low[2]) and math.isnan(high[2])


def test_reference_has_the_boundary_cases():
    assert any(c["x"] == 0 for c in CASES) and any(c["x"] == c["n"] for c in CASES)


def test_zero_successes_lower_limit_is_zero_and_all_successes_upper_is_one():
    assert clopper_pearson(0, 10)[0] == 0.0
    assert clopper_pearson(10, 10)[1] == 1.0
    # closed forms: x = 0 -> upper = 1 - (alpha/2)^(1/n); x = n -> lower = (alpha/2)^(1/n)
    assert clopper_pearson(0, 10)[1] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert clopper_pearson(10, 10)[0] == pytest.approx(0.025 ** (1 / 10), abs=1e-12)


def test_n_zero_gives_nan_interval():
    low, high = clopper_pearson(0, 0)
    assert math.isnan(low) and math.isnan(high)


def test_missing_counts_give_nan_in_vectorised_form():
    low, high = clopper_pearson_arrays(np.array([np.nan, 2.0]), np.array([5.0, np.nan]))
    assert np.isnan(low).all() and np.isnan(high).all()


def test_other_confidence_level():
    # x = n = 1 at level 1 - alpha: lower = alpha / 2 exactly
    assert clopper_pearson(1, 1, alpha=0.1)[0] == pytest.approx(0.05, abs=1e-12)


@pytest.mark.parametrize("x,n", [(3, 2), (-1, 5), (1, -1), (1.5, 3)])
def test_invalid_counts_raise(x, n):
    with pytest.raises(ValueError):
        clopper_pearson(x, n)
    with pytest.raises(ValueError):
        clopper_pearson_arrays([x], [n])


def test_rates_by_group_counts_groups_and_cis():
    import pandas as pd

    from stats.clopper_pearson import rates_by_group

    subjects = pd.DataFrame({"arm": ["a", "a", "a", "b"], "grade": [0, 1, 3, 2]})
    table = rates_by_group(subjects, ("overall", "arm"), [({"category": "any"}, lambda f: f["grade"] >= 1)])
    rows = {(r.group_by, r.group_value): r for r in table.itertuples()}
    assert (rows[("overall", "all")].n_subjects, rows[("overall", "all")].n_total) == (3, 4)
    assert (rows[("arm", "a")].n_subjects, rows[("arm", "a")].n_total) == (2, 3)
    assert (rows[("arm", "b")].n_subjects, rows[("arm", "b")].n_total) == (1, 1)
    assert rows[("overall", "all")].pct == 75.0
    # R: binom.test(1, 1)$conf.int = 0.025, 1 -> exact upper limit 1 when x = n
    assert rows[("arm", "b")].ci_high_pct == 100.0
    assert abs(rows[("arm", "b")].ci_low_pct - 2.5) < 1e-9


def test_rates_by_group_names_the_overall_group_as_the_marts_do():
    """stats imports nothing of the project, so rates_by_group spells the overall group itself
    (`overall`, group value `all`): it must be marts.md's, schemas.vocabulary.OVERALL/OVERALL_VALUE."""
    from schemas.vocabulary import OVERALL, OVERALL_VALUE
    from stats.clopper_pearson import rates_by_group

    subjects = pd.DataFrame({"arm": ["a", "b"], "grade": [0, 3]})
    table = rates_by_group(subjects, (OVERALL, "arm"), [({"category": "any"}, lambda f: f["grade"] >= 1)])
    assert table.loc[table["group_by"] == OVERALL, "group_value"].tolist() == [OVERALL_VALUE]
