"""Great Expectations suites as code: the mart contract (marts.md) as checks on the built tables.

One plain function per table returns its expectations, so each reads like the contract's row:
value ranges, allowed categories, the grain (unique keys), row counts, not-null keys. What a
table's size must be depends on the cohort (fct_toxicity_daily = infused subjects x the 36 days
of the grid; a rate table = its categories x the group values that occur among infused
subjects), so every suite takes the `Cohort` read from marts.dim_subjects at run time.

Every expectation carries `meta.kind` (columns, not_null, unique, range, category, membership,
row_count, order) so a failure says at once what kind of rule broke. A rule lives once, and is
read from there: the tables with a suite from schemas.gx_tables (SUITES is built from that list);
the mart categories from schemas.vocabulary; the vocabularies of the source contract from the
pandera models (schemas.clinical, schemas.analytes); the harmonized units from the dbt seed
dbt/seeds/unit_conversions.csv; the grid and the toxicity window from the dbt vars that build the
marts (dbt/dbt_project.yml).
"""

from __future__ import annotations

import csv
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.row_conditions import Column, Condition

from schemas.dbt_vars import window
from schemas.analytes import CYTOKINE_CODES
from schemas.clinical import CAR_T_PRODUCTS, DISEASES, ICE_SCORE_RANGE, O2_DEVICES, SEXES
from schemas.gx_tables import CHECKED_TABLES
from schemas.vocabulary import (
    ANALYTE_KINDS,
    CENSORING,
    CONSORT_STEPS,
    CURVE_GROUPS,
    ENDPOINTS,
    GRADE_CATEGORIES,
    GRADES,
    KM_GROUP_BYS,
    MEASURES,
    OVERALL,
    OVERALL_VALUE,
    RATE_GROUP_BYS,
    RESPONSES,
    SPECIMENS,
    TOXICITIES,
)

Expectation = gxe.Expectation

UNIT_CONVERSIONS_SEED = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "unit_conversions.csv"
SEED_CYTOKINE = "CYTOKINE"  # the seed's stand-in for every cytokine code



def daily_grid() -> tuple[int, int]:
    return window("daily_grid")


def toxicity_window() -> tuple[int, int]:
    return window("toxicity_window")


@dataclass(frozen=True)
class Cohort:
    """What the size and membership rules of the marts depend on, from marts.dim_subjects."""

    enrolled: tuple[str, ...]
    infused: tuple[str, ...]
    products: tuple[str, ...] = field(default=())  # car_t_product values among infused subjects
    diseases: tuple[str, ...] = field(default=())  # disease values among infused subjects

    @classmethod
    def from_dim_subjects(cls, subjects: pd.DataFrame) -> Cohort:
        infused = subjects[subjects["is_infused"].fillna(False).astype(bool)]
        return cls(
            enrolled=tuple(sorted(subjects["subject_id"].dropna().astype(str))),
            infused=tuple(sorted(infused["subject_id"].dropna().astype(str))),
            products=tuple(sorted(infused["car_t_product"].dropna().astype(str).unique())),
            diseases=tuple(sorted(infused["disease"].dropna().astype(str).unique())),
        )

    @property
    def rate_groups(self) -> list[tuple[str, str]]:
        """(group_by, group_value) of every rate table row group: overall, each product, each disease."""
        return (
            [(OVERALL, OVERALL_VALUE)]
            + [("car_t_product", p) for p in self.products]
            + [("disease", d) for d in self.diseases]
        )

    @property
    def km_groups(self) -> list[tuple[str, str]]:
        return [(OVERALL, OVERALL_VALUE)] + [("disease", d) for d in self.diseases]


# ---- the vocabulary of a suite: one helper per kind of rule --------------------------------

def columns(*names: str) -> Expectation:
    """The contract's columns are all present (more are welcome)."""
    return gxe.ExpectTableColumnsToMatchSet(column_set=list(names), exact_match=False, meta={"kind": "columns"})


def not_null(*names: str) -> list[Expectation]:
    return [gxe.ExpectColumnValuesToNotBeNull(column=c, meta={"kind": "not_null"}) for c in names]


def unique(*names: str) -> Expectation:
    """The grain: one row per combination of these columns."""
    if len(names) == 1:
        return gxe.ExpectColumnValuesToBeUnique(column=names[0], meta={"kind": "unique"})
    return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(names), meta={"kind": "unique"})


def between(column: str, low: float | None, high: float | None, where: Condition | None = None) -> Expectation:
    """Values within [low, high] (nulls allowed unless a not_null rule says otherwise)."""
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, row_condition=where, meta={"kind": "range"}
    )


def one_of(column: str, values: Iterable, where: Condition | None = None) -> Expectation:
    return gxe.ExpectColumnValuesToBeInSet(
        column=column, value_set=list(values), row_condition=where, meta={"kind": "category"}
    )


# The cohort table membership rules join to, in the warehouse (and in a checked frame's scratch
# file: gx_runner.run_suite's `companions`).
DIM_SUBJECTS = "marts.dim_subjects"


def infused_subjects_only(column: str = "subject_id") -> Expectation:
    """Every row belongs to an infused subject of marts.dim_subjects: an anti-join DuckDB runs,
    not a list of the cohort's ids. (A value set of 92,000 ids took GX minutes per suite to
    serialize: its pydantic models walk the list element by element, over and over.) Nulls are
    the not_null rules' business."""
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=(
            f'select "{column}" from {{batch}} where "{column}" is not null and "{column}" not in '
            f"(select subject_id from {DIM_SUBJECTS} where is_infused)"
        ),
        description=f"every `{column}` is an infused subject of {DIM_SUBJECTS}",
        meta={"kind": "membership", "column": column},
    )


def pairs_in(column_a: str, column_b: str, pairs: Iterable[tuple]) -> Expectation:
    """Each row's (a, b) is one of the allowed pairs. (No row condition: GX 1.24's pandas engine
    does not apply one to column-pair expectations.)"""
    return gxe.ExpectColumnPairValuesToBeInSet(
        column_A=column_a, column_B=column_b, value_pairs_set=[tuple(p) for p in pairs],
        ignore_row_if="either_value_is_missing", meta={"kind": "category"},
    )


def at_most(smaller: str, larger: str) -> Expectation:
    """smaller <= larger on every row where both are known."""
    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=larger, column_B=smaller, or_equal=True, ignore_row_if="either_value_is_missing",
        meta={"kind": "order"},
    )


def rows(n: int) -> Expectation:
    return gxe.ExpectTableRowCountToEqual(value=int(n), meta={"kind": "row_count"})


def rows_between(low: int, high: int | None = None) -> Expectation:
    return gxe.ExpectTableRowCountToBeBetween(min_value=low, max_value=high, meta={"kind": "row_count"})


def not_null_where(column: str, condition_column: str, condition_value) -> Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(
        column=column, row_condition=Column(condition_column) == condition_value, meta={"kind": "not_null"},
    )


def rate_columns(count: str = "n_subjects", total: str = "n_total") -> list[Expectation]:
    """A proportion with its exact interval: 0 <= n <= total, 0..100 %, ci_low <= pct <= ci_high."""
    return [
        *not_null(count, total, "pct", "ci_low_pct", "ci_high_pct"),
        between(count, 0, None),
        at_most(count, total),
        between("pct", 0, 100),
        between("ci_low_pct", 0, 100),
        between("ci_high_pct", 0, 100),
        at_most("ci_low_pct", "pct"),
        at_most("pct", "ci_high_pct"),
    ]


# ---- marts (dbt) ----------------------------------------------------------------------------

def dim_subjects(cohort: Cohort) -> list[Expectation]:
    return [
        columns("subject_id", "site_id", "age_years", "sex", "disease", "car_t_product", "infused_on",
                "is_infused", "not_infused_reason"),
        *not_null("subject_id", "site_id", "disease", "is_infused"),
        unique("subject_id"),
        rows_between(1),
        between("age_years", 18, 100),  # the subjects contract (schemas.clinical.Subjects)
        one_of("sex", SEXES),
        one_of("disease", DISEASES),
        one_of("car_t_product", CAR_T_PRODUCTS),
        one_of("is_infused", (True, False)),
        not_null_where("infused_on", "is_infused", True),
        not_null_where("car_t_product", "is_infused", True),
    ]


def fct_toxicity_daily(cohort: Cohort) -> list[Expectation]:
    first, last = daily_grid()
    return [
        columns("subject_id", "study_day", "crs_grade", "icans_grade", "crs_grade_derived", "icans_grade_derived",
                "tmax_c", "min_systolic_bp_mmhg", "vasopressor_count", "o2_device_worst", "ice_score_min",
                "tocilizumab_doses", "steroid_dex_equiv_mg", "anakinra_doses"),
        *not_null("subject_id", "study_day", "tocilizumab_doses", "steroid_dex_equiv_mg", "anakinra_doses"),
        unique("subject_id", "study_day"),
        # every day of the grid for every infused subject, no one else
        rows(len(cohort.infused) * (last - first + 1)),
        infused_subjects_only(),
        between("study_day", first, last),
        *(between(c, *GRADES) for c in ("crs_grade", "icans_grade", "crs_grade_derived", "icans_grade_derived")),
        between("tmax_c", 30, 45),  # the vitals contract's ranges (schemas.clinical.Vitals)
        between("min_systolic_bp_mmhg", 30, 260),
        between("vasopressor_count", 0, None),
        one_of("o2_device_worst", O2_DEVICES),
        between("ice_score_min", *ICE_SCORE_RANGE),
        between("tocilizumab_doses", 0, None),
        between("steroid_dex_equiv_mg", 0, None),
        between("anakinra_doses", 0, None),
    ]


def fct_subject_endpoints(cohort: Cohort) -> list[Expectation]:
    first, last = toxicity_window()
    return [
        columns("subject_id", "car_t_product", "disease", "crs_max_grade", "crs_onset_day", "crs_duration_days",
                "icans_max_grade", "icans_onset_day", "icans_duration_days", "crs_max_grade_derived",
                "icans_max_grade_derived", "received_tocilizumab", "received_steroids", "steroid_dex_equiv_mg_total",
                "anakinra_doses_total", "best_response_d100", "os_days", "os_event", "pfs_days", "pfs_event"),
        *not_null("subject_id", "car_t_product", "disease", "received_tocilizumab", "received_steroids",
                  "steroid_dex_equiv_mg_total", "anakinra_doses_total", "best_response_d100"),
        unique("subject_id"),
        rows(len(cohort.infused)),  # one row per infused subject
        infused_subjects_only(),
        one_of("car_t_product", CAR_T_PRODUCTS),
        one_of("disease", DISEASES),
        *(between(c, *GRADES) for c in ("crs_max_grade", "icans_max_grade", "crs_max_grade_derived",
                                         "icans_max_grade_derived")),
        between("crs_onset_day", first, last),
        between("icans_onset_day", first, last),
        between("crs_duration_days", 0, last - first + 1),
        between("icans_duration_days", 0, last - first + 1),
        between("steroid_dex_equiv_mg_total", 0, None),
        between("anakinra_doses_total", 0, None),
        one_of("best_response_d100", RESPONSES),
        between("os_days", 0, None),
        between("pfs_days", 0, None),
        at_most("pfs_days", "os_days"),
        one_of("os_event", (True, False)),
        one_of("pfs_event", (True, False)),
    ]


def _seed_units() -> dict[tuple[str, str], str]:
    """(specimen, analyte) -> harmonized unit (`to_unit`) of dbt/seeds/unit_conversions.csv, in the
    seed's order: the one place a unit lives. Read when called (a few rows), never on import."""
    units: dict[tuple[str, str], str] = {}
    with UNIT_CONVERSIONS_SEED.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["specimen"], row["analyte"])
            if units.setdefault(key, row["to_unit"]) != row["to_unit"]:
                raise ValueError(f"{UNIT_CONVERSIONS_SEED}: {key} has two harmonized units, "
                                 f"{units[key]!r} and {row['to_unit']!r}")
    return units


def cytokine_unit() -> str:
    """The harmonized unit of every cytokine code, in either specimen (the seed's CYTOKINE rows)."""
    units = {u for (_, analyte), u in _seed_units().items() if analyte == SEED_CYTOKINE}
    if len(units) != 1:
        raise ValueError(f"{UNIT_CONVERSIONS_SEED}: cytokines need one harmonized unit, found {sorted(units)}")
    return units.pop()


def lab_analytes(specimen: str) -> tuple[str, ...]:
    """The seed's analytes of a specimen other than cytokines: serum lab tests, CSF chemistry."""
    return tuple(a for (s, a) in _seed_units() if s == specimen and a != SEED_CYTOKINE)


def all_analytes() -> tuple[str, ...]:
    """Every analyte code of either specimen: the cytokines, the lab tests, the CSF chemistry."""
    return tuple(sorted({*CYTOKINE_CODES, *(a for s in SPECIMENS for a in lab_analytes(s))}))


def harmonized_units() -> list[tuple[str, tuple[str, ...], str]]:
    """(specimen, analytes, unit) of the harmonized units of the seed, cytokines aside (cytokine_unit):
    WBC is 10^9/L in serum, /uL in CSF."""
    by_unit: dict[tuple[str, str], list[str]] = {}
    for (specimen, analyte), unit in _seed_units().items():
        if analyte != SEED_CYTOKINE:
            by_unit.setdefault((specimen, unit), []).append(analyte)
    return [(s, tuple(a), u) for (s, u), a in by_unit.items()]


def fct_biomarker_results(cohort: Cohort) -> list[Expectation]:
    serum, csf = Column("specimen") == "serum", Column("specimen") == "csf"
    return [
        columns("subject_id", "specimen", "analyte", "collected_at", "study_day", "value", "unit", "censoring",
                "analysis_value", "substitution_rule", "baseline_value", "fold_change", "delivery_sha256"),
        *not_null("subject_id", "specimen", "analyte", "collected_at", "value", "unit", "censoring",
                  "analysis_value", "substitution_rule", "delivery_sha256"),
        unique("measurement_id"),
        rows_between(1),
        one_of("specimen", SPECIMENS),
        one_of("analyte", (*CYTOKINE_CODES, *lab_analytes("serum")), where=serum),
        one_of("analyte", (*CYTOKINE_CODES, *lab_analytes("csf")), where=csf),
        # the harmonized unit of every analyte
        one_of("unit", [cytokine_unit()], where=Column("analyte").is_in(CYTOKINE_CODES)),
        *(one_of("unit", [unit], where=(Column("specimen") == specimen) & Column("analyte").is_in(analytes))
          for specimen, analytes, unit in harmonized_units()),
        one_of("censoring", CENSORING),
        one_of("analyte_kind", ANALYTE_KINDS),
        between("value", 0, None),
        between("analysis_value", 0, None),
        between("baseline_value", 0, None),
        between("fold_change", 0, None),
        # a sha256 hex digest (GX has no regex for DuckDB: the length, as in audit.deliveries)
        gxe.ExpectColumnValueLengthsToEqual(column="delivery_sha256", value=64, meta={"kind": "category"}),
    ]


def fct_cytokine_kinetics(cohort: Cohort) -> list[Expectation]:
    return [
        columns("subject_id", "specimen", "analyte", "baseline_value", "peak_value", "peak_day", "auc_d0_d14",
                "peak_fold_change", "n_samples", "n_censored"),
        *not_null("subject_id", "specimen", "analyte", "n_samples", "n_censored"),
        unique("subject_id", "specimen", "analyte"),
        rows_between(0, len(cohort.infused) * len(SPECIMENS) * len(all_analytes())),
        infused_subjects_only(),  # subjects not infused have no study day, no row
        one_of("specimen", SPECIMENS),
        between("peak_day", 0, 28),
        between("baseline_value", 0, None),
        between("peak_value", 0, None),
        between("auc_d0_d14", 0, None),
        between("peak_fold_change", 0, None),
        between("n_samples", 1, None),
        between("n_censored", 0, None),
        at_most("n_censored", "n_samples"),
    ]


def fct_toxicity_concordance(cohort: Cohort) -> list[Expectation]:
    first, last = daily_grid()
    grades = range(GRADES[0], GRADES[1] + 1)
    return [
        columns("subject_id", "study_day", "toxicity", "adjudicated_grade", "derived_grade"),
        *not_null("subject_id", "study_day", "toxicity", "adjudicated_grade", "derived_grade"),
        unique("subject_id", "study_day", "toxicity"),
        rows_between(0, len(cohort.infused) * (last - first + 1) * len(TOXICITIES)),
        infused_subjects_only(),
        between("study_day", first, last),
        one_of("toxicity", TOXICITIES),
        between("adjudicated_grade", *GRADES),
        between("derived_grade", *GRADES),
        # a row exists only where the two grades differ
        pairs_in("adjudicated_grade", "derived_grade", [(a, d) for a in grades for d in grades if a != d]),
    ]


def agg_toxicity_rates(cohort: Cohort) -> list[Expectation]:
    return [
        columns("toxicity", "group_by", "group_value", "grade_category", "n_subjects", "n_total", "pct",
                "ci_low_pct", "ci_high_pct"),
        *not_null("toxicity", "group_by", "group_value", "grade_category"),
        unique("toxicity", "group_by", "group_value", "grade_category"),
        # every category of every group value among infused subjects, n_subjects 0 where none
        rows(len(TOXICITIES) * len(GRADE_CATEGORIES) * len(cohort.rate_groups)),
        one_of("toxicity", TOXICITIES),
        one_of("group_by", RATE_GROUP_BYS),
        pairs_in("group_by", "group_value", cohort.rate_groups),
        one_of("grade_category", GRADE_CATEGORIES),
        *rate_columns(),
    ]


def agg_response_rates(cohort: Cohort) -> list[Expectation]:
    return [
        columns("measure", "group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct", "ci_high_pct"),
        *not_null("measure", "group_by", "group_value"),
        unique("measure", "group_by", "group_value"),
        rows(len(MEASURES) * len(cohort.rate_groups)),
        one_of("measure", MEASURES),
        one_of("group_by", RATE_GROUP_BYS),
        pairs_in("group_by", "group_value", cohort.rate_groups),
        *rate_columns(),
    ]


def agg_consort(cohort: Cohort) -> list[Expectation]:
    n_enrolled, n_infused = len(cohort.enrolled), len(cohort.infused)
    # the flow's counts agree with dim_subjects
    counts = {"enrolled": n_enrolled, "infused": n_infused, "not_infused": n_enrolled - n_infused,
              "evaluable_toxicity": n_infused}
    return [
        columns("step_order", "step", "n_subjects"),
        *not_null("step_order", "step", "n_subjects"),
        unique("step_order"),
        unique("step"),
        rows(len(CONSORT_STEPS)),
        between("n_subjects", 0, n_enrolled),
        pairs_in("step_order", "step", enumerate(CONSORT_STEPS, start=1)),
        *(between("n_subjects", n, n, where=Column("step") == step) for step, n in counts.items()),
        between("n_subjects", 0, n_infused, where=Column("step") == "evaluable_response"),
    ]


# ---- analysis (Python statistics) -----------------------------------------------------------

def km_curves(cohort: Cohort) -> list[Expectation]:
    return [
        columns("endpoint", "group_by", "group_value", "time_days", "n_at_risk", "n_events", "n_censored",
                "survival", "ci_low", "ci_high"),
        *not_null("endpoint", "group_by", "group_value", "time_days", "n_at_risk", "n_events", "n_censored",
                  "survival"),
        unique("endpoint", "group_by", "group_value", "time_days"),
        # a curve has at most one row per subject; overall and by disease each cover every subject once
        rows_between(0, len(ENDPOINTS) * len(KM_GROUP_BYS) * len(cohort.infused)),
        one_of("endpoint", ENDPOINTS),
        one_of("group_by", KM_GROUP_BYS),
        pairs_in("group_by", "group_value", cohort.km_groups),
        between("time_days", 0, None),
        between("n_at_risk", 0, len(cohort.infused)),
        between("n_events", 0, None),
        between("n_censored", 0, None),
        between("survival", 0, 1),
        between("ci_low", 0, 1),
        between("ci_high", 0, 1),
        at_most("ci_low", "survival"),
        at_most("survival", "ci_high"),
    ]


def km_summary(cohort: Cohort) -> list[Expectation]:
    return [
        columns("endpoint", "group_by", "group_value", "n_subjects", "n_events", "median_days",
                "median_ci_low_days", "median_ci_high_days", "survival_12mo"),
        *not_null("endpoint", "group_by", "group_value", "n_subjects", "n_events"),
        unique("endpoint", "group_by", "group_value"),
        rows(len(ENDPOINTS) * len(cohort.km_groups)),
        one_of("endpoint", ENDPOINTS),
        one_of("group_by", KM_GROUP_BYS),
        pairs_in("group_by", "group_value", cohort.km_groups),
        between("n_subjects", 0, len(cohort.infused)),
        between("n_events", 0, None),
        at_most("n_events", "n_subjects"),
        between("median_days", 0, None),
        at_most("median_ci_low_days", "median_days"),
        at_most("median_days", "median_ci_high_days"),
        between("survival_12mo", 0, 1),
    ]


def cytokine_curves(cohort: Cohort) -> list[Expectation]:
    return [
        columns("specimen", "analyte", "group", "study_day", "n_obs", "fit_log10", "ci_low_log10", "ci_high_log10"),
        *not_null("specimen", "analyte", "group", "n_obs"),
        unique("specimen", "analyte", "group", "study_day"),
        rows_between(1),  # a group too small to fit still has its row (status too_small)
        one_of("specimen", SPECIMENS),
        one_of("group", CURVE_GROUPS),
        between("n_obs", 0, None),
        at_most("ci_low_log10", "fit_log10"),
        at_most("fit_log10", "ci_high_log10"),
    ]


def csf_pre_post(cohort: Cohort) -> list[Expectation]:
    return [
        columns("analyte", "n_pre", "n_post", "n_paired", "median_pre", "q1_pre", "q3_pre", "median_post",
                "q1_post", "q3_post", "p_value", "test"),
        *not_null("analyte", "n_pre", "n_post", "n_paired"),
        unique("analyte"),
        rows_between(0, len(CYTOKINE_CODES) + len(lab_analytes("csf"))),  # at most one row per CSF analyte
        one_of("analyte", (*CYTOKINE_CODES, *lab_analytes("csf"))),
        between("n_pre", 0, len(cohort.infused)),
        between("n_post", 0, len(cohort.infused)),
        between("n_paired", 0, None),
        at_most("n_paired", "n_pre"),
        at_most("n_paired", "n_post"),
        at_most("q1_pre", "median_pre"),
        at_most("median_pre", "q3_pre"),
        at_most("q1_post", "median_post"),
        at_most("median_post", "q3_post"),
        between("p_value", 0, 1),
    ]


Suite = Callable[[Cohort], list[Expectation]]


def _is_suite(obj) -> bool:
    """A function of this module taking the cohort alone (not a helper like `columns`)."""
    return (inspect.isfunction(obj) and obj.__module__ == __name__
            and list(inspect.signature(obj).parameters) == ["cohort"])


def suites_for(tables: Iterable[str]) -> dict[str, Suite]:
    """Table (schema.name) -> its suite: the function of this module named after the table."""
    suites: dict[str, Suite] = {}
    missing = []
    for table in tables:
        suite = globals().get(table.split(".")[-1])
        if _is_suite(suite):
            suites[table] = suite
        else:
            missing.append(table)
    if missing:
        raise LookupError(
            f"no Great Expectations suite for {', '.join(missing)}: schemas/gx_suites.py needs a function "
            "named after each table of schemas.gx_tables.CHECKED_TABLES (`marts.dim_subjects` -> "
            "`def dim_subjects(cohort: Cohort) -> list[Expectation]`)"
        )
    return suites


# Table (schema.name, the Dagster asset key schema/name) -> its suite, for every checked table.
SUITES: dict[str, Suite] = suites_for(CHECKED_TABLES)


def suite_name(table: str) -> str:
    """GX suite name of a table: `marts.dim_subjects` -> `marts__dim_subjects`."""
    return table.replace(".", "__")


def kinds(expectations: Sequence[Expectation]) -> set[str]:
    return {(e.meta or {}).get("kind", "") for e in expectations}
