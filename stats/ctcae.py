"""CTCAE v5.0 grades for neutrophil (ANC) and platelet (PLT) counts.

Rule: derivations.md, "Lab toxicity (CTCAE v5.0)" (units 10^9/L):

| test | grade 1        | grade 2     | grade 3     | grade 4 |
|------|----------------|-------------|-------------|---------|
| ANC  | < LLN - 1.5    | < 1.5 - 1.0 | < 1.0 - 0.5 | < 0.5   |
| PLT  | < LLN - 75     | < 75 - 50   | < 50 - 25   | < 25    |

Read "< a - b" as "below a, down to and including b": ANC 1.0 <= x < 1.5 is grade 2 and
1.5 <= x < LLN is grade 1. A value at or above the lower limit of normal (LLN) is grade 0.
LLN defaults to ANC 2.0 and PLT 150 (configurable); it must lie above the grade-1 floor
(ANC 1.5, PLT 75), otherwise the table would contradict itself and ``ValueError`` is raised.

Missing input (None/NaN) grades nothing: ``None`` from the scalar function, ``<NA>`` in the
nullable ``Int64`` Series from the vectorised one.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_LLN",
    "GRADE_FLOORS",
    "anc_grade",
    "ctcae_grade",
    "ctcae_grades",
    "plt_grade",
]

# Lower limits of normal, 10^9/L (derivations.md: "default to ANC 2.0 and platelets 150").
DEFAULT_LLN: dict[str, float] = {"ANC": 2.0, "PLT": 150.0}

# Lowest value of grades 1, 2 and 3 (grade 4 is everything below the grade 3 floor):
# grade 1 = [floor1, LLN), grade 2 = [floor2, floor1), grade 3 = [floor3, floor2).
GRADE_FLOORS: dict[str, tuple[float, float, float]] = {
    "ANC": (1.5, 1.0, 0.5),
    "PLT": (75.0, 50.0, 25.0),
}


def _lln_for(test: str, lln: float | None) -> tuple[str, float]:
    key = test.upper()
    if key not in GRADE_FLOORS:
        raise ValueError(f"unknown CTCAE test {test!r}; expected one of {sorted(GRADE_FLOORS)}")
    value = DEFAULT_LLN[key] if lln is None else float(lln)
    if not value > GRADE_FLOORS[key][0]:
        raise ValueError(
            f"LLN for {key} must exceed {GRADE_FLOORS[key][0]} (the grade 1 floor), got {value}"
        )
    return key, value


def ctcae_grade(test: str, value: float | None, lln: float | None = None) -> int | None:
    """Grade 0-4 of one value of ``test`` (``"ANC"`` or ``"PLT"``); ``None`` if missing."""
    key, limit = _lln_for(test, lln)
    if value is None:
        return None
    x = float(value)
    if math.isnan(x):
        return None
    g1, g2, g3 = GRADE_FLOORS[key]
    if x >= limit:
        return 0
    if x >= g1:
        return 1
    if x >= g2:
        return 2
    if x >= g3:
        return 3
    return 4


def anc_grade(value: float | None, lln: float | None = None) -> int | None:
    """CTCAE v5.0 "Neutrophil count decreased" grade (value in 10^9/L)."""
    return ctcae_grade("ANC", value, lln)


def plt_grade(value: float | None, lln: float | None = None) -> int | None:
    """CTCAE v5.0 "Platelet count decreased" grade (value in 10^9/L)."""
    return ctcae_grade("PLT", value, lln)


def ctcae_grades(test: str, values, lln: float | None = None) -> pd.Series:
    """Vectorised :func:`ctcae_grade`: a nullable ``Int64`` Series (index kept for a Series)."""
    key, limit = _lln_for(test, lln)
    index = values.index if isinstance(values, pd.Series) else None
    x = pd.to_numeric(pd.Series(values, index=index), errors="raise").astype(float).to_numpy()
    g1, g2, g3 = GRADE_FLOORS[key]
    # np.select takes the first true condition, so the order mirrors ctcae_grade.
    grades = np.select(
        [x >= limit, x >= g1, x >= g2, x >= g3, x < g3],
        [0, 1, 2, 3, 4],
        default=0,
    )
    out = pd.Series(grades, index=index, dtype="Int64")
    out[np.isnan(x)] = pd.NA
    return out
