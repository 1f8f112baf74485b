"""Duplicates inside one delivery (sources.md, "Where files land").

Identical rows count once: each extra copy goes to quarantine with rule `identical_duplicate`.
Rows with the same natural key but different values are all quarantined with rule
`conflicting_duplicate`: the warehouse never guesses which one is right. Keys are compared after
normalization (analyte codes are already mapped; text is compared case-insensitively and a
datetime's `T` separator is the same as a space), on the contract's columns only.
"""

from __future__ import annotations

import pandas as pd

from schemas.contract import Source


def _normalized(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        values = frame[col]
        if values.dtype == object or str(values.dtype) == "string":
            text = values.astype("string").str.strip().str.upper()
            if col.endswith("_at"):
                text = text.str.replace("T", " ", regex=False)
            out[col] = text.fillna("\x00")
        else:
            out[col] = values.astype("string").fillna("\x00")
    return out


def split_duplicates(accepted: pd.DataFrame, source: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (kept rows, quarantine rows with QUARANTINE_COLUMNS)."""
    key = list(source.natural_key)
    norm = _normalized(accepted, source.columns)
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
                "value": [", ".join(f"{c}={r[c]}" for c in key) for _, r in rows[key].iterrows()],
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
