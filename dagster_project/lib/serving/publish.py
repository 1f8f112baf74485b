"""Publish the serving copy atomically (marts.md, "Serving").

A new file is built beside the old one from the warehouse's `marts`, `analysis` and `audit`
schemas, checkpointed, then renamed over the old one. A reader that has the old file open keeps
reading the old, complete version; a crash before the rename leaves the old file untouched.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "analysis", "audit")


def publish(warehouse_path: Path, serving_path: Path, run_id: str,
            duckdb_config: dict[str, str] | None = None, plan: str | None = None,
            build_fingerprint: str | None = None) -> dict[str, int]:
    """Copy the published schemas into a fresh file and swap it in; return rows per table.
    `duckdb_config`: the writer connection's settings (Settings.duckdb_config(): memory limit).
    `plan` ("full", "changed", or None for a run not planned by lib/changes.py) and
    `build_fingerprint` (what the copy was built by, lib/changes.py) go into audit.publication."""
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    # Temp files of publishes that were killed before their rename: never read, safe to remove.
    for stale in serving_path.parent.glob(f".{serving_path.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = serving_path.with_name(f".{serving_path.name}.{os.getpid()}.tmp")
    counts: dict[str, int] = {}
    try:
        with duckdb.connect(str(tmp), config=duckdb_config or {}) as con:
            con.execute(f"attach '{warehouse_path}' as warehouse (read_only)")
            wanted = list(PUBLISHED_SCHEMAS)
            tables = con.execute(
                """select schema_name, table_name from duckdb_tables()
                   where database_name = 'warehouse' and schema_name in ?
                   union all
                   select schema_name, view_name from duckdb_views()
                   where database_name = 'warehouse' and schema_name in ? and not internal
                   order by 1, 2""",
                [wanted, wanted],
            ).fetchall()
            for schema in PUBLISHED_SCHEMAS:
                con.execute(f'create schema if not exists "{schema}"')
            for schema, table in tables:
                con.execute(f'create table "{schema}"."{table}" as select * from warehouse."{schema}"."{table}"')
                counts[f"{schema}.{table}"] = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            con.execute(
                "create table audit.publication as select ? as run_id, ? as published_at, ? as tables, "
                "?::varchar as plan, ?::varchar as build_fingerprint",
                [run_id, datetime.now(timezone.utc).replace(tzinfo=None), len(tables), plan, build_fingerprint],
            )
            con.execute("detach warehouse")
            con.execute("checkpoint")
        os.replace(tmp, serving_path)
    finally:
        tmp.unlink(missing_ok=True)
    return counts


def published_deliveries(serving_path: Path) -> set[str]:
    """The sha256 of every delivery the published copy records (audit.deliveries); empty before
    the first publish. Read-only: the serving file is never locked by a writer."""
    if not serving_path.exists():
        return set()
    with duckdb.connect(str(serving_path), read_only=True) as con:
        present = con.execute("select count(*) from duckdb_tables() where schema_name = 'audit' "
                              "and table_name = 'deliveries'").fetchone()[0]
        if not present:
            return set()
        return {sha for (sha,) in con.execute("select distinct delivery_sha256 from audit.deliveries").fetchall()}
