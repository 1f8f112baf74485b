"""Serum sources (sources.md, "Serum sources" and "Cytokine analytes and results")."""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import checks  # noqa: F401  (registers the custom checks)
from schemas.analytes import CYTOKINE_CODES
from schemas.clinical import SUBJECT_ID_PATTERN

CYTOKINE_UNITS = ("pg/mL", "ng/mL")

# Allowed delivery units per serum lab test (sources.md, serum_labs).
LAB_UNITS: dict[str, tuple[str, ...]] = {
    "CRP": ("mg/L", "mg/dL"),
    "FERRITIN": ("ng/mL", "ug/L"),
    "ANC": ("10^9/L", "10^3/uL", "/uL"),
    "PLT": ("10^9/L", "10^3/uL", "/uL"),
    "WBC": ("10^9/L", "10^3/uL", "/uL"),
    "LDH": ("U/L",),
    "FIBRINOGEN": ("mg/dL", "g/L"),
    "DDIMER": ("ug/mL FEU", "ng/mL FEU"),
}


class CytokineResults(pa.DataFrameModel):
    """A cytokine result row; shared by `serum_cytokines` and `csf_cytokines` (same columns)."""

    sample_id: Series[str]
    subject_id: Series[str] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    collected_at: Series[str] = pa.Field(iso_datetime=(), not_in_future=())
    analyte: Series[str] = pa.Field(isin=list(CYTOKINE_CODES))
    result: Series[str] = pa.Field(assay_result=())
    unit: Series[str] = pa.Field(isin=list(CYTOKINE_UNITS))
    lloq: Optional[Series[float]] = pa.Field(ge=0, nullable=True)
    uloq: Optional[Series[float]] = pa.Field(ge=0, nullable=True)
    plate_id: Series[str] = pa.Field(nullable=True)
    assay: Series[str] = pa.Field(nullable=True)

    @pa.dataframe_check(name="oor_below_needs_lloq")
    def oor_below_needs_lloq(cls, df: pd.DataFrame) -> pd.Series:
        bare = df["result"].astype("string").str.fullmatch(r"\s*OOR\s*<\s*", case=False)
        lloq = df["lloq"] if "lloq" in df else pd.Series(pd.NA, index=df.index)
        return ~(bare.fillna(False).astype(bool) & lloq.isna())

    @pa.dataframe_check(name="oor_above_needs_uloq")
    def oor_above_needs_uloq(cls, df: pd.DataFrame) -> pd.Series:
        bare = df["result"].astype("string").str.fullmatch(r"\s*OOR\s*>\s*", case=False)
        uloq = df["uloq"] if "uloq" in df else pd.Series(pd.NA, index=df.index)
        return ~(bare.fillna(False).astype(bool) & uloq.isna())

    class Config:
        strict = False
        coerce = True


class SerumCytokines(CytokineResults):
    pass


class SerumLabs(pa.DataFrameModel):
    subject_id: Series[str] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    collected_at: Series[str] = pa.Field(iso_datetime=(), not_in_future=())
    test: Series[str] = pa.Field(isin=list(LAB_UNITS))
    value: Series[float] = pa.Field(ge=0)
    unit: Series[str]

    @pa.dataframe_check(name="unit_allowed_for_test")
    def unit_allowed_for_test(cls, df: pd.DataFrame) -> pd.Series:
        allowed = df["test"].map(LAB_UNITS)
        return pd.Series(
            [isinstance(a, tuple) and u in a for a, u in zip(allowed, df["unit"])], index=df.index
        )

    class Config:
        strict = False
        coerce = True
