"""The edges of the analysis tables (issue 17), built by the analysis code from the same rows it
computes a number from, and stored beside the tables in `audit.analysis_lineage`.

An edge has the columns of `audit.lineage` (schemas/lineage.py EDGE_COLUMNS): a value of a row
(target_table, target_key, target_column) to what decided it, either a row of another lineage
table (upstream_table, upstream_key, upstream_column: a subject's survival time in
marts.fct_subject_endpoints) or a delivered row (source, delivery_sha256, file_name, row_number,
record_seq, study_day: a CSF sample as marts.fct_biomarker_results names it). `warehouse explain`
reads both tables. Keys are `schemas.lineage.key_text`, the same text dbt's `key_sql` gives.

Pure pandas; `lib/warehouse.replace_tables(..., lineage=...)` writes them in the transaction
that writes the tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from schemas.lineage import EDGE_COLUMNS, key_text

__all__ = ["DELIVERED_COLUMNS", "edge_frame", "edges_to_rows", "edges_to_targets", "empty_edges"]

# The columns by which a row-grain mart names its delivered row (marts.fct_biomarker_results).
DELIVERED_COLUMNS = ("source", "delivery_sha256", "file_name", "row_number", "record_seq")

_PANDAS_TYPES = {"varchar": "string", "bigint": "Int64", "double": "float64"}


def empty_edges() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_PANDAS_TYPES[t]) for c, t in EDGE_COLUMNS.items()})


def edge_frame(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The edges of `parts` as one frame: EDGE_COLUMNS in order, typed."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_edges()
    frame = pd.concat(parts, ignore_index=True)
    for column in EDGE_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[list(EDGE_COLUMNS)].astype({c: _PANDAS_TYPES[t] for c, t in EDGE_COLUMNS.items()})


def edges_to_rows(study_id: str, target_table: str, key: dict, columns: Sequence[str],
                  rows: pd.DataFrame, study_day: str = "study_day") -> pd.DataFrame:
    """An edge from each of `columns` of the target row (`key`: its key columns' values) to each
    delivered row of `rows` (frame with DELIVERED_COLUMNS and `study_day`)."""
    if not len(rows) or not columns:
        return empty_edges()
    delivered = pd.DataFrame({
        "source": rows["source"].to_numpy(dtype=object),
        "delivery_sha256": rows["delivery_sha256"].to_numpy(dtype=object),
        "file_name": rows["file_name"].to_numpy(dtype=object),
        "row_number": rows["row_number"].to_numpy(dtype=object),
        "record_seq": rows["record_seq"].astype("string").to_numpy(dtype=object)
        if "record_seq" in rows.columns else None,
        "study_day": pd.to_numeric(rows[study_day], errors="coerce").to_numpy(dtype=float),
    })
    delivered["upstream_table"] = "raw." + delivered["source"].astype(str)
    target = key_text(target_table, key)
    return pd.concat([delivered.assign(study_id=study_id, target_table=target_table, target_key=target,
                                       target_column=column) for column in columns], ignore_index=True)


def edges_to_targets(study_id: str, target_table: str, key: dict, columns: Sequence[str],
                     upstream_table: str, upstream_keys: Iterable[dict], upstream_column: str) -> pd.DataFrame:
    """An edge from each of `columns` of the target row to `upstream_column` of each upstream row
    (`upstream_keys`: each row's key columns' values) of `upstream_table`."""
    upstream = [key_text(upstream_table, k) for k in upstream_keys]
    if not upstream or not columns:
        return empty_edges()
    target = key_text(target_table, key)
    return pd.DataFrame([
        {"study_id": study_id, "target_table": target_table, "target_key": target, "target_column": column,
         "upstream_table": upstream_table, "upstream_key": k, "upstream_column": upstream_column}
        for column in columns for k in upstream
    ])
