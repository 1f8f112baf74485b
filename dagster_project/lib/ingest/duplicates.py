"""Duplicates inside one delivery (sources.md, "Where files land").

Identical rows count once: each extra copy goes to quarantine with rule `identical_duplicate`.
Rows with the same natural key but different values are all quarantined with rule
`conflicting_duplicate`: the warehouse never guesses which one is right. Keys are compared after
normalization (analyte codes are already mapped; text is compared case-insensitively and a
datetime's `T` separator is the same as a space), on the contract's columns only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.contract import Source


def normalized_codes(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One integer per row and column: equal integers <=> equal normalized values.

    The normalized value (text: stripped, upper case, `T` -> space in datetimes; numbers: their
    text; missing: its own value) is computed once per distinct value of the column, then numbered.
    """
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        values = frame[col]
        if _is_text(values) and _all_ascii(values):
            out[col] = _ascii_normalized_codes(values, col)
            continue
        if values.dtype.kind == "f":
            # Distinct by bit pattern, so 0.0 and -0.0 (different texts) stay apart; one NaN.
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            bits = np.where(np.isnan(numbers), np.nan, numbers).view("int64")
            codes, distinct_bits = pd.factorize(bits)
            distinct = pd.Series(np.asarray(distinct_bits, dtype="int64").view("float64"))
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)  # missing -> -1
            distinct = pd.Series(pd.array([*np.asarray(uniques, dtype=object), pd.NA],
                                          dtype=object if _is_text(values) else values.dtype))
        if _is_text(values):
            text = distinct.astype("string").str.strip().str.upper()
            if col.endswith("_at"):
                text = text.str.replace("T", " ", regex=False)
            normalized = text
        else:
            normalized = distinct.astype("string")
        # Missing gets its own number (use_na_sentinel=False). Not a "\x00" stand-in: pandas'
        # string hash table compares NUL-terminated bytes, so "\x00" and "" would be one value.
        cells = normalized.astype(object).where(normalized.notna(), None).to_numpy()
        numbered = pd.factorize(cells, use_na_sentinel=False)[0]
        out[col] = numbered[codes]  # code -1 (missing) -> the last distinct value, the missing one
    return out


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or str(values.dtype) == "string"


# What Python's str.strip() removes from ASCII text (str.isspace): space, \t \n \v \f \r, \x1c-\x1f.
_PYTHON_ASCII_WHITESPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def _arrow_text(values: pd.Series) -> pa.Array:
    array = pa.array(values)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _all_ascii(values: pd.Series) -> bool:
    """Arrow-backed text whose every value is ASCII (then the Arrow kernels below apply)."""
    if str(values.dtype) != "string" or getattr(values.dtype, "storage", None) != "pyarrow":
        return False
    return pc.all(pc.string_is_ascii(_arrow_text(values)), skip_nulls=True).as_py() is not False


def _ascii_normalized_codes(values: pd.Series, col: str) -> np.ndarray:
    """The general path's normalization with Arrow kernels, which for ASCII text are exactly
    Python's strip(), upper() and replace("T", " "); equal codes <=> equal normalized values."""
    text = pc.utf8_trim(_arrow_text(values), characters=_PYTHON_ASCII_WHITESPACE)
    text = pc.ascii_upper(text)
    if col.endswith("_at"):
        text = pc.replace_substring(text, "T", " ")
    text = pc.fill_null(text, "\x00")
    return pc.dictionary_encode(text).indices.to_numpy(zero_copy_only=False)


def split_duplicates(accepted: pd.DataFrame, source: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept rows, quarantine rows with QUARANTINE_COLUMNS)."""
    # A foreign record's --SEQ (SDTM) is part of its key: several readings of one test at one time.
    seq = ["_seq"] if "_seq" in accepted else []
    key = [*source.key_columns, *seq]
    norm = normalized_codes(accepted, [*source.columns, *seq])
    identical = norm.duplicated(keep="first")
    distinct = norm[~identical]
    conflicting_keys = distinct.duplicated(subset=key, keep=False)
    conflict_key_values = distinct.loc[conflicting_keys, key].drop_duplicates()
    in_conflict = norm[key].merge(conflict_key_values, on=key, how="left", indicator=True)["_merge"].eq("both")
    in_conflict.index = norm.index

    def describe(rows: pd.DataFrame, rule: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "row_number": rows["_row_number"].to_numpy(),
                "column_name": None,
                "rule": rule,
                # The key's given columns (a study gives a date or a study day, not both).
                "value": [", ".join(f"{c}={r[c]}" for c in key if not pd.isna(r[c])) for _, r in rows[key].iterrows()],
            }
        )

    quarantine = pd.concat(
        [
            describe(accepted[identical & ~in_conflict], "identical_duplicate"),
            describe(accepted[in_conflict], "conflicting_duplicate"),
        ],
        ignore_index=True,
    )
    kept = accepted[~identical & ~in_conflict]
    return kept, quarantine
