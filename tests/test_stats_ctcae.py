"""CTCAE v5.0 ANC and platelet grades (derivations.md, "Lab toxicity (CTCAE v5.0)").

Expected grades are read off the table by hand: "< a - b" = below a, down to and including b.
ANC (LLN 2.0): >= 2.0 -> 0; [1.5, 2.0) -> 1; [1.0, 1.5) -> 2; [0.5, 1.0) -> 3; < 0.5 -> 4.
PLT (LLN 150): >= 150 -> 0; [75, 150) -> 1; [50, 75) -> 2; [25, 50) -> 3; < 25 -> 4.
"""

import math

import numpy as np
import pandas as pd
import pytest

from stats.ctcae import anc_grade, ctcae_grade, ctcae_grades, plt_grade

ANC_CASES = [
    (5.0, 0),
    (2.0, 0),
    (1.999, 1),
    (1.5, 1),
    (1.499, 2),
    (1.0, 2),
    (0.999, 3),
    (0.5, 3),
    (0.499, 4),
    (0.0, 4),
]
PLT_CASES = [
    (300, 0),
    (150, 0),
    (149.9, 1),
    (75, 1),
    (74.9, 2),
    (50, 2),
    (49.9, 3),
    (25, 3),
    (24.9, 4),
    (0, 4),
]


@pytest.mark.parametrize("value,grade", ANC_CASES)
def test_anc_thresholds(value, grade):
    assert anc_grade(value) == grade
    assert ctcae_grade("ANC", value) == grade


@pytest.mark.parametrize("value,grade", PLT_CASES)
def test_plt_thresholds(value, grade):
    assert plt_grade(value) == grade
    assert ctcae_grade("plt", value) == grade


@pytest.mark.parametrize("test,cases", [("ANC", ANC_CASES), ("PLT", PLT_CASES)])
def test_vectorised_equals_table(test, cases):
    values = pd.Series([v for v, _ in cases] + [np.nan], index=range(10, 10 + len(cases) + 1))
    out = ctcae_grades(test, values)
    assert str(out.dtype) == "Int64"
    assert list(out.index) == list(values.index)
    assert out.iloc[:-1].tolist() == [g for _, g in cases]
    assert out.iloc[-1] is pd.NA


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan])
def test_missing_value_grades_nothing(missing):
    assert anc_grade(missing) is None
    assert plt_grade(missing) is None


def test_vectorised_accepts_lists_with_none():
    out = ctcae_grades("ANC", [None, 1.2, 0.3])
    assert out.isna().tolist() == [True, False, False]
    assert out.iloc[1:].tolist() == [2, 4]


def test_configurable_lln():
    # LLN 2.5: 2.2 is now grade 1, 2.5 grade 0; lower cut-offs unchanged
    assert anc_grade(2.2) == 0
    assert anc_grade(2.2, lln=2.5) == 1
    assert anc_grade(2.5, lln=2.5) == 0
    assert anc_grade(1.2, lln=2.5) == 2
    assert plt_grade(160, lln=170) == 1
    assert ctcae_grades("PLT", [160, 170], lln=170).tolist() == [1, 0]


@pytest.mark.parametrize("test,lln", [("ANC", 1.5), ("ANC", 1.0), ("PLT", 75)])
def test_lln_at_or_below_grade1_floor_is_rejected(test, lln):
    with pytest.raises(ValueError):
        ctcae_grade(test, 1.0, lln=lln)


def test_unknown_test_is_rejected():
    with pytest.raises(ValueError):
        ctcae_grade("HGB", 10.0)
    with pytest.raises(ValueError):
        ctcae_grades("HGB", [10.0])


def test_scalar_returns_plain_int():
    g = anc_grade(1.2)
    assert isinstance(g, int) and not isinstance(g, bool)
    assert not math.isnan(g)
