"""The numbers on a table's asset page, for dbt models and analysis tables alike: its rows, its
columns with their DuckDB types (`dagster/column_schema`) and, for the tables that have one, the
table of its headline rows (`headline`, dagster_project/lib/report/headlines.py) and, for a table
with row-level lineage, how to explain its numbers (`explain`, schemas/lineage.py).

Read from the warehouse file, read-only, after the table was written (for dbt: after dbt has
exited and released the file), never from the writer's connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dagster_project.lib.report.headlines import read_headline_frames
from dagster_project.lib.warehouse import table_columns
from schemas.lineage import explain_hint


def _relation(key: dg.AssetKey) -> str | None:
    """`schema.table` of a table asset key `<schema>/<table>`; None for another key."""
    return ".".join(key.path) if len(key.path) == 2 else None


def table_metadata(
    db_path: str | Path,
    keys: Iterable[dg.AssetKey],
    descriptions: Mapping[dg.AssetKey, Mapping[str, str | None]] | None = None,
) -> dict[dg.AssetKey, dict[str, dg.MetadataValue]]:
    """For each of `keys` whose table `<schema>.<table>` exists: `dagster/row_count`,
    `dagster/column_schema` (columns in table order with their type; `descriptions[key][column]`
    as the column's description where given) and `headline` where the table has one."""
    relations = {key: r for key in keys if (r := _relation(key))}
    descriptions = descriptions or {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = table_columns(con, list(relations.values()))
        counts = {r: con.execute("select count(*) from " + ".".join(f'"{p}"' for p in r.split("."))).fetchone()[0]
                  for r in columns}
        headlines = read_headline_frames(con, list(columns))
    metadata: dict[dg.AssetKey, dict[str, dg.MetadataValue]] = {}
    for key, name in relations.items():
        if name not in columns:
            continue
        described = descriptions.get(key, {})
        schema = dg.TableSchema(columns=[dg.TableColumn(c, t, description=described.get(c)) for c, t in columns[name]])
        metadata[key] = {
            "dagster/row_count": dg.MetadataValue.int(int(counts[name])),
            "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        }
        if name in headlines:
            metadata[key]["headline"] = frame_table(headlines[name])
        if hint := explain_hint(name):
            metadata[key]["explain"] = dg.MetadataValue.md(hint)
    return metadata


def column_descriptions(spec_metadata: Mapping[str, object]) -> dict[str, str | None]:
    """Column descriptions of an asset's definition metadata (its `dagster/column_schema`, e.g. the
    dbt yml's column descriptions that dagster-dbt puts there)."""
    schema = spec_metadata.get("dagster/column_schema")
    schema = getattr(schema, "schema", schema)  # a TableSchemaMetadataValue or the TableSchema itself
    if not isinstance(schema, dg.TableSchema):
        return {}
    return {c.name: c.description for c in schema.columns}


def _cell(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return " ".join(str(value).split())


def frame_table(frame: pd.DataFrame, columns: Mapping[str, str] | None = None) -> dg.MetadataValue:
    """A few rows as Dagster table metadata, every cell as text: the asset page shows it inline as
    a table (a markdown value longer than a few lines hides behind "Show Markdown").
    `columns` ({column: display name}) picks and renames columns."""
    if columns is not None:
        frame = frame[list(columns)].rename(columns=dict(columns))
    names = [str(c) for c in frame.columns]
    records = [dg.TableRecord(dict(zip(names, map(_cell, row)))) for row in frame.itertuples(index=False)]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(
        columns=[dg.TableColumn(name, "string") for name in names]))
