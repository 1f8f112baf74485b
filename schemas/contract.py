"""The eleven delivery sources: model, natural key and domain of each (sources.md).

This registry is what the ingest asset factory iterates over; everything about a source that
the pipeline needs (columns, their kinds, which are required in a delivery's header, the natural
key used for corrections and duplicates) is derived from here and the pandera model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandera.pandas as pa

from schemas import clinical, csf, serum


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

    @cached_property
    def schema(self) -> pa.DataFrameSchema:
        return self.model.to_schema()

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


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("subjects", "clinical", clinical.Subjects, ("subject_id",)),
        Source("vitals", "clinical", clinical.Vitals, ("subject_id", "recorded_at"), event_column="recorded_at"),
        Source("neuro_assessments", "clinical", clinical.NeuroAssessments, ("subject_id", "assessed_at"), event_column="assessed_at"),
        Source("toxicity_assessments", "clinical", clinical.ToxicityAssessments, ("subject_id", "assessed_on"), event_column="assessed_on"),
        Source("medications", "clinical", clinical.Medications, ("subject_id", "drug", "administered_at"), event_column="administered_at"),
        Source("response_assessments", "clinical", clinical.ResponseAssessments, ("subject_id", "assessed_on"), event_column="assessed_on"),
        Source("outcomes", "clinical", clinical.Outcomes, ("subject_id",)),
        Source("serum_cytokines", "serum", serum.SerumCytokines, ("sample_id", "analyte"), has_analyte=True, event_column="collected_at"),
        Source("serum_labs", "serum", serum.SerumLabs, ("subject_id", "collected_at", "test"), event_column="collected_at"),
        Source("csf_samples", "csf", csf.CsfSamples, ("sample_id",), event_column="collected_at"),
        Source("csf_cytokines", "csf", csf.CsfCytokines, ("sample_id", "analyte"), has_analyte=True, event_column="collected_at"),
    )
}

IDENTIFYING_COLUMNS = clinical.IDENTIFYING_COLUMNS
