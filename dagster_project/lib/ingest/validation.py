"""Validate a delivery's text cells against its source's pandera model, lazily.

Two passes, because a cell that cannot be converted to its type makes pandera's range checks
on that column meaningless: first only types (rule e.g. `coerce_dtype('float64')`), then every
check of the model on the rows whose types were right. Every failure becomes a quarantine row
naming the row, the column, the rule and the offending value; the other rows go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
from pandera.errors import SchemaErrors

from dagster_project.lib.ingest.reader import TEXT
from schemas.analytes import normalize_analyte
from schemas.contract import Source

QUARANTINE_COLUMNS = ["row_number", "column_name", "rule", "value"]


@dataclass
class Validated:
    accepted: pd.DataFrame  # typed contract columns + _extra + _row_number (+ _analyte_as_delivered)
    quarantine: pd.DataFrame  # QUARANTINE_COLUMNS


def _types_only(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The same columns and types with no checks and every column nullable: a parse step."""
    relaxed = schema.update_columns({name: {"checks": [], "nullable": True} for name in schema.columns})
    return pa.DataFrameSchema(columns=relaxed.columns, checks=[], coerce=True, strict=False)


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Pandera's failure cases as (index, column, rule, value); empty when all rows pass."""
    return _validated(schema, frame)[1]


def _validated(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """(pandera's output frame, or None when a row failed; the failure cases as in `_failures`)."""
    try:
        out = schema.validate(frame, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        return None, pd.DataFrame(
            {
                "index": cases["index"].astype("int64").to_numpy(),
                "column_name": cases["column"].where(cases["schema_context"] == "Column", None).to_numpy(),
                "rule": cases["check"].astype(str).to_numpy(),
                "value": cases["failure_case"].map(_as_text).to_numpy(),
            }
        )
    return out, pd.DataFrame(columns=["index", "column_name", "rule", "value"])


def _non_finite(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Float cells written as `nan`, `inf`, `1e400`...: a type error, like any other text.

    pandera's coercion turns them into NaN (which would pass as missing: only empty and `NA` mean
    missing, sources.md) or infinity (which passes an open range such as `>= 0`).
    """
    rows = []
    for name, column in schema.columns.items():
        if not str(column.dtype).startswith("float"):
            continue
        # Only text with n/i (nan, inf), an exponent or 309+ characters can be a non-finite float:
        # Python's float() decides for those few cells.
        cells = pyarrow.array(frame[name].astype(TEXT))
        maybe = pc.or_(pc.match_substring_regex(cells, "[nNiIeE]"), pc.greater_equal(pc.utf8_length(cells), 309))
        candidates = np.flatnonzero(pc.fill_null(maybe, False).to_numpy(zero_copy_only=False))
        for index, text in frame[name].iloc[candidates].items():
            try:
                number = float(text)
            except (TypeError, ValueError):
                continue  # not a number at all: pandera reports it
            if not math.isfinite(number):
                rows.append((index, name, f"coerce_dtype('{column.dtype}')", text))
    return pd.DataFrame(rows, columns=["index", "column_name", "rule", "value"])


def _as_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _whole_row_value(frame: pd.DataFrame, index: int, columns: list[str]) -> str:
    row = frame.loc[index, columns]
    return ", ".join(f"{c}={row[c]}" for c in columns if not pd.isna(row[c]))


def _normalized_analytes(analytes: pd.Series, synonyms: dict[str, str] | None = None) -> pd.Series:
    """Contract codes for lab spellings (normalize_analyte, once per distinct spelling, with the
    study's declared spellings); an unmapped spelling stays as delivered."""
    codes, spellings = pd.factorize(analytes, use_na_sentinel=True)
    mapped = [normalize_analyte(a, synonyms) for a in np.asarray(spellings, dtype=object)]
    values = [a if m is None else m for a, m in zip(np.asarray(spellings, dtype=object), mapped)]
    distinct = pd.array([*values, pd.NA], dtype=analytes.dtype)
    return pd.Series(distinct.take(codes), index=analytes.index)  # code -1 (missing) -> the last


def _as_parsed_text(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """The columns pandera converts to numbers as Python strings (pandas "string"), the input its
    coercion has always had: Arrow's integer parsing differs (it reads `0x10`, refuses ` 7 `)."""
    numeric = [n for n, c in schema.columns.items() if not str(c.dtype).startswith("string")]
    return frame.astype({n: pd.StringDtype("python") for n in numeric if n in frame})


def validate(frame: pd.DataFrame, source: Source, schema: pa.DataFrameSchema | None = None,
             analyte_synonyms: dict[str, str] | None = None) -> Validated:
    """`schema`: the study's (Source.schema_for), default the calendar-time contract's;
    `analyte_synonyms`: the study's declared spellings (StudyConfig.analyte_synonyms)."""
    frame = frame.copy()
    if source.has_analyte:
        # Map lab spellings onto contract codes before validation; an unmapped spelling stays as
        # delivered so that the `isin` check quarantines it with the value the lab wrote.
        frame["_analyte_as_delivered"] = frame["analyte"]
        frame["analyte"] = _normalized_analytes(frame["analyte"], analyte_synonyms)
    schema = source.schema if schema is None else schema
    contract = source.columns

    text = _as_parsed_text(frame[contract], schema)
    parsed, typing_failures = _validated(_types_only(schema), text)
    typing_failures = typing_failures[typing_failures["rule"].str.startswith("coerce_dtype")]
    non_finite = _non_finite(frame, schema)
    if len(non_finite):
        typing_failures = pd.concat([typing_failures, non_finite], ignore_index=True)
    if len(typing_failures) or parsed is None:
        typed = _types_only(schema).validate(text.drop(index=typing_failures["index"].unique()))
    else:
        typed = parsed  # every row parsed: the same frame a second pass would return

    rule_failures = _failures(schema, typed)
    failures = pd.concat([typing_failures, rule_failures], ignore_index=True)
    # Report what the delivery wrote, not pandera's converted value (55 rather than 55.0).
    column_level = failures["column_name"].notna()
    failures.loc[column_level, "value"] = [
        _as_text(frame.at[i, c]) for i, c in zip(failures.loc[column_level, "index"], failures.loc[column_level, "column_name"])
    ]
    # A frame-level check names no column: the value is the row's key columns, to find it by.
    frame_level = failures["column_name"].isna()
    if frame_level.any():
        key_cols = list(source.key_columns)
        failures.loc[frame_level, "value"] = [
            _whole_row_value(frame, i, key_cols) for i in failures.loc[frame_level, "index"]
        ]
    failures = failures.drop_duplicates(["index", "column_name", "rule"])
    accepted = typed.drop(index=typed.index[typed.index.isin(failures["index"].unique())])
    for meta in ("_extra", "_row_number", "_analyte_as_delivered", "_seq"):
        if meta in frame:
            accepted[meta] = frame.loc[accepted.index, meta]
    quarantine = failures.assign(row_number=frame.loc[failures["index"], "_row_number"].to_numpy())
    return Validated(accepted=accepted, quarantine=quarantine[QUARANTINE_COLUMNS])
