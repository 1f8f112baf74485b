"""CRS and ICANS rates by grade category (marts.md, agg_toxicity_rates; Park 2023 Figure 2).

Numerator: infused subjects whose adjudicated max grade in the toxicity window
(fct_subject_endpoints.crs_max_grade / icans_max_grade, derivations.md "Adjudicated vs derived
grades") falls in the category: `any` = >= 1, `severe` = >= 3, `grade_k` = exactly k.
Denominator: every infused subject of the group (derivations.md: every infused subject counts).
Interval: exact Clopper-Pearson 95% (derivations.md, "Proportions"), the project's one
implementation in dagster_project.stats.proportions. A row for every category of every group
value that occurs among infused subjects, n_subjects 0 where none.
"""

import math

import pandas as pd

from dagster_project.stats.proportions import clopper_pearson

TOXICITIES = (("CRS", "crs_max_grade"), ("ICANS", "icans_max_grade"))
GROUPINGS = ("overall", "car_t_product", "disease")
CATEGORIES = (
    ("any", lambda g: g >= 1),
    ("severe", lambda g: g >= 3),
    *((f"grade_{k}", (lambda k: lambda g: g == k)(k)) for k in range(6)),
)
COLUMNS = ["toxicity", "group_by", "group_value", "grade_category", "n_subjects", "n_total",
           "pct", "ci_low_pct", "ci_high_pct"]


def _groups(subjects: pd.DataFrame, group_by: str):
    if group_by == "overall":
        return [("all", subjects)]
    return list(subjects.groupby(group_by, dropna=False, sort=True))


def _pct(value: float) -> float | None:
    return None if math.isnan(value) else 100.0 * value


def model(dbt, session):
    dbt.config(materialized="table")
    subjects = dbt.ref("fct_subject_endpoints").df()
    rows = []
    for toxicity, column in TOXICITIES:
        for group_by in GROUPINGS:
            for group_value, frame in _groups(subjects, group_by):
                grades = frame[column]
                n_total = len(frame)
                for category, in_category in CATEGORIES:
                    n = int(in_category(grades).sum())
                    low, high = clopper_pearson(n, n_total)
                    rows.append({
                        "toxicity": toxicity,
                        "group_by": group_by,
                        "group_value": None if pd.isna(group_value) else str(group_value),
                        "grade_category": category,
                        "n_subjects": n,
                        "n_total": n_total,
                        "pct": 100.0 * n / n_total if n_total else None,
                        "ci_low_pct": _pct(low),
                        "ci_high_pct": _pct(high),
                    })
    out = pd.DataFrame(rows, columns=COLUMNS)
    out["n_subjects"] = out["n_subjects"].astype("int64")
    out["n_total"] = out["n_total"].astype("int64")
    for col in ("pct", "ci_low_pct", "ci_high_pct"):
        out[col] = out[col].astype("float64")
    return out
