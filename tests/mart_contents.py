"""The contents of every table of the `marts` and `analysis` schemas (and, for ingest checks,
`raw`), in a canonical form, to compare two warehouses or serving copies.

Per table: its columns by name, rows sorted by every column (so row order does not matter).
Two snapshots are equal when they have the same tables, columns and rows, where text, integer,
date and boolean values are equal exactly and floating-point values to within 1e-9 relative
(1e-12 absolute). The tolerance is needed and enough: the analysis assets read the marts
without an order, so a LOESS sum adds the same numbers in another order from one run to the
next and its last bits differ (~1e-14; a standard error of 0 comes out as +-1e-15). A
content hash over rounded floats would flip on such noise near a rounding boundary.

Columns whose values legitimately change from one run to the next are left out wherever they
occur (VOLATILE_COLUMNS).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

# When a row was loaded or quarantined, when and by which run the serving copy was published.
VOLATILE_COLUMNS = frozenset({"loaded_at", "_loaded_at", "quarantined_at", "published_at", "run_id", "read_at"})
MART_SCHEMAS = ("marts", "analysis")
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")
RTOL, ATOL = 1e-9, 1e-12


def snapshot(db: Path | str, schemas: tuple[str, ...] = MART_SCHEMAS) -> dict[str, pd.DataFrame]:
    """{"schema.table": its rows, canonical} for every table and view of `schemas`."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            """select schema_name, table_name from duckdb_tables() where schema_name in ?
               union all
               select schema_name, view_name from duckdb_views() where schema_name in ? and not internal
               order by 1, 2""",
            [list(schemas), list(schemas)],
        ).fetchall()
        for schema, table in tables:
            columns = con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ?"
                " order by column_name",
                [schema, table],
            ).fetchall()
            kept = [(name, dtype.upper() in FLOAT_TYPES) for name, dtype in columns
                    if name.lower() not in VOLATILE_COLUMNS]
            select = ", ".join(
                f'cast("{name}" as double) as "{name}"' if is_float else f'cast("{name}" as varchar) as "{name}"'
                for name, is_float in kept
            )
            # Exact columns first, so that float noise cannot change the order of distinct rows.
            order = ", ".join(f'"{name}"' for name, is_float in sorted(kept, key=lambda c: c[1]))
            frame = con.execute(f'select {select} from "{schema}"."{table}" order by {order}').df()
            out[f"{schema}.{table}"] = frame.reset_index(drop=True)
    return out


def mart_snapshot(db: Path | str) -> dict[str, pd.DataFrame]:
    """Every marts and analysis table (works on the warehouse file or the serving copy)."""
    return snapshot(db, MART_SCHEMAS)


def raw_snapshot(db: Path | str) -> dict[str, pd.DataFrame]:
    """The ingest tables (raw.*) without load times: what ingest committed."""
    return snapshot(db, ("raw",))


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for column in a.columns:
        x, y = a[column], b[column]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            if not np.allclose(x.to_numpy(), y.to_numpy(), rtol=RTOL, atol=ATOL, equal_nan=True):
                return False
        elif not x.fillna("<null>").astype(str).equals(y.fillna("<null>").astype(str)):
            return False
    return True


def differences(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> list[str]:
    """Tables missing on one side or with different contents (empty: the snapshots are equal)."""
    return sorted(k for k in set(a) | set(b) if k not in a or k not in b or not _same(a[k], b[k]))
