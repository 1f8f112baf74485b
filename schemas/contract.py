"""The delivery sources: model, natural key and domain of each (sources.md, studies-and-inputs.md).

This registry is what the ingest asset factory iterates over; everything about a source that
the pipeline needs (columns, their kinds, which are required in a delivery's header, the natural
key used for corrections and duplicates) is derived from here and the pandera model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import pandera.pandas as pa

from schemas import clinical, csf, serum
from schemas.analytes import CYTOKINE_CODES
from schemas.clinical import STUDY_DAY_RANGE

# Relative time (studies-and-inputs.md): a relative-time study's deliveries give a study day where
# a calendar study's give a date, and its subjects give `infused` instead of enrolled_on/infused_on.
# Mixing the two is quarantined per row with one of these rules.
DATE_IN_RELATIVE_STUDY = "date_in_relative_study"
DAY_IN_CALENDAR_STUDY = "study_day_in_calendar_study"


@dataclass(frozen=True)
class Source:
    name: str
    domain: str  # clinical | serum | csf: the ingest asset group
    model: type[pa.DataFrameModel]
    natural_key: tuple[str, ...]
    has_analyte: bool = False
    # The column dating each row's event; rows dated before the subject's enrollment are
    # quarantined at ingest (`before_enrollment`). None: no such rule for this source.
    event_column: str | None = None
    # Date or datetime column -> the study-day column a relative-time study gives instead.
    # The event column's counterpart is `study_day`. A date column without one (subjects'
    # enrolled_on, infused_on) is simply absent in relative time.
    day_columns: dict[str, str | None] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.name)

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        """The calendar-time schema with the study-day columns (optional, nullable) added."""
        schema = self.model.to_schema()
        added = {
            day: pa.Column(float, checks=[pa.Check.ge(STUDY_DAY_RANGE[0]), pa.Check.le(STUDY_DAY_RANGE[1])],
                           nullable=True, required=False, coerce=True)
            for day in self.day_columns.values() if day and day not in schema.columns
        }
        return schema.add_columns(added) if added else schema

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The natural key as compared: the contract's, plus the study day of a dated key column
        (one of the pair is empty in any one study)."""
        days = [self.day_columns[c] for c in self.natural_key if self.day_columns.get(c)]
        return (*self.natural_key, *days)

    @property
    def raw_key(self) -> list[str]:
        """The natural key of the raw table, as dbt picks the current version of a row (the var
        natural_keys) and `warehouse explain` finds a row's superseded versions: the study, the
        key columns, an SDTM record's --SEQ (`_seq`, null for every other delivery)."""
        return ["_study_id", *self.key_columns, "_seq"]

    def schema_for(self, time_mode: str = "calendar", diseases: tuple[str, ...] = (),
                   products: tuple[str, ...] = (), analytes: tuple[str, ...] = (),
                   day_precision: bool = False) -> pa.DataFrameSchema:
        """The schema a study's deliveries are validated by: its time mode and its declared
        vocabularies (study.yml). `day_precision`: a datetime may be a date alone, a reading of
        that day with its time unknown (SDTM --DTC, studies-and-inputs.md). Cached: one per
        distinct study setting."""
        return _schema_for(self, time_mode, tuple(diseases), tuple(products), tuple(analytes), day_precision)

    @property
    def columns(self) -> list[str]:
        """Contract columns in the contract's order."""
        return list(self.schema.columns)

    @property
    def required_columns(self) -> list[str]:
        """Columns a delivery's header must have (the others may be absent: filled with null)."""
        return [name for name, col in self.schema.columns.items() if col.required]

    def raw_type(self, column: str) -> str:
        """DuckDB type of a column in the raw table.

        Dates (`*_on`) become DATE; datetimes (`*_at`) stay the delivered ISO text so staging
        can read the site's local calendar date before converting to UTC (sources.md, Study time).
        """
        if column.endswith("_on"):
            return "DATE"
        dtype = str(self.schema.columns[column].dtype)
        if dtype.startswith("float"):
            return "DOUBLE"
        if dtype.lower().startswith("int"):
            return "BIGINT"
        return "VARCHAR"


def _event(column: str) -> dict:
    return {"event_column": column, "day_columns": {column: "study_day"}}


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("subjects", "clinical", clinical.Subjects, ("subject_id",),
               day_columns={"enrolled_on": None, "infused_on": None}),
        Source("vitals", "clinical", clinical.Vitals, ("subject_id", "recorded_at"), **_event("recorded_at")),
        Source("neuro_assessments", "clinical", clinical.NeuroAssessments, ("subject_id", "assessed_at"), **_event("assessed_at")),
        Source("toxicity_assessments", "clinical", clinical.ToxicityAssessments, ("subject_id", "assessed_on"), **_event("assessed_on")),
        Source("toxicity_summaries", "clinical", clinical.ToxicitySummaries, ("subject_id", "toxicity", "criteria")),
        Source("medications", "clinical", clinical.Medications, ("subject_id", "drug", "administered_at"), **_event("administered_at")),
        Source("response_assessments", "clinical", clinical.ResponseAssessments, ("subject_id", "assessed_on"), **_event("assessed_on")),
        Source("outcomes", "clinical", clinical.Outcomes, ("subject_id",),
               day_columns={"progressed_on": "progressed_day", "died_on": "died_day",
                            "last_known_alive_on": "last_known_alive_day"}),
        Source("subject_attributes", "clinical", clinical.SubjectAttributes, ("subject_id", "attribute")),
        Source("samples", "clinical", clinical.Samples, ("sample_label",), **_event("collected_at")),
        Source("serum_cytokines", "serum", serum.SerumCytokines, ("sample_id", "analyte"), has_analyte=True, **_event("collected_at")),
        Source("serum_labs", "serum", serum.SerumLabs, ("subject_id", "collected_at", "test"), **_event("collected_at")),
        Source("csf_samples", "csf", csf.CsfSamples, ("sample_id",), **_event("collected_at")),
        Source("csf_cytokines", "csf", csf.CsfCytokines, ("sample_id", "analyte"), has_analyte=True, **_event("collected_at")),
    )
}


def _absent(rule: str) -> pa.Check:
    """A cell that must be empty in this study's time mode: quarantined with `rule`."""
    return pa.Check(lambda series: series.isna(), name=rule, error=rule)


@lru_cache(maxsize=64)
def _schema_for(source: Source, time_mode: str, diseases: tuple[str, ...], products: tuple[str, ...],
                analytes: tuple[str, ...], day_precision: bool = False) -> pa.DataFrameSchema:
    schema = source.schema
    updates: dict[str, dict] = {}
    if day_precision and time_mode != "relative":
        for name, column in schema.columns.items():
            if any(getattr(c, "name", None) == "iso_datetime" for c in column.checks):
                checks = [pa.Check.iso_datetime_or_date() if getattr(c, "name", None) == "iso_datetime" else c
                          for c in column.checks]
                updates[name] = {"checks": checks}
    if time_mode == "relative":
        for date_column, day_column in source.day_columns.items():
            updates[date_column] = {"checks": [_absent(DATE_IN_RELATIVE_STUDY)], "nullable": True, "required": False}
            if day_column == "study_day" or day_column == "last_known_alive_day":
                updates[day_column] = {"nullable": False, "required": True}
        if source.name == "subjects":
            updates["infused"] = {"nullable": False, "required": True}
    else:
        for day_column in source.day_columns.values():
            if day_column:
                updates[day_column] = {"checks": [_absent(DAY_IN_CALENDAR_STUDY)]}
    vocabularies = {"disease": (clinical.DISEASES, diseases), "car_t_product": (clinical.CAR_T_PRODUCTS, products),
                    "analyte": (CYTOKINE_CODES, analytes)}
    for column, (contract, declared) in vocabularies.items():
        if column in schema.columns and declared:
            updates[column] = {"checks": [pa.Check.isin([*contract, *declared])]}
    return schema.update_columns(updates) if updates else schema

IDENTIFYING_COLUMNS = clinical.IDENTIFYING_COLUMNS
