"""Reading marts and writing analysis tables in the warehouse file, and figure files.

The pipeline is the only writer (DuckDB allows one); each call opens and closes its own
connection so nothing holds the file between steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from schemas.lineage import ANALYSIS_LINEAGE_TABLE, EDGE_COLUMNS



def read_table(
    db_path: str | Path,
    relation: str,
    columns: str = "*",
    where: str | None = None,
    subject_ids: Sequence[str] | None = None,
    params: Sequence = (),
) -> pd.DataFrame:
    """The table's rows in a fixed order, so floating-point sums downstream (LOESS, t-tests)
    come out bit-identical from run to run. `where` (with `?` placeholders bound to `params`)
    and `subject_ids` (only these subjects' rows) filter in DuckDB, so that a step needing a few
    rows of a mart of millions does not load them all."""
    conditions, params = [], list(params)
    if where:
        conditions.append(f"({where})")
    if subject_ids is not None:
        conditions.append("subject_id in (select unnest(?::varchar[]))")
        params.append([str(s) for s in subject_ids])
    condition = f" where {' and '.join(conditions)}" if conditions else ""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(f"select {columns} from {relation}{condition} order by all", params).df()


def replace_tables(db_path: str | Path, schema: str, tables: dict[str, pd.DataFrame],
                   duckdb_config: dict[str, str] | None = None,
                   lineage: pd.DataFrame | None = None,
                   studies: Sequence[str] | None = None) -> dict[str, int]:
    """Replace each `schema.name` with its frame, all in one transaction; return row counts.
    `duckdb_config`: the writer connection's settings (Settings.duckdb_config(): memory limit).
    `lineage`: the edges of these tables' values (lib/lineage/edges.py), replacing in
    audit.analysis_lineage every edge of the tables written, in the same transaction.
    `studies`: the frames hold only these studies' rows (a changed run, lib/changes.py): only
    their rows and edges are replaced, the other studies' stay (a table not yet there is created)."""
    with duckdb.connect(str(db_path), config=duckdb_config or {}) as con:
        con.execute(f'create schema if not exists "{schema}"')
        existing = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = ?",
                                              [schema]).fetchall()}
        con.execute("begin transaction")
        try:
            for name, frame in tables.items():
                con.register("frame_to_write", frame)
                if studies is not None and name in existing:
                    # Rebuilt as the other studies' rows and these, by name: a column typed NULL in a
                    # table written while it had no row takes the type of the new rows (an insert
                    # could not cast into it).
                    con.execute(f'create or replace table "{schema}"."{name}" as '
                                f'select * from "{schema}"."{name}" where study_id not in (select unnest(?::varchar[])) '
                                'union all by name select * from frame_to_write', [list(studies)])
                else:
                    con.execute(f'create or replace table "{schema}"."{name}" as select * from frame_to_write')
                con.unregister("frame_to_write")
            if lineage is not None:
                _replace_edges(con, [f"{schema}.{name}" for name in tables], lineage, studies)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return {name: len(frame) for name, frame in tables.items()}


def _replace_edges(con: duckdb.DuckDBPyConnection, targets: list[str], edges: pd.DataFrame,
                   studies: Sequence[str] | None = None) -> None:
    """Every edge of `targets` (of `studies`, when given) in audit.analysis_lineage replaced by
    `edges` (of those targets)."""
    stray = sorted(set(edges["target_table"]) - set(targets)) if len(edges) else []
    if stray:
        raise ValueError(f"lineage edges of tables not written here: {stray}")
    schema, _ = ANALYSIS_LINEAGE_TABLE.split(".")
    columns = ", ".join(f"{c} {t}" for c, t in EDGE_COLUMNS.items())
    con.execute(f'create schema if not exists "{schema}"')
    con.execute(f"create table if not exists {ANALYSIS_LINEAGE_TABLE} ({columns})")
    if studies is None:
        con.execute(f"delete from {ANALYSIS_LINEAGE_TABLE} where target_table in (select unnest(?::varchar[]))",
                    [targets])
    else:
        con.execute(f"delete from {ANALYSIS_LINEAGE_TABLE} where target_table in (select unnest(?::varchar[])) "
                    "and study_id in (select unnest(?::varchar[]))", [targets, list(studies)])
    if len(edges):
        con.register("edges_to_write", edges)
        con.execute(f"insert into {ANALYSIS_LINEAGE_TABLE} by name select * from edges_to_write")
        con.unregister("edges_to_write")


def table_columns(con: duckdb.DuckDBPyConnection, relations: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """(column, DuckDB type in lower case) of each `schema.table` of `relations` that exists, in
    the table's column order; tables and views alike (information_schema.columns)."""
    rows = con.execute(
        """select table_schema || '.' || table_name, column_name, lower(data_type)
           from information_schema.columns
           where table_catalog = current_database()
             and table_schema || '.' || table_name in (select unnest(?::varchar[]))
           order by table_schema, table_name, ordinal_position""",
        [list(relations)],
    ).fetchall()
    columns: dict[str, list[tuple[str, str]]] = {}
    for relation, column, data_type in rows:
        columns.setdefault(relation, []).append((column, data_type))
    return columns
