"""CSF sources (sources.md, "CSF sources")."""

from __future__ import annotations

from typing import Optional

import pandera.pandas as pa
from pandera.typing import Series

from schemas import checks  # noqa: F401  (registers the custom checks)
from schemas.dtypes import Text
from schemas.clinical import SUBJECT_ID_PATTERN
from schemas.serum import CytokineResults


class CsfSamples(pa.DataFrameModel):
    sample_id: Series[Text]
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    collected_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    wbc_per_ul: Series[float] = pa.Field(ge=0, nullable=True)
    rbc_per_ul: Optional[Series[float]] = pa.Field(ge=0, nullable=True)
    protein_mg_dl: Series[float] = pa.Field(ge=0, nullable=True)
    glucose_mg_dl: Optional[Series[float]] = pa.Field(ge=0, nullable=True)

    class Config:
        strict = False
        coerce = True


class CsfCytokines(CytokineResults):
    pass
