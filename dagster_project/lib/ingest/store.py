"""The ingest tables in the warehouse file (schema `raw`), written one delivery per transaction.

raw.<source>     accepted rows of every delivery, with the delivery's sha256, file name, row number
                 and times; superseding by later deliveries is resolved in dbt staging, so the
                 superseded rows stay here for the audit trail
raw.quarantine   one row per rejected row x broken rule
raw.deliveries   one row per delivery file seen (loaded, duplicate or rejected)

A delivery's rows, its quarantine rows and its log row are committed together, so a crash
leaves either all of a delivery or none of it, and the next run simply loads it again.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from schemas.contract import Source

DELIVERY_LOG_DDL = """
create table if not exists raw.deliveries (
    delivery_sha256 varchar not null,
    source varchar not null,
    file_name varchar not null,
    received_at timestamp not null,
    size_bytes bigint,
    status varchar not null,
    rows_delivered bigint not null,
    rows_accepted bigint not null,
    rows_quarantined bigint not null,
    message varchar,
    loaded_at timestamp not null
)"""

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    source varchar not null,
    delivery_sha256 varchar not null,
    file_name varchar not null,
    row_number bigint,
    column_name varchar,
    rule varchar not null,
    value varchar,
    quarantined_at timestamp not null
)"""

META_COLUMNS = {
    "_extra": "VARCHAR",
    "_row_number": "BIGINT",
    "_delivery_sha256": "VARCHAR",
    "_file_name": "VARCHAR",
    "_received_at": "TIMESTAMP",
    "_loaded_at": "TIMESTAMP",
}


def raw_columns(source: Source) -> dict[str, str]:
    cols = {c: source.raw_type(c) for c in source.columns}
    if source.has_analyte:
        cols["_analyte_as_delivered"] = "VARCHAR"
    return {**cols, **META_COLUMNS}


def ensure_tables(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    con.execute("create schema if not exists raw")
    con.execute(DELIVERY_LOG_DDL)
    con.execute(QUARANTINE_DDL)
    body = ", ".join(f'"{c}" {t}' for c, t in raw_columns(source).items())
    con.execute(f'create table if not exists raw."{source.name}" ({body})')


def seen(con: duckdb.DuckDBPyConnection, source: str) -> pd.DataFrame:
    """(delivery_sha256, file_name, status, rows_delivered) of every delivery already recorded."""
    return con.execute(
        "select delivery_sha256, file_name, status, rows_delivered from raw.deliveries where source = ?"
        " order by received_at, file_name",
        [source],
    ).df()


def write_delivery(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    sha256: str,
    file_name: str,
    received_at: datetime,
    size_bytes: int,
    status: str,
    rows_delivered: int,
    accepted: pd.DataFrame | None,
    quarantine: pd.DataFrame | None,
    message: str | None,
    loaded_at: datetime,
) -> None:
    """Record one delivery atomically (any earlier partial trace of the same file is replaced)."""
    con.execute("begin transaction")
    try:
        con.execute(f'delete from raw."{source.name}" where _delivery_sha256 = ? and _file_name = ?', [sha256, file_name])
        con.execute("delete from raw.quarantine where delivery_sha256 = ? and file_name = ?", [sha256, file_name])
        con.execute("delete from raw.deliveries where delivery_sha256 = ? and file_name = ?", [sha256, file_name])
        n_accepted = 0
        if accepted is not None and len(accepted):
            frame = accepted.assign(
                _delivery_sha256=sha256, _file_name=file_name, _received_at=received_at, _loaded_at=loaded_at
            )
            cols = raw_columns(source)
            select = ", ".join(
                f'cast("{c}" as {t})' if c in frame.columns else f"cast(null as {t})" for c, t in cols.items()
            )
            # Handed to DuckDB as an Arrow table: text columns are Arrow already (no copy).
            con.register("delivery_rows", pa.Table.from_pandas(frame, preserve_index=False))
            try:
                con.execute(f'insert into raw."{source.name}" select {select} from delivery_rows')
            finally:
                con.unregister("delivery_rows")
            n_accepted = len(frame)
        n_quarantined = 0
        if quarantine is not None and len(quarantine):
            q = quarantine.assign(
                source=source.name, delivery_sha256=sha256, file_name=file_name, quarantined_at=loaded_at
            )
            con.register("delivery_quarantine", q)
            try:
                con.execute(
                    """insert into raw.quarantine
                       select source, delivery_sha256, file_name, cast(row_number as bigint),
                              cast(column_name as varchar), rule, cast(value as varchar), quarantined_at
                       from delivery_quarantine"""
                )
            finally:
                con.unregister("delivery_quarantine")
            n_quarantined = int(q.loc[:, "row_number"].nunique(dropna=False)) if "row_number" in q else 0
        con.execute(
            "insert into raw.deliveries values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [sha256, source.name, file_name, received_at, size_bytes, status, rows_delivered,
             n_accepted, n_quarantined, message, loaded_at],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def create_all_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the empty raw tables of every source (a fresh warehouse dbt can build on)."""
    from schemas.contract import SOURCES

    for source in SOURCES.values():
        ensure_tables(con, source)


if __name__ == "__main__":  # `python -m dagster_project.lib.ingest.store DB`: an empty warehouse
    import sys

    with duckdb.connect(sys.argv[1]) as connection:
        create_all_tables(connection)
