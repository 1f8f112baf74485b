"""CRS, ICANS and IEC-HS rates by grade category, per study and criteria (marts.md,
agg_toxicity_rates; studies-and-inputs.md, "Marts additions"; Park 2023 Figure 2).

Input: int_toxicity_max_grades, one row per infused subject of a study for each toxicity x
criteria the study reports (CRS and ICANS by every criteria it reports, IEC-HS where it has IEC-HS
data): the adjudicated max grade in the toxicity window from daily grades, else the summary,
else 0 (derivations.md "Adjudicated vs derived grades"), with the subject's grouping columns from
dim_subjects (joined on study_id and subject_id: subject ids are unique within a study only).
Per study x toxicity x criteria, numerator: the subjects whose max grade is in the category:
`any` = >= 1 (or present, for a subject whose summary gives presence only), `severe` = >= 3,
`grade_k` = exactly k; denominator: every infused subject of the group (derivations.md: every
infused subject counts). A toxicity x criteria whose source gives presence and no grade (IEC-HS
as usual) has the category `any` only. Interval: exact Clopper-Pearson 95% (derivations.md,
"Proportions"), the project's one implementation in stats.clopper_pearson. A row for every
category of every group value that occurs among the study's infused subjects, n_subjects 0 where
none. The toxicities, groupings and grade categories (with their meaning) are marts.md's, from
schemas.vocabulary (dependency-free). counted_subject_ids: the subjects of n_subjects, sorted (the
cell's lineage, issue 17: audit.lineage links each to its max grade's deciding rows).
"""

from schemas.vocabulary import (
    GRADE_CATEGORIES, RATE_GROUP_BYS, SUMMARY_TOXICITIES, TOXICITIES, in_grade_category,
)
from stats.clopper_pearson import rates_by_group, stacked

COLUMNS = ["study_id", "toxicity", "criteria", "group_by", "group_value", "grade_category", "n_subjects",
           "n_total", "pct", "ci_low_pct", "ci_high_pct", "counted_subject_ids"]
TYPES = {"n_subjects": "int64", "n_total": "int64", "pct": "float64", "ci_low_pct": "float64", "counted_subject_ids": "object",
         "ci_high_pct": "float64"}


def _graded(toxicity, part):
    """Whether a toxicity x criteria of a study has grades (all grade categories) or presence only
    (`any`): graded when some subject's source gave a grade; else CRS and ICANS (graded
    toxicities) when every subject's max grade is known all the same (nothing recorded or an
    absent summary: 0), and IEC-HS never."""
    if bool(part["is_graded"].eq(True).any()):
        return True
    return toxicity in TOXICITIES and bool(part["max_grade"].notna().all())


def _selects(category):
    def selects(frame):
        grade = frame["max_grade"]
        counted = in_grade_category(grade, category).fillna(False).astype(bool)
        if category == "any":  # a presence-only summary: present without a grade
            counted = counted | (grade.isna() & frame["present"].fillna(False).astype(bool))
        return counted
    return selects


def rates(grades, subjects):
    """The rate table of int_toxicity_max_grades rows `grades` and dim_subjects rows `subjects`."""
    groups = [g for g in RATE_GROUP_BYS if g in subjects.columns]
    frame = grades.merge(subjects[["study_id", "subject_id", *groups]], on=["study_id", "subject_id"], how="left")
    frame = frame.assign(max_grade=frame["max_grade"].astype("float64"))
    order = {t: i for i, t in enumerate(SUMMARY_TOXICITIES)}
    tables = []
    for (study, toxicity, criteria), part in frame.groupby(["study_id", "toxicity", "criteria"], sort=False):
        categories = GRADE_CATEGORIES if _graded(toxicity, part) else ("any",)
        measures = [({"toxicity": toxicity, "criteria": criteria, "grade_category": c}, _selects(c))
                    for c in categories]
        table = rates_by_group(part, RATE_GROUP_BYS, measures, ids="subject_id")
        table.insert(0, "study_id", study)
        table["_toxicity_order"] = order.get(toxicity, len(order))
        table["_criteria_rank"] = int(part["criteria_rank"].min())
        tables.append(table)
    if tables:
        out = stacked(tables, [*COLUMNS, "_toxicity_order", "_criteria_rank"], TYPES)
        tables = [out.sort_values(["study_id", "_toxicity_order", "_criteria_rank"], kind="stable")]
    return stacked(tables, COLUMNS, TYPES)


def model(dbt, session):
    dbt.config(materialized="table")
    return rates(dbt.ref("int_toxicity_max_grades").df(), dbt.ref("dim_subjects").df())
