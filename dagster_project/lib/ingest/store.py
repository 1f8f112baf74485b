"""The ingest tables in the warehouse file (schema `raw`), written one delivery per transaction.

raw.<source>     accepted rows of every delivery, with the study, the delivery's sha256, file name,
                 row number and times; superseding by later deliveries is resolved in dbt
                 staging, so the superseded rows stay here for the audit trail
raw.quarantine   one row per rejected row x broken rule
raw.deliveries   one row per delivery file seen (loaded, duplicate or rejected); a foreign file
                 (an adapter's) has one row per contract source it feeds
raw.out_of_scope one row per record of a foreign file that feeds no contract row, with the reason
raw.studies      one row per study found in the landing folder, with its settings or its error

A delivery's rows, its quarantine rows and its log row are committed together, so a crash
leaves either all of a delivery or none of it, and the next run simply loads it again.

`latest_deliveries` and `latest_quarantined` read the log back, file by file and row by row,
capped: the one query behind the `raw/deliveries` and `raw/quarantine` metadata (on raw.*) and
the HTML report's tables (on the serving copy's audit.*, which has the same columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa

from schemas.contract import Source

DELIVERY_LOG_DDL = """
create table if not exists raw.deliveries (
    study_id varchar not null,
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
    loaded_at timestamp not null,
    adapter varchar,
    rows_out_of_scope bigint not null default 0,
    data_rows bigint,
    feeds varchar,
    reader_sha256 varchar
)"""

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    study_id varchar not null,
    source varchar not null,
    delivery_sha256 varchar not null,
    file_name varchar not null,
    row_number bigint,
    column_name varchar,
    rule varchar not null,
    value varchar,
    quarantined_at timestamp not null,
    locator varchar
)"""

OUT_OF_SCOPE_DDL = """
create table if not exists raw.out_of_scope (
    study_id varchar not null,
    source varchar not null,
    delivery_sha256 varchar not null,
    file_name varchar not null,
    row_number bigint,
    locator varchar,
    reason varchar not null
)"""

STUDIES_DDL = """
create table if not exists raw.studies (
    study_id varchar not null,
    title varchar,
    time_mode varchar,
    settings_json varchar,
    study_file varchar,
    status varchar not null,
    message varchar,
    read_at timestamp not null
)"""

META_COLUMNS = {
    "_study_id": "VARCHAR",
    "_extra": "VARCHAR",
    "_seq": "VARCHAR",  # an SDTM record's --SEQ, part of the natural key (null for other deliveries)
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
    con.execute(OUT_OF_SCOPE_DDL)
    con.execute(STUDIES_DDL)
    body = ", ".join(f'"{c}" {t}' for c, t in raw_columns(source).items())
    con.execute(f'create table if not exists raw."{source.name}" ({body})')


def seen(con: duckdb.DuckDBPyConnection, source: str, study_id: str) -> pd.DataFrame:
    """(delivery_sha256, file_name, status, rows_delivered) of every delivery of one study already recorded."""
    return con.execute(
        "select delivery_sha256, file_name, status, rows_delivered from raw.deliveries"
        " where source = ? and study_id = ? order by received_at, file_name",
        [source, study_id],
    ).df()


def write_delivery(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    *,
    study_id: str,
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
    n_quarantined: int | None = None,
    out_of_scope: pd.DataFrame | None = None,
    adapter: str | None = None,
    data_rows: int | None = None,
    feeds: str | None = None,
    reader_sha256: str | None = None,
) -> None:
    """Record one delivery (or one source's part of a foreign file) atomically; any earlier partial
    trace of the same file and source is replaced.

    `n_quarantined` (default: the distinct row numbers of `quarantine`) is given for a foreign
    file, whose records several share one row; `out_of_scope` (row_number, locator, reason) are its
    records that feed nothing; `data_rows` its rows (records count per output); `feeds` the
    sources it feeds (registered once, by the subjects part); `reader_sha256` the digest of the
    mapping it was read with."""
    con.execute("begin transaction")
    try:
        con.execute(f'delete from raw."{source.name}" where _delivery_sha256 = ? and _file_name = ?', [sha256, file_name])
        for table in ("quarantine", "deliveries", "out_of_scope"):
            con.execute(f"delete from raw.{table} where delivery_sha256 = ? and file_name = ? and source = ?",
                        [sha256, file_name, source.name])
        n_accepted = 0
        if accepted is not None and len(accepted):
            frame = accepted.assign(
                _study_id=study_id, _delivery_sha256=sha256, _file_name=file_name, _received_at=received_at,
                _loaded_at=loaded_at,
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
        counted = 0
        if quarantine is not None and len(quarantine):
            q = quarantine.assign(
                study_id=study_id, source=source.name, delivery_sha256=sha256, file_name=file_name,
                quarantined_at=loaded_at,
            )
            if "locator" not in q:
                q["locator"] = None
            con.register("delivery_quarantine", q)
            try:
                con.execute(
                    """insert into raw.quarantine
                       select study_id, source, delivery_sha256, file_name, cast(row_number as bigint),
                              cast(column_name as varchar), rule, cast(value as varchar), quarantined_at,
                              cast(locator as varchar)
                       from delivery_quarantine"""
                )
            finally:
                con.unregister("delivery_quarantine")
            counted = int(q.loc[:, "row_number"].nunique(dropna=False)) if "row_number" in q else 0
        n_out = 0
        if out_of_scope is not None and len(out_of_scope):
            o = out_of_scope.assign(study_id=study_id, source=source.name, delivery_sha256=sha256, file_name=file_name)
            con.register("delivery_out_of_scope", o)
            try:
                con.execute(
                    """insert into raw.out_of_scope
                       select study_id, source, delivery_sha256, file_name, cast(row_number as bigint),
                              cast(locator as varchar), reason
                       from delivery_out_of_scope"""
                )
            finally:
                con.unregister("delivery_out_of_scope")
            n_out = len(o)
        con.execute(
            """insert into raw.deliveries (study_id, delivery_sha256, source, file_name, received_at, size_bytes,
                   status, rows_delivered, rows_accepted, rows_quarantined, message, loaded_at, adapter,
                   rows_out_of_scope, data_rows, feeds, reader_sha256)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [study_id, sha256, source.name, file_name, received_at, size_bytes, status, rows_delivered,
             n_accepted, counted if n_quarantined is None else n_quarantined, message, loaded_at, adapter,
             n_out, data_rows, feeds, reader_sha256],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


# ---- reading the log back: the latest deliveries and quarantined rows -------------------------
# One place for the UI (raw/deliveries and raw/quarantine metadata, on raw.*) and the HTML report
# (on the serving copy's audit.*, the same columns).

LATEST_DELIVERIES = 50  # delivery files listed, latest received first
LATEST_QUARANTINED = 100  # quarantined rows listed, latest quarantined first
VALUE_CHARS = 60  # a quarantined value longer than this is cut, with "…"

_LOG_SCHEMAS = ("raw", "audit")  # raw.* in the warehouse, audit.* in the serving copy


@dataclass(frozen=True)
class Latest:
    rows: pd.DataFrame  # the latest rows, at most the limit
    total: int  # rows in the whole table

    @property
    def caption(self) -> str:
        shown = len(self.rows)
        return f"all {self.total}" if shown == self.total else f"the latest {shown} of {self.total}"


def _log_schema(schema: str) -> str:
    if schema not in _LOG_SCHEMAS:
        raise ValueError(f"the delivery log is in schema raw or audit, not {schema!r}")
    return schema


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" limit {int(limit)}"


def truncated(value: object, chars: int = VALUE_CHARS) -> str | None:
    """A delivered value as shown: None stays None, longer text is cut to `chars` with "…"."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value)
    return text if len(text) <= chars else text[: chars - 1] + "…"


def latest_deliveries(
    con: duckdb.DuckDBPyConnection, limit: int | None = LATEST_DELIVERIES, *, schema: str = "raw"
) -> Latest:
    """Every column of <schema>.deliveries for the latest `limit` files (None: all), latest
    received first (file name breaks ties), with the number of files in the log."""
    table = f"{_log_schema(schema)}.deliveries"
    rows = con.execute(f"select * from {table} order by received_at desc, file_name{_limit(limit)}").df()
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    return Latest(rows=rows, total=int(total))


def latest_quarantined(
    con: duckdb.DuckDBPyConnection, limit: int | None = LATEST_QUARANTINED, *, schema: str = "raw"
) -> Latest:
    """The latest `limit` rows of <schema>.quarantine (None: all): study_id, file_name, row_number,
    locator, column_name, rule, value (cut to VALUE_CHARS), source, delivery_sha256, quarantined_at;
    latest quarantined first, then by file and row; with the number of rows in the table.

    The values are as delivered, of contract columns only (identifying columns are dropped when
    a delivery is read, before validation), or a reason (`delivery_rejected`, `malformed_row`),
    or the natural key of a row (`*_duplicate`, a rule between columns).
    """
    table = f"{_log_schema(schema)}.quarantine"
    rows = con.execute(
        f"""select study_id, file_name, row_number, locator, column_name, rule, value, source, delivery_sha256,
                   quarantined_at
            from {table}
            order by quarantined_at desc, file_name, row_number, column_name nulls first, rule{_limit(limit)}"""
    ).df()
    rows["row_number"] = rows["row_number"].astype("Int64")
    rows["value"] = rows["value"].map(truncated).astype(object)
    total = con.execute(f"select count(*) from {table}").fetchone()[0]
    return Latest(rows=rows, total=int(total))


def record_studies(con: duckdb.DuckDBPyConnection, landing) -> None:
    """Replace raw.studies with the studies of the landing folder (lib/ingest/studies.Landing)."""
    from datetime import timezone

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [(s.study_id, s.config.title, s.config.time_mode, s.config.model_dump_json(), s.study_file, "valid", None, now)
            for s in landing.studies]
    rows += [(p.study_id, None, None, None, p.study_file, "invalid", p.message, now) for p in landing.invalid]
    con.execute("create schema if not exists raw")
    con.execute(STUDIES_DDL)
    recorded = con.execute("select study_id, title, time_mode, settings_json, study_file, status, message "
                           "from raw.studies order by all").fetchall()
    if recorded == sorted(tuple(r[:7]) for r in rows):
        return  # nothing changed: a run again leaves the file as it was (tests/test_idempotency.py)
    con.execute("begin transaction")
    try:
        con.execute("delete from raw.studies")
        if rows:
            con.executemany("insert into raw.studies values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
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
