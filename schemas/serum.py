"""Serum sources (sources.md, "Serum sources" and "Cytokine analytes and results")."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import checks  # noqa: F401  (registers the custom checks)
from schemas.checks import per_value
from schemas.dtypes import Text
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


@per_value
def _bare_oor(result: pd.Series, sign: str) -> pd.Series:
    """`OOR <` / `OOR >` with no number: the row's lloq / uloq is the limit."""
    return result.astype("string").str.fullmatch(rf"\s*OOR\s*{sign}\s*", case=False).fillna(False).astype(bool)


class CytokineResults(pa.DataFrameModel):
    """A cytokine result row; shared by `serum_cytokines` and `csf_cytokines` (same columns)."""

    sample_id: Series[Text]
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    collected_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    analyte: Series[Text] = pa.Field(isin=list(CYTOKINE_CODES))
    result: Series[Text] = pa.Field(assay_result=())
    unit: Series[Text] = pa.Field(isin=list(CYTOKINE_UNITS))
    lloq: Optional[Series[float]] = pa.Field(ge=0, nullable=True)
    uloq: Optional[Series[float]] = pa.Field(ge=0, nullable=True)
    plate_id: Series[Text] = pa.Field(nullable=True)
    assay: Series[Text] = pa.Field(nullable=True)

    @pa.dataframe_check(name="oor_below_needs_lloq")
    def oor_below_needs_lloq(cls, df: pd.DataFrame) -> pd.Series:
        bare = _bare_oor(df["result"], "<")
        lloq = df["lloq"] if "lloq" in df else pd.Series(pd.NA, index=df.index)
        return ~(bare & lloq.isna())

    @pa.dataframe_check(name="oor_above_needs_uloq")
    def oor_above_needs_uloq(cls, df: pd.DataFrame) -> pd.Series:
        bare = _bare_oor(df["result"], ">")
        uloq = df["uloq"] if "uloq" in df else pd.Series(pd.NA, index=df.index)
        return ~(bare & uloq.isna())

    class Config:
        strict = False
        coerce = True


class SerumCytokines(CytokineResults):
    pass


class SerumLabs(pa.DataFrameModel):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    collected_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    test: Series[Text] = pa.Field(isin=list(LAB_UNITS))
    value: Series[float] = pa.Field(ge=0)
    unit: Series[Text]

    @pa.dataframe_check(name="unit_allowed_for_test")
    def unit_allowed_for_test(cls, df: pd.DataFrame) -> pd.Series:
        # Once per distinct (test, unit) pair, spread back over the rows. A missing unit is not an
        # allowed one (the rule used to raise on it, which dropped the check for the whole delivery).
        codes, pairs = pd.factorize(pd.MultiIndex.from_arrays([df["test"], df["unit"]]))
        allowed = pd.Series(pairs.get_level_values(0), dtype=object).map(LAB_UNITS)
        answers = [isinstance(a, tuple) and not pd.isna(u) and u in a
                   for a, u in zip(allowed, pairs.get_level_values(1))]
        return pd.Series(np.asarray(answers, dtype=bool)[codes], index=df.index)

    class Config:
        strict = False
        coerce = True
