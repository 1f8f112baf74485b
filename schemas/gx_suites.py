"""Great Expectations suites as code: the mart contract (marts.md) as checks on the built tables.

One plain function per table returns its expectations, so each reads like the contract's row:
value ranges, allowed categories, the grain (unique keys), row counts, not-null keys. What a
table's size must be depends on the cohort (fct_toxicity_daily = infused subjects x the 36 days
of the grid; a rate table = its categories x the group values that occur among infused
subjects), so every suite takes the `Cohort` read from the warehouse at run time.

Several studies (studies-and-inputs.md, "Studies"): every table has `study_id` first and not
null, naming a study of marts.dim_studies; its grain starts with study_id (subject ids are unique
only within a study). The cohort is a `StudyCohort` per study (marts.dim_subjects, the study's
settings from marts.dim_studies and raw.studies, marts.dim_subject_attributes), and every size
rule is the sum over the studies of what one study must have, every group rule the study's own
groups: with one study, the rules are the single-study rules.

Every expectation carries `meta.kind` (columns, not_null, unique, range, category, membership,
grouping, relative_time, row_count, order) so a failure says at once what kind of rule broke. A rule lives once, and is
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
from schemas.clinical import AGE_RANGE, CAR_T_PRODUCTS, DISEASES, ICE_SCORE_RANGE, O2_DEVICES, SEXES
from schemas.gx_tables import CHECKED_TABLES
from schemas.vocabulary import (
    ANALYTE_KINDS,
    CENSORING,
    CONSORT_STEPS,
    DEFAULT_KINETICS_GROUP_BY,
    DEFAULT_TOXICITY_CRITERIA,
    ENDPOINTS,
    GRADE_CATEGORIES,
    GRADES,
    KM_GROUP_BYS,
    MEASURES,
    MRD_MEASURES,
    MRD_RESPONSE_CRITERIA,
    OVERALL,
    OVERALL_VALUE,
    PRESENCE_CURVE_GROUPS,
    PRESENCE_TOXICITY,
    RATE_GROUP_BYS,
    RESPONSE_CRITERIA,
    RESPONSES,
    SPECIMENS,
    SUMMARY_TOXICITIES,
    TIME_MODES,
    TOXICITIES,
    TOXICITY_CRITERIA,
    attribute_curve_groups,
    graded_curve_groups,
)

Expectation = gxe.Expectation

UNIT_CONVERSIONS_SEED = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "unit_conversions.csv"
SEED_CYTOKINE = "CYTOKINE"  # the seed's stand-in for every cytokine code



def daily_grid() -> tuple[int, int]:
    return window("daily_grid")


def toxicity_window() -> tuple[int, int]:
    return window("toxicity_window")


PRIMARY_RESPONSE_CRITERIA = RESPONSE_CRITERIA[0]


@dataclass(frozen=True)
class StudyCohort:
    """One study: its subjects (marts.dim_subjects) and the settings its tables' rules depend on
    (marts.dim_studies, the study.yml recorded in raw.studies)."""

    study_id: str
    enrolled: tuple[str, ...]
    infused: tuple[str, ...]
    products: tuple[str, ...] = field(default=())  # car_t_product values among infused subjects
    diseases: tuple[str, ...] = field(default=())  # disease values among infused subjects
    time_mode: str = "calendar"
    toxicity_criteria: tuple[str, ...] = (DEFAULT_TOXICITY_CRITERIA,)  # the first is the primary
    response_criteria: tuple[str, ...] = (PRIMARY_RESPONSE_CRITERIA,)
    kinetics_group_by: str = DEFAULT_KINETICS_GROUP_BY
    kinetics_values: tuple[str, ...] = ()  # the values of an attribute grouping among the study's subjects
    declared_products: tuple[str, ...] = ()  # study.yml `products`, `diseases`, `analytes`
    declared_diseases: tuple[str, ...] = ()
    declared_analytes: tuple[str, ...] = ()
    # What its delivered toxicity data hold (adjudicated daily grades, summaries): the graded
    # toxicities with data, the criteria used without being declared (reported too), and the
    # criteria of its IEC-HS data.
    graded_toxicities: tuple[str, ...] = TOXICITIES
    undeclared_criteria: tuple[str, ...] = ()
    iec_hs_criteria: tuple[str, ...] = ()

    @property
    def relative(self) -> bool:
        return self.time_mode == "relative"

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

    @property
    def measures(self) -> tuple[str, ...]:
        """agg_response_rates measures: ORR and each response, and CR by MRD status for ALL-MRD."""
        return (*MEASURES, *(MRD_MEASURES if MRD_RESPONSE_CRITERIA in self.response_criteria else ()))

    @property
    def toxicity_sets(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(toxicity, criteria, grade categories) of agg_toxicity_rates: CRS and ICANS, where the
        study delivered data of that toxicity (a study without any ICANS data reports no ICANS
        rate, not 0 of N), by each criteria the study reports (its study.yml's, then any its
        deliveries use undeclared), every grade category; IEC-HS (presence: `any` only) by each
        criteria its IEC-HS data use. (A CRS or ICANS delivered as presence without any grade would
        have `any` only: not a case the contract's sources give.)"""
        criteria = (*self.toxicity_criteria, *(c for c in self.undeclared_criteria if c not in self.toxicity_criteria))
        sets = [(tox, c, GRADE_CATEGORIES) for c in criteria for tox in TOXICITIES if tox in self.graded_toxicities]
        return sets + [(PRESENCE_TOXICITY, c, ("any",)) for c in self.iec_hs_criteria]

    @property
    def curve_groups(self) -> tuple[str, ...]:
        """cytokine_curves.group of the study's grouping (lib/analysis/cytokine_curves.py)."""
        if self.kinetics_group_by in TOXICITIES:
            return (OVERALL_VALUE, *graded_curve_groups(self.kinetics_group_by))
        if self.kinetics_group_by == PRESENCE_TOXICITY:
            return (OVERALL_VALUE, *PRESENCE_CURVE_GROUPS)
        return (OVERALL_VALUE, *self.kinetics_values)


def _texts(values) -> tuple[str, ...]:
    return tuple(sorted({str(v) for v in values if v is not None and v == v}))


def _study_settings(row: dict) -> dict:
    """The StudyCohort fields of a row of marts.dim_studies, with raw.studies.settings_json (the
    validated study.yml) where the row has it."""
    import json

    def listed(key: str) -> tuple[str, ...]:
        value = row.get(key)  # dim_studies lists them comma-separated
        if isinstance(value, str) and value.strip():
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return tuple(settings.get(key) or ())

    settings = json.loads(row["settings_json"]) if isinstance(row.get("settings_json"), str) else {}
    primary = row.get("primary_toxicity_criteria") or DEFAULT_TOXICITY_CRITERIA
    criteria = listed("toxicity_criteria") or (primary,)
    if primary in criteria:  # the primary first
        criteria = (primary, *(c for c in criteria if c != primary))
    return {
        "time_mode": row.get("time_mode") or settings.get("time_mode") or "calendar",
        "toxicity_criteria": criteria,
        "response_criteria": listed("response_criteria") or (PRIMARY_RESPONSE_CRITERIA,),
        "kinetics_group_by": row.get("kinetics_group_by") or settings.get("kinetics_group_by")
        or DEFAULT_KINETICS_GROUP_BY,
        "declared_products": tuple(settings.get("products") or ()),
        "declared_diseases": tuple(settings.get("diseases") or ()),
        "declared_analytes": tuple(settings.get("analytes") or ()),
    }


def _delivered_toxicities(used: pd.DataFrame | None, study_id: str, declared: tuple[str, ...]) -> dict:
    """The StudyCohort fields of a study's delivered toxicity data (see Cohort.from_dim_subjects)."""
    if used is None:
        return {}
    mine = used[used["study_id"] == study_id]
    return {
        "graded_toxicities": tuple(t for t in TOXICITIES if (mine["toxicity"] == t).any()),
        "undeclared_criteria": _texts(c for c in mine["criteria"] if c not in declared),
        "iec_hs_criteria": _texts(mine.loc[mine["toxicity"] == PRESENCE_TOXICITY, "criteria"]),
    }


@dataclass(frozen=True)
class Cohort:
    """What the size and membership rules of the marts depend on: one StudyCohort per study."""

    studies: tuple[StudyCohort, ...]

    @classmethod
    def from_dim_subjects(
        cls,
        subjects: pd.DataFrame,
        studies: pd.DataFrame | None = None,
        attributes: pd.DataFrame | None = None,
        criteria_used: pd.DataFrame | None = None,
    ) -> Cohort:
        """The cohort of marts.dim_subjects (study_id, subject_id, disease, car_t_product,
        is_infused) and, when given, marts.dim_studies rows (one per study, also a study
        without subjects; with raw.studies' settings_json where known), marts.dim_subject_attributes
        rows (study_id, subject_id, attribute, value: the values of an attribute grouping) and the
        toxicity data delivered (study_id, toxicity, criteria: a toxicity's adjudicated daily
        grades or summaries by that criteria; None: every study has CRS and ICANS data by its
        declared criteria)."""
        if "study_id" not in subjects.columns:
            raise ValueError("marts.dim_subjects lacks study_id (contract v2: study_id first in every mart)")
        rows = {} if studies is None else {str(r["study_id"]): r for r in studies.to_dict("records")}
        ids = sorted(set(rows) | {str(s) for s in subjects["study_id"].dropna().unique()})
        used = (None if criteria_used is None else criteria_used.astype({"study_id": str}))
        out = []
        for study_id in ids:
            mine = subjects[subjects["study_id"].astype(str) == study_id]
            infused = mine[mine["is_infused"].fillna(False).astype(bool)]
            settings = _study_settings(rows.get(study_id, {}))
            values: tuple[str, ...] = ()
            group_by = settings["kinetics_group_by"]
            if attributes is not None and group_by not in SUMMARY_TOXICITIES:
                a = attributes[(attributes["study_id"].astype(str) == study_id) & (attributes["attribute"] == group_by)]
                values = attribute_curve_groups(a["value"].dropna().astype(str), group_by)
            out.append(StudyCohort(
                study_id=study_id,
                enrolled=_texts(mine["subject_id"].dropna()),
                infused=_texts(infused["subject_id"].dropna()),
                products=_texts(infused["car_t_product"].dropna()),
                diseases=_texts(infused["disease"].dropna()),
                kinetics_values=values,
                **_delivered_toxicities(used, study_id, settings["toxicity_criteria"]),
                **settings,
            ))
        return cls(studies=tuple(out))

    # ---- sums over the studies (the size rules)

    @property
    def study_ids(self) -> tuple[str, ...]:
        return tuple(s.study_id for s in self.studies)

    @property
    def n_enrolled(self) -> int:
        return sum(len(s.enrolled) for s in self.studies)

    @property
    def n_infused(self) -> int:
        return sum(len(s.infused) for s in self.studies)

    @property
    def max_infused(self) -> int:
        """The largest study's infused subjects (a per-study count's upper bound)."""
        return max((len(s.infused) for s in self.studies), default=0)

    @property
    def infused(self) -> tuple[tuple[str, str], ...]:
        """(study_id, subject_id) of every infused subject."""
        return tuple((s.study_id, subject) for s in self.studies for subject in s.infused)

    @property
    def with_subjects(self) -> tuple[StudyCohort, ...]:
        """The studies with an enrolled subject (agg_consort has their flow)."""
        return tuple(s for s in self.studies if s.enrolled)

    @property
    def with_infused(self) -> tuple[StudyCohort, ...]:
        """The studies with an infused subject (the rate tables have their rows)."""
        return tuple(s for s in self.studies if s.infused)

    @property
    def rate_groups(self) -> list[tuple[str, str, str]]:
        return [(s.study_id, *g) for s in self.with_infused for g in s.rate_groups]

    @property
    def km_groups(self) -> list[tuple[str, str, str]]:
        return [(s.study_id, *g) for s in self.studies for g in s.km_groups]

    @property
    def products(self) -> tuple[str, ...]:
        """Every product a mart may name: the contract's and those the studies declare."""
        return tuple(dict.fromkeys((*CAR_T_PRODUCTS, *(p for s in self.studies for p in s.declared_products))))

    @property
    def diseases(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*DISEASES, *(d for s in self.studies for d in s.declared_diseases))))

    @property
    def cytokines(self) -> tuple[str, ...]:
        """The contract's cytokine codes and those the studies declare."""
        return tuple(dict.fromkeys((*CYTOKINE_CODES, *(a for s in self.studies for a in s.declared_analytes))))

    @property
    def relative_studies(self) -> tuple[str, ...]:
        return tuple(s.study_id for s in self.studies if s.relative)


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


# The cohort tables membership rules join to, in the warehouse (and in a checked frame's scratch
# file: gx_runner.run_suite's `companions`).
DIM_SUBJECTS = "marts.dim_subjects"
DIM_STUDIES = "marts.dim_studies"


def _sql_text(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(values: Iterable) -> str:
    return ", ".join(_sql_text(v) for v in values)


def _query(query: str, description: str, kind: str, column: str) -> Expectation:
    return gxe.UnexpectedRowsExpectation(unexpected_rows_query=query, description=description,
                                         meta={"kind": kind, "column": column})


def infused_subjects_only(column: str = "subject_id") -> Expectation:
    """Every row belongs to an infused subject of marts.dim_subjects, of its own study (a subject
    is (study_id, subject_id)): an anti-join DuckDB runs, not a list of the cohort's ids. (A value
    set of 92,000 ids took GX minutes per suite to serialize: its pydantic models walk the list
    element by element, over and over.) Nulls are the not_null rules' business."""
    return _query(
        f'select study_id, "{column}" from {{batch}} where "{column}" is not null and (study_id, "{column}") not in '
        f"(select study_id, subject_id from {DIM_SUBJECTS} where is_infused)",
        f"every `{column}` is an infused subject of {DIM_SUBJECTS} in its study", "membership", column,
    )


def first_column(name: str = "study_id") -> Expectation:
    """``name`` is the table's first column. (A query on DuckDB's DESCRIBE of the batch: GX 1.24's
    expect_column_to_exist ignores column_index 0, which it takes for "no index".)"""
    return _query(f"select * from (select column_name from (describe select * from {{batch}}) limit 1) "
                  f"where column_name <> {_sql_text(name)}",
                  f"`{name}` is the first column", "columns", name)


def study_first() -> list[Expectation]:
    """`study_id` is the first column, never null, and names a study of marts.dim_studies."""
    return [
        first_column(),
        *not_null("study_id"),
        _query(f"select study_id from {{batch}} where study_id is not null and study_id not in "
               f"(select study_id from {DIM_STUDIES})",
               f"every `study_id` is a study of {DIM_STUDIES}", "membership", "study_id"),
    ]


def rows_in(columns_: Sequence[str], allowed: Iterable[tuple], kind: str = "grouping") -> Expectation:
    """Each row's values of ``columns_`` are one of the ``allowed`` tuples: a study's own groups
    (its products, diseases, grouping values), not any study's. A row with a null in them is the
    not_null rules' business."""
    allowed = sorted({tuple(str(v) for v in t) for t in allowed})
    names = ", ".join(f'"{c}"' for c in columns_)
    if allowed:
        values = ", ".join(f"({_sql_list(t)})" for t in allowed)
        query = f"select {names} from {{batch}} where ({names}) not in (select * from (values {values}))"
    else:
        query = f"select {names} from {{batch}}"
    return _query(query, f"({', '.join(columns_)}) is one of the study's own", kind, ", ".join(columns_))


def _excluding(studies: Iterable[str]) -> str:
    studies = list(studies)
    return f" and study_id not in ({_sql_list(studies)})" if studies else ""


def not_null_in_calendar_studies(column: str, cohort: Cohort, where: str = "true") -> Expectation:
    """A clock column is never null (where ``where``) in a calendar-time study; a relative-time
    study has none (relative_time_has_no_clock)."""
    return _query(f'select study_id, "{column}" from {{batch}} where "{column}" is null and {where}'
                  f"{_excluding(cohort.relative_studies)}",
                  f"`{column}` is not null in a calendar-time study", "not_null", column)


def relative_time_has_no_clock(cohort: Cohort, *clock: str) -> list[Expectation]:
    """studies-and-inputs.md, "Relative time": a relative-time study's calendar columns are null."""
    if not cohort.relative_studies:
        return []
    return [_query(f'select study_id, "{c}" from {{batch}} where "{c}" is not null and study_id in '
                   f"({_sql_list(cohort.relative_studies)})",
                   f"`{c}` is null in a relative-time study", "relative_time", c) for c in clock]


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

def dim_studies(cohort: Cohort) -> list[Expectation]:
    return [
        columns("study_id", "title", "time_mode", "n_subjects", "n_deliveries", "last_delivery_at",
                "primary_toxicity_criteria", "kinetics_group_by"),
        first_column(),
        *not_null("study_id", "time_mode", "n_subjects", "primary_toxicity_criteria", "kinetics_group_by"),
        unique("study_id"),
        rows(len(cohort.studies)),  # every study of dim_subjects, and no other
        one_of("time_mode", TIME_MODES),
        one_of("primary_toxicity_criteria", TOXICITY_CRITERIA),
        between("n_subjects", 0, None),
        between("n_deliveries", 0, None),
        # a study's subjects are those of dim_subjects
        *(between("n_subjects", len(s.enrolled), len(s.enrolled), where=Column("study_id") == s.study_id)
          for s in cohort.studies),
    ]


def dim_subjects(cohort: Cohort) -> list[Expectation]:
    return [
        columns("study_id", "subject_id", "site_id", "age_years", "sex", "disease", "car_t_product", "infused_on",
                "is_infused", "not_infused_reason"),
        *study_first(),
        *not_null("subject_id", "site_id", "disease", "is_infused"),
        unique("study_id", "subject_id"),
        rows_between(1),
        between("age_years", *AGE_RANGE),  # the subjects contract (schemas.clinical.Subjects)
        one_of("sex", SEXES),
        one_of("disease", cohort.diseases),
        one_of("car_t_product", cohort.products),
        one_of("is_infused", (True, False)),
        not_null_in_calendar_studies("infused_on", cohort, where="is_infused"),
        *relative_time_has_no_clock(cohort, "infused_on"),
        gxe.ExpectColumnValuesToNotBeNull(column="car_t_product", row_condition=Column("is_infused") == True,  # noqa: E712
                                          meta={"kind": "not_null"}),
    ]


def fct_toxicity_daily(cohort: Cohort) -> list[Expectation]:
    first, last = daily_grid()
    return [
        columns("study_id", "subject_id", "study_day", "crs_grade", "icans_grade", "crs_grade_derived",
                "icans_grade_derived", "tmax_c", "min_systolic_bp_mmhg", "vasopressor_count", "o2_device_worst",
                "ice_score_min", "tocilizumab_doses", "steroid_dex_equiv_mg", "anakinra_doses"),
        *study_first(),
        *not_null("subject_id", "study_day", "tocilizumab_doses", "steroid_dex_equiv_mg", "anakinra_doses"),
        unique("study_id", "subject_id", "study_day"),
        # every day of the grid for every infused subject of every study, no one else
        rows(cohort.n_infused * (last - first + 1)),
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
        columns("study_id", "subject_id", "car_t_product", "disease", "crs_max_grade", "crs_onset_day",
                "crs_duration_days", "icans_max_grade", "icans_onset_day", "icans_duration_days",
                "crs_max_grade_derived", "icans_max_grade_derived", "received_tocilizumab", "received_steroids",
                "steroid_dex_equiv_mg_total", "anakinra_doses_total", "best_response_d100", "os_days", "os_event",
                "pfs_days", "pfs_event", "iec_hs_present"),
        *study_first(),
        *not_null("subject_id", "car_t_product", "disease", "received_tocilizumab", "received_steroids",
                  "steroid_dex_equiv_mg_total", "anakinra_doses_total", "best_response_d100"),
        unique("study_id", "subject_id"),
        rows(cohort.n_infused),  # one row per infused subject of every study
        infused_subjects_only(),
        one_of("car_t_product", cohort.products),
        one_of("disease", cohort.diseases),
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
        one_of("iec_hs_present", (True, False)),  # null: the study has no IEC-HS data
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
    cytokines = cohort.cytokines
    return [
        columns("study_id", "subject_id", "specimen", "analyte", "collected_at", "study_day", "value", "unit",
                "censoring", "analysis_value", "substitution_rule", "baseline_value", "fold_change",
                "delivery_sha256"),
        *study_first(),
        *not_null("subject_id", "specimen", "analyte", "value", "unit", "censoring", "analysis_value",
                  "substitution_rule", "delivery_sha256"),
        # a reading delivered as a date alone (SDTM --DTC without a time) has its day, no instant
        not_null_in_calendar_studies("collected_at", cohort, where="local_date is null"),
        *relative_time_has_no_clock(cohort, "collected_at"),
        unique("study_id", "measurement_id"),
        rows_between(1),
        one_of("specimen", SPECIMENS),
        one_of("analyte", (*cytokines, *lab_analytes("serum")), where=serum),
        one_of("analyte", (*cytokines, *lab_analytes("csf")), where=csf),
        # the harmonized unit of every analyte
        one_of("unit", [cytokine_unit()], where=Column("analyte").is_in(cytokines)),
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
        columns("study_id", "subject_id", "specimen", "analyte", "baseline_value", "peak_value", "peak_day",
                "auc_d0_d14", "peak_fold_change", "n_samples", "n_censored"),
        *study_first(),
        *not_null("subject_id", "specimen", "analyte", "n_samples", "n_censored"),
        unique("study_id", "subject_id", "specimen", "analyte"),
        rows_between(0, cohort.n_infused * len(SPECIMENS) * len({*cohort.cytokines, *all_analytes()})),
        infused_subjects_only(),  # subjects not infused have no study day, no row
        one_of("specimen", SPECIMENS),
        # days 0..28 by whole day: a relative-time study's peak may be at 28.75
        gxe.ExpectColumnValuesToBeBetween(column="peak_day", min_value=0, max_value=29, strict_max=True,
                                          meta={"kind": "range"}),
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
        columns("study_id", "subject_id", "study_day", "toxicity", "adjudicated_grade", "derived_grade"),
        *study_first(),
        *not_null("subject_id", "study_day", "toxicity", "adjudicated_grade", "derived_grade"),
        unique("study_id", "subject_id", "study_day", "toxicity"),
        rows_between(0, cohort.n_infused * (last - first + 1) * len(TOXICITIES)),
        infused_subjects_only(),
        between("study_day", first, last),
        one_of("toxicity", TOXICITIES),
        between("adjudicated_grade", *GRADES),
        between("derived_grade", *GRADES),
        # a row exists only where the two grades differ
        pairs_in("adjudicated_grade", "derived_grade", [(a, d) for a in grades for d in grades if a != d]),
    ]


def agg_toxicity_rates(cohort: Cohort) -> list[Expectation]:
    sets = [(s.study_id, tox, criteria, category) for s in cohort.with_infused
            for tox, criteria, categories in s.toxicity_sets for category in categories]
    return [
        columns("study_id", "toxicity", "criteria", "group_by", "group_value", "grade_category", "n_subjects",
                "n_total", "pct", "ci_low_pct", "ci_high_pct"),
        *study_first(),
        *not_null("toxicity", "criteria", "group_by", "group_value", "grade_category"),
        unique("study_id", "toxicity", "criteria", "group_by", "group_value", "grade_category"),
        # per study: every category of every toxicity and criteria it reports (IEC-HS: `any`) for
        # every group value among its infused subjects, n_subjects 0 where none
        rows(sum(len(categories) * len(s.rate_groups) for s in cohort.with_infused
                 for *_, categories in s.toxicity_sets)),
        one_of("toxicity", SUMMARY_TOXICITIES),
        one_of("criteria", TOXICITY_CRITERIA),
        one_of("group_by", RATE_GROUP_BYS),
        one_of("grade_category", GRADE_CATEGORIES),
        rows_in(("study_id", "group_by", "group_value"), cohort.rate_groups),
        rows_in(("study_id", "toxicity", "criteria", "grade_category"), sets),
        *rate_columns(),
    ]


def agg_response_rates(cohort: Cohort) -> list[Expectation]:
    measures = [(s.study_id, m) for s in cohort.with_infused for m in s.measures]
    return [
        columns("study_id", "measure", "group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct",
                "ci_high_pct"),
        *study_first(),
        *not_null("measure", "group_by", "group_value"),
        unique("study_id", "measure", "group_by", "group_value"),
        rows(sum(len(s.measures) * len(s.rate_groups) for s in cohort.with_infused)),
        one_of("measure", (*MEASURES, *MRD_MEASURES)),
        one_of("group_by", RATE_GROUP_BYS),
        rows_in(("study_id", "group_by", "group_value"), cohort.rate_groups),
        rows_in(("study_id", "measure"), measures),
        *rate_columns(),
    ]


def agg_consort(cohort: Cohort) -> list[Expectation]:
    expectations = [
        columns("study_id", "step_order", "step", "n_subjects"),
        *study_first(),
        *not_null("step_order", "step", "n_subjects"),
        unique("study_id", "step_order"),
        unique("study_id", "step"),
        rows(len(CONSORT_STEPS) * len(cohort.with_subjects)),  # every study with subjects
        between("n_subjects", 0, max((len(s.enrolled) for s in cohort.studies), default=0)),
        pairs_in("step_order", "step", enumerate(CONSORT_STEPS, start=1)),
    ]
    for study in cohort.with_subjects:
        # the flow's counts agree with dim_subjects, study by study
        n_enrolled, n_infused = len(study.enrolled), len(study.infused)
        counts = {"enrolled": n_enrolled, "infused": n_infused, "not_infused": n_enrolled - n_infused,
                  "evaluable_toxicity": n_infused}
        mine = Column("study_id") == study.study_id
        expectations += [between("n_subjects", n, n, where=mine & (Column("step") == step)) for step, n in counts.items()]
        expectations.append(between("n_subjects", 0, n_infused, where=mine & (Column("step") == "evaluable_response")))
    return expectations


# ---- analysis (Python statistics) -----------------------------------------------------------

def km_curves(cohort: Cohort) -> list[Expectation]:
    return [
        columns("study_id", "endpoint", "group_by", "group_value", "time_days", "n_at_risk", "n_events",
                "n_censored", "survival", "ci_low", "ci_high"),
        *study_first(),
        *not_null("endpoint", "group_by", "group_value", "time_days", "n_at_risk", "n_events", "n_censored",
                  "survival"),
        unique("study_id", "endpoint", "group_by", "group_value", "time_days"),
        # a curve has at most one row per subject; overall and by disease each cover every subject once
        rows_between(0, len(ENDPOINTS) * len(KM_GROUP_BYS) * cohort.n_infused),
        one_of("endpoint", ENDPOINTS),
        one_of("group_by", KM_GROUP_BYS),
        rows_in(("study_id", "group_by", "group_value"), cohort.km_groups),
        between("time_days", 0, None),
        between("n_at_risk", 0, cohort.max_infused),
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
        columns("study_id", "endpoint", "group_by", "group_value", "n_subjects", "n_events", "median_days",
                "median_ci_low_days", "median_ci_high_days", "survival_12mo"),
        *study_first(),
        *not_null("endpoint", "group_by", "group_value", "n_subjects", "n_events"),
        unique("study_id", "endpoint", "group_by", "group_value"),
        rows(len(ENDPOINTS) * len(cohort.km_groups)),
        one_of("endpoint", ENDPOINTS),
        one_of("group_by", KM_GROUP_BYS),
        rows_in(("study_id", "group_by", "group_value"), cohort.km_groups),
        between("n_subjects", 0, cohort.max_infused),
        between("n_events", 0, None),
        at_most("n_events", "n_subjects"),
        between("median_days", 0, None),
        at_most("median_ci_low_days", "median_days"),
        at_most("median_days", "median_ci_high_days"),
        between("survival_12mo", 0, 1),
    ]


def cytokine_curves(cohort: Cohort) -> list[Expectation]:
    return [
        columns("study_id", "specimen", "analyte", "group_by", "group", "study_day", "n_obs", "fit_log10",
                "ci_low_log10", "ci_high_log10"),
        *study_first(),
        *not_null("specimen", "analyte", "group_by", "group", "n_obs"),
        unique("study_id", "specimen", "analyte", "group", "study_day"),
        # no lower bound: a study without cytokine measurements (the CDISC SDTM package has none) has
        # no curve; a group too small to fit still has its row (status too_small)
        one_of("specimen", SPECIMENS),
        # each study by its own grouping (dim_studies.kinetics_group_by) into its groups
        rows_in(("study_id", "group_by"), [(s.study_id, s.kinetics_group_by) for s in cohort.studies]),
        rows_in(("study_id", "group"), [(s.study_id, g) for s in cohort.studies for g in s.curve_groups]),
        between("n_obs", 0, None),
        at_most("ci_low_log10", "fit_log10"),
        at_most("fit_log10", "ci_high_log10"),
    ]


def csf_pre_post(cohort: Cohort) -> list[Expectation]:
    measures = (*cohort.cytokines, *lab_analytes("csf"))
    return [
        columns("study_id", "analyte", "n_pre", "n_post", "n_paired", "median_pre", "q1_pre", "q3_pre",
                "median_post", "q1_post", "q3_post", "p_value", "test"),
        *study_first(),
        *not_null("analyte", "n_pre", "n_post", "n_paired"),
        unique("study_id", "analyte"),
        rows_between(0, len(measures) * len(cohort.studies)),  # at most one row per CSF analyte and study
        one_of("analyte", measures),
        between("n_pre", 0, cohort.max_infused),
        between("n_post", 0, cohort.max_infused),
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
