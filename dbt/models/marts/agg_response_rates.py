"""Response rates per study (marts.md, agg_response_rates; derivations.md, "Response";
studies-and-inputs.md, "Vocabularies").

Measure per infused subject from fct_subject_endpoints.best_response_d100 (best of CR > PR > SD >
PD on study days 1..100, NE when none): ORR = CR or PR; CR, PR, SD, PD, NE = that best response.
A study whose response criteria (study.yml response_criteria, stg_ingest__studies) include
ALL-MRD also gets CR_MRD_NEG and CR_MRD_POS: a best response CR whose assessment's mrd is
negative / positive (fct_subject_endpoints.best_response_mrd). Denominator: every infused subject
of the study's group. Interval: exact Clopper-Pearson 95% (derivations.md, "Proportions") from
stats.clopper_pearson. A row for every measure of every group value that occurs among the study's
infused subjects, n_subjects 0 where none. The measures (with the best responses each counts) and
the groupings are marts.md's and studies-and-inputs.md's, from schemas.vocabulary
(dependency-free). counted_subject_ids: the subjects of n_subjects, sorted (the cell's lineage,
issue 17: audit.lineage links each to its best_response_d100 and that to its assessment).
"""

from schemas.vocabulary import (
    MRD_RESPONSE_CRITERIA, MRD_RESPONSE_MEASURES, RATE_GROUP_BYS, RESPONSE_MEASURES,
)
from stats.clopper_pearson import rates_by_group, stacked

COLUMNS = ["study_id", "measure", "group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct",
           "ci_high_pct", "counted_subject_ids"]
TYPES = {"n_subjects": "int64", "n_total": "int64", "pct": "float64", "ci_low_pct": "float64",
         "ci_high_pct": "float64", "counted_subject_ids": "object"}


def _responses(responses):
    return lambda frame: frame["best_response_d100"].isin(responses)


def _mrd(response, mrd):
    return lambda frame: (frame["best_response_d100"] == response) & (frame["best_response_mrd"] == mrd).fillna(False)


def mrd_studies(studies):
    """The studies whose response criteria include ALL-MRD (stg_ingest__studies rows)."""
    return {row.study_id for row in studies.itertuples()
            if row.response_criteria is not None and MRD_RESPONSE_CRITERIA in list(row.response_criteria)}


def rates(subjects, with_mrd):
    """The rate table of fct_subject_endpoints rows `subjects`; `with_mrd` the ALL-MRD studies."""
    tables = []
    for study, frame in subjects.groupby("study_id", sort=True):
        measures = [({"measure": m}, _responses(r)) for m, r in RESPONSE_MEASURES.items()]
        if study in with_mrd:
            measures += [({"measure": m}, _mrd(*r)) for m, r in MRD_RESPONSE_MEASURES.items()]
        table = rates_by_group(frame, RATE_GROUP_BYS, measures, ids="subject_id")
        table.insert(0, "study_id", study)
        tables.append(table)
    return stacked(tables, COLUMNS, TYPES)


def model(dbt, session):
    dbt.config(materialized="table")
    subjects = dbt.ref("fct_subject_endpoints").df()
    studies = dbt.ref("stg_ingest__studies").df()
    return rates(subjects, mrd_studies(studies))
