"""Response rates (marts.md, agg_response_rates; derivations.md, "Response").

Measure per infused subject from fct_subject_endpoints.best_response_d100 (best of CR > PR > SD >
PD on study days 1..100, NE when none): ORR = CR or PR; CR, PR, SD, PD, NE = that best response.
Denominator: every infused subject of the group. Interval: exact Clopper-Pearson 95%
(derivations.md, "Proportions") from stats.clopper_pearson. A row for every measure
of every group value that occurs among infused subjects, n_subjects 0 where none. The measures
(with the best responses each counts) and the groupings are marts.md's, from schemas.vocabulary
(dependency-free).
"""

from schemas.vocabulary import RATE_GROUP_BYS, RESPONSE_MEASURES
from stats.clopper_pearson import rates_by_group

COLUMNS = ["measure", "group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct",
           "ci_high_pct"]


def model(dbt, session):
    dbt.config(materialized="table")
    subjects = dbt.ref("fct_subject_endpoints").df()
    measures = [
        ({"measure": measure}, (lambda r: lambda frame: frame["best_response_d100"].isin(r))(responses))
        for measure, responses in RESPONSE_MEASURES.items()
    ]
    return rates_by_group(subjects, RATE_GROUP_BYS, measures)[COLUMNS]
