"""CRS and ICANS rates by grade category (marts.md, agg_toxicity_rates; Park 2023 Figure 2).

Numerator: infused subjects whose adjudicated max grade in the toxicity window
(fct_subject_endpoints.crs_max_grade / icans_max_grade, derivations.md "Adjudicated vs derived
grades") falls in the category: `any` = >= 1, `severe` = >= 3, `grade_k` = exactly k.
Denominator: every infused subject of the group (derivations.md: every infused subject counts).
Interval: exact Clopper-Pearson 95% (derivations.md, "Proportions"), the project's one
implementation in stats.clopper_pearson. A row for every category of every group
value that occurs among infused subjects, n_subjects 0 where none. The toxicities, groupings and
grade categories (with their meaning) are marts.md's, from schemas.vocabulary (dependency-free).
"""

from schemas.vocabulary import (
    GRADE_CATEGORIES, RATE_GROUP_BYS, TOXICITIES, in_grade_category, max_grade_column,
)
from stats.clopper_pearson import rates_by_group

COLUMNS = ["toxicity", "group_by", "group_value", "grade_category", "n_subjects", "n_total",
           "pct", "ci_low_pct", "ci_high_pct"]


def model(dbt, session):
    dbt.config(materialized="table")
    subjects = dbt.ref("fct_subject_endpoints").df()
    measures = [
        ({"toxicity": toxicity, "grade_category": category},
         (lambda c, k: lambda frame: in_grade_category(frame[c], k))(max_grade_column(toxicity), category))
        for toxicity in TOXICITIES
        for category in GRADE_CATEGORIES
    ]
    return rates_by_group(subjects, RATE_GROUP_BYS, measures)[COLUMNS]
