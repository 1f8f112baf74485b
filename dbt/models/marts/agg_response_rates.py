"""Response rates (marts.md, agg_response_rates; derivations.md, "Response").

Measure per infused subject from fct_subject_endpoints.best_response_d100 (best of CR > PR > SD >
PD on study days 1..100, NE when none): ORR = CR or PR; CR, PR, SD, PD, NE = that best response.
Denominator: every infused subject of the group. Interval: exact Clopper-Pearson 95%
(derivations.md, "Proportions") from dagster_project.stats.proportions. A row for every measure
of every group value that occurs among infused subjects, n_subjects 0 where none.
"""

import math

import pandas as pd

from dagster_project.stats.proportions import clopper_pearson

GROUPINGS = ("overall", "car_t_product", "disease")
MEASURES = (
    ("ORR", ("CR", "PR")),
    ("CR", ("CR",)),
    ("PR", ("PR",)),
    ("SD", ("SD",)),
    ("PD", ("PD",)),
    ("NE", ("NE",)),
)
COLUMNS = ["measure", "group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct",
           "ci_high_pct"]


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
    for measure, responses in MEASURES:
        for group_by in GROUPINGS:
            for group_value, frame in _groups(subjects, group_by):
                n_total = len(frame)
                n = int(frame["best_response_d100"].isin(responses).sum())
                low, high = clopper_pearson(n, n_total)
                rows.append({
                    "measure": measure,
                    "group_by": group_by,
                    "group_value": None if pd.isna(group_value) else str(group_value),
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
