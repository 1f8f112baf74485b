"""Validate a delivery's text cells against its source's pandera model, lazily.

Two passes, because a cell that cannot be converted to its type makes pandera's range checks
on that column meaningless: first only types (rule e.g. `coerce_dtype('float64')`), then every
check of the model on the rows whose types were right. Every failure becomes a quarantine row
naming the row, the column, the rule and the offending value; the other rows go on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

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
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna()]
        return pd.DataFrame(
            {
                "index": cases["index"].astype("int64").to_numpy(),
                "column_name": cases["column"].where(cases["schema_context"] == "Column", None).to_numpy(),
                "rule": cases["check"].astype(str).to_numpy(),
                "value": cases["failure_case"].map(_as_text).to_numpy(),
            }
        )
    return pd.DataFrame(columns=["index", "column_name", "rule", "value"])


def _non_finite(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """Float cells written as `nan`, `inf`, `1e400`...: a type error, like any other text.

    pandera's coercion turns them into NaN (which would pass as missing: only empty and `NA` mean
    missing, sources.md) or infinity (which passes an open range such as `>= 0`).
    """
    rows = []
    for name, column in schema.columns.items():
        if not str(column.dtype).startswith("float"):
            continue
        for index, text in frame[name].dropna().items():
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


def validate(frame: pd.DataFrame, source: Source) -> Validated:
    frame = frame.copy()
    if source.has_analyte:
        # Map lab spellings onto contract codes before validation; an unmapped spelling stays as
        # delivered so that the `isin` check quarantines it with the value the lab wrote.
        frame["_analyte_as_delivered"] = frame["analyte"]
        mapped = frame["analyte"].map(lambda a: None if pd.isna(a) else normalize_analyte(a))
        frame["analyte"] = mapped.where(mapped.notna(), frame["analyte"]).astype("string")
    schema = source.schema
    contract = source.columns

    typing_failures = _failures(_types_only(schema), frame[contract])
    typing_failures = typing_failures[typing_failures["rule"].str.startswith("coerce_dtype")]
    non_finite = _non_finite(frame, schema)
    if len(non_finite):
        typing_failures = pd.concat([typing_failures, non_finite], ignore_index=True)
    typed_ok = frame.drop(index=typing_failures["index"].unique())
    typed = _types_only(schema).validate(typed_ok[contract])

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
        key_cols = list(source.natural_key)
        failures.loc[frame_level, "value"] = [
            _whole_row_value(frame, i, key_cols) for i in failures.loc[frame_level, "index"]
        ]
    failures = failures.drop_duplicates(["index", "column_name", "rule"])
    bad = set(failures["index"])
    accepted = typed.drop(index=[i for i in typed.index if i in bad])
    for meta in ("_extra", "_row_number", "_analyte_as_delivered"):
        if meta in frame:
            accepted[meta] = frame.loc[accepted.index, meta]
    quarantine = failures.assign(row_number=frame.loc[failures["index"], "_row_number"].to_numpy())
    return Validated(accepted=accepted, quarantine=quarantine[QUARANTINE_COLUMNS])
