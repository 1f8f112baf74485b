"""`warehouse explain`: the delivered rows behind the values of published rows (issue 17).

    warehouse explain <schema.table> --where COL=VALUE [--where ...] [--column COL] [--json]

The targets are the rows of `schema.table` in the serving file whose --where columns equal the
values given, compared as text (`cast(col as varchar) = value`). Two kinds of table:

- a table of `schemas.lineage.LINEAGE_KEYS` (fct_subject_endpoints, the rate tables,
  fct_cytokine_kinetics, the analysis tables csf_pre_post, km_summary, km_logrank,
  intervention_windows, intervention_tests): each
  target's key is `key_sql(table)` and each of its values that has edges (or only --column)
  follows the edges of audit.lineage (dbt's) and audit.analysis_lineage (the analysis code's):
  an edge to another lineage target is followed in turn (a rate cell -> each counted subject's
  max grade -> the assessments holding it; a Kaplan-Meier median -> the subjects whose events
  decided it -> their outcomes rows), an edge to a delivered row ends there;
- a table that carries its delivered row as columns (delivery_sha256, file_name, row_number,
  and source, record_seq when it has them: marts.fct_biomarker_results): each target is
  explained by that row.

Every delivered row is read back from `raw.<source>` in the warehouse file (read-only) by study,
delivery sha256, row number (and SDTM --SEQ when the edge has one): its `values` are the contract
columns as loaded (identifying columns are dropped at ingest, and left out here again). A row in
force whose natural key was delivered before lists the rows it replaced (`audit.superseded_rows`,
the same key after the one normalization of `lib/ingest/duplicates.py`) under
`superseded_by_this`.

`explain()` returns the JSON document (README, "Explain a number"); `render.py` prints it as text.
A request that cannot be answered (unknown table or column, malformed --where, nothing matched,
no serving file, a warehouse file locked by a run) raises `ExplainError`: one message, exit 2.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dagster_project.lib.ingest.duplicates import normalized_codes
from schemas.contract import IDENTIFYING_COLUMNS, SOURCES
from schemas.lineage import ANALYSIS_LINEAGE_TABLE, ANALYSIS_TARGETS, LINEAGE_KEYS, LINEAGE_TABLE, key_sql

# The columns by which a row-grain mart names the delivered row it was read from.
DELIVERY_COLUMNS = ("delivery_sha256", "file_name", "row_number")
SUPERSEDED_TABLE = "audit.superseded_rows"
MAX_DEPTH = 20  # lineage targets chained deeper than this would be a loop in audit.lineage
NOTHING_RECORDED = "no delivered row: nothing recorded"


class ExplainError(Exception):
    """A request `explain` cannot answer: one message for the user, exit code 2."""


def parse_where(texts: Sequence[str]) -> list[tuple[str, str]]:
    """`COL=VALUE` texts -> (column, value) pairs; the value may be empty or hold `=`."""
    pairs = []
    for text in texts:
        column, sep, value = text.partition("=")
        if not sep or not column.strip():
            raise ExplainError(f"--where {text!r}: expected COLUMN=VALUE, e.g. --where subject_id=P001")
        pairs.append((column.strip(), value))
    return pairs


def natural_key(source: str) -> list[str]:
    """The natural key of a raw table as dbt compares it (the var natural_keys,
    lib/transform/project.py: study, the contract's key with its study day, the SDTM --SEQ)."""
    return SOURCES[source].raw_key


def explain(serving_file: Path, warehouse_file: Path, table: str, where: Sequence[tuple[str, str]],
            column: str | None = None) -> dict[str, Any]:
    """The document explaining the rows of `table` matching `where` (and only `column`'s value)."""
    with _connect(Path(serving_file), "serving") as serving:
        tables = _tables(serving)
        columns = _resolve(tables, table, where, column)
        lineage_mode = table in LINEAGE_KEYS
        explained = _explained_columns(serving, table, columns) if lineage_mode else []
        if lineage_mode and column is not None and column not in explained:
            raise ExplainError(f"{table}.{column} has no lineage: explain follows {', '.join(explained) or 'nothing yet'}")
        targets = _matching_rows(serving, table, where, lineage_mode)
        if not targets:
            shown = " and ".join(f"{c}={v}" for c, v in where)
            raise ExplainError(f"no row of {table} matches {shown}")
        rows = ([_lineage_row(t, table, column, explained) for t in targets] if lineage_mode
                else [_delivered_columns_row(t, column, columns) for t in targets])
        if lineage_mode:
            _follow(serving, [e for r in rows for e in r["explained"]])
            _fill_target_values(serving, tables, warehouse_file, rows)
        delivered = [n for r in rows for n in _walk(r["explained"]) if n["kind"] == "delivered_row"]
        if delivered:
            superseded = _superseded_rows(serving, tables, delivered)
            with _connect(Path(warehouse_file), "warehouse") as warehouse:
                _fill_delivered_values(warehouse, delivered)
                _fill_superseded(warehouse, delivered, superseded)
    return {
        "table": table,
        "where": {c: v for c, v in where},
        "column": column,
        "n_rows": len(rows),
        "rows": rows,
    }


# ---------------------------------------------------------------- the request

def _connect(path: Path, what: str) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise ExplainError(f"no {what} file at {path} yet: run `uv run warehouse run` first")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "lock" in message.lower():
            raise ExplainError(f"the {what} file {path} is locked by a running pipeline (`warehouse run`, "
                               "the sensor or the schedule): try again when the run has finished") from None
        raise ExplainError(f"cannot open the {what} file {path}: {message}") from None


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """`schema.table` -> its columns in order, for every table of the file."""
    tables: dict[str, list[str]] = defaultdict(list)
    for schema, name, col in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
        " where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        tables[f"{schema}.{name}"].append(col)
    return dict(tables)


def _explainable(tables: dict[str, list[str]]) -> list[str]:
    """Tables of lineage, and the marts whose rows name their delivered row (not the audit
    tables: a quarantined row never reached raw)."""
    return [t for t, cols in tables.items()
            if t in LINEAGE_KEYS or (t.startswith("marts.") and set(DELIVERY_COLUMNS) <= set(cols))]


def _resolve(tables: dict[str, list[str]], table: str, where: Sequence[tuple[str, str]],
             column: str | None) -> list[str]:
    """The table's columns, once the table, the --where columns and --column are known."""
    explainable = _explainable(tables)
    if table not in tables:
        near = [t for t in tables if t.split(".", 1)[1] == table]
        hint = f": did you mean {near[0]}?" if near else f"; explain covers {', '.join(explainable)}"
        raise ExplainError(f"unknown table {table!r} in the serving file{hint}")
    if table not in explainable:
        raise ExplainError(f"{table} has no lineage; explain covers {', '.join(explainable)}")
    edges_table = ANALYSIS_LINEAGE_TABLE if table in ANALYSIS_TARGETS else LINEAGE_TABLE
    if table in LINEAGE_KEYS and edges_table not in tables:
        raise ExplainError(f"the serving file has no {edges_table}: run `uv run warehouse run` to publish it")
    columns = tables[table]
    if not where:
        raise ExplainError("give at least one --where COLUMN=VALUE, e.g. --where subject_id=P001")
    for name, _ in where:
        if name not in columns:
            raise ExplainError(f"unknown column {name!r} in --where: {table} has {', '.join(columns)}")
    if column is not None and column not in columns:
        raise ExplainError(f"unknown column {column!r} in --column: {table} has {', '.join(columns)}")
    return columns


def _edges(con: duckdb.DuckDBPyConnection) -> str:
    """The relation of every edge: audit.lineage and, once an analysis asset wrote it,
    audit.analysis_lineage (the same columns)."""
    present = {f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
    ).fetchall()}
    tables = [t for t in (LINEAGE_TABLE, ANALYSIS_LINEAGE_TABLE) if t in present]
    return "(" + " union all by name ".join(f"select * from {t}" for t in tables) + ")" if tables else LINEAGE_TABLE


def _explained_columns(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[str]:
    """The table's columns the lineage has edges for, in the table's order."""
    found = {c for (c,) in con.execute(
        f"select distinct target_column from {_edges(con)} where target_table = ?", [table]).fetchall()}
    return [c for c in columns if c in found]


def _matching_rows(con: duckdb.DuckDBPyConnection, table: str, where: Sequence[tuple[str, str]],
                   lineage_mode: bool) -> list[dict[str, Any]]:
    schema, name = table.split(".", 1)
    condition = " and ".join(f'cast("{c}" as varchar) = ?' for c, _ in where)
    key = f", {key_sql(table)} as __lineage_key" if lineage_mode else ""
    cursor = con.execute(f'select *{key} from "{schema}"."{name}" where {condition} order by all',
                         [v for _, v in where])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# ---------------------------------------------------------------- the tree

def _lineage_row(target: dict[str, Any], table: str, column: str | None, explained: list[str]) -> dict[str, Any]:
    key = target.pop("__lineage_key")
    study_id = target.get("study_id")
    wanted = [column] if column else explained
    return {
        "study_id": study_id,
        "key": key,
        "values": {c: _plain(v) for c, v in target.items()},
        "explained": [{"kind": "target", "study_id": study_id, "table": table, "key": key, "column": c,
                       "value": _plain(target.get(c))} for c in wanted],
    }


def _delivered_columns_row(target: dict[str, Any], column: str | None, columns: list[str]) -> dict[str, Any]:
    study_id = target.get("study_id")
    row = _delivered_node(study_id, target.get("source"), target["delivery_sha256"], target["file_name"],
                          target["row_number"], target.get("record_seq"), target.get("study_day"))
    return {
        "study_id": study_id,
        "key": None,
        "values": {c: _plain(v) for c, v in target.items()},
        "explained": [{"kind": "target", "study_id": study_id, "table": None, "key": None, "column": column,
                       "value": _plain(target.get(column)) if column else None, "upstream": [row],
                       "note": None}],
    }


def _delivered_node(study_id, source, sha256, file_name, row_number, record_seq, study_day) -> dict[str, Any]:
    return {"kind": "delivered_row", "study_id": study_id, "source": source, "file_name": file_name,
            "delivery_sha256": sha256, "row_number": _plain(row_number), "record_seq": record_seq,
            "study_day": _plain(study_day), "values": None, "in_force": True, "superseded_by_this": []}


def _walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from _walk(node.get("upstream") or [])


def _follow(con: duckdb.DuckDBPyConnection, starts: list[dict[str, Any]]) -> None:
    """Fill each target node's `upstream` from the edges, level by level, down to the
    delivered rows; a target without an edge gets its `note`."""
    frontier, expanded, edges_relation = starts, {}, _edges(con)
    for _ in range(MAX_DEPTH):
        if not frontier:
            return
        wanted = pd.DataFrame([(n["study_id"], n["table"], n["key"], n["column"]) for n in frontier],
                              columns=["study_id", "target_table", "target_key", "target_column"]).drop_duplicates()
        con.register("explain_wanted", wanted)
        try:
            cursor = con.execute(
                f"""select l.* from {edges_relation} as l
                    inner join explain_wanted as w
                        on l.study_id is not distinct from w.study_id and l.target_table = w.target_table
                        and l.target_key = w.target_key and l.target_column = w.target_column
                    order by l.upstream_key nulls last, l.study_day nulls last, l.file_name, l.row_number, l.record_seq""")
            names = [d[0] for d in cursor.description]
            edges = [dict(zip(names, row)) for row in cursor.fetchall()]
        finally:
            con.unregister("explain_wanted")
        by_target: dict[tuple, list[dict]] = defaultdict(list)
        for edge in edges:
            by_target[(edge["study_id"], edge["target_table"], edge["target_key"], edge["target_column"])].append(edge)
        next_frontier = []
        for node in frontier:
            ident = (node["study_id"], node["table"], node["key"], node["column"])
            expanded[ident] = node
            node["upstream"], node["note"] = [], None
            for edge in by_target.get(ident, []):
                if edge["upstream_key"] is not None:
                    child_ident = (edge["study_id"], edge["upstream_table"], edge["upstream_key"], edge["upstream_column"])
                    child = {"kind": "target", "study_id": edge["study_id"], "table": edge["upstream_table"],
                             "key": edge["upstream_key"], "column": edge["upstream_column"], "value": None}
                    if child_ident in expanded:  # reached twice: the same rows again
                        child.update(upstream=expanded[child_ident]["upstream"], note=expanded[child_ident]["note"])
                    else:
                        next_frontier.append(child)
                    node["upstream"].append(child)
                else:
                    node["upstream"].append(_delivered_node(
                        edge["study_id"], edge["source"], edge["delivery_sha256"], edge["file_name"],
                        edge["row_number"], edge["record_seq"], edge["study_day"]))
            if not node["upstream"]:
                node["note"] = _nothing_recorded(node["value"])
        frontier = next_frontier
    raise ExplainError(f"the lineage chains targets more than {MAX_DEPTH} deep: a loop in the edges")


def _nothing_recorded(value: Any) -> str:
    """The note of a value no row decided (a subject with nothing recorded: max grade 0 by rule)."""
    zero = isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0
    return NOTHING_RECORDED + (", 0 by rule" if zero else "")


def _fill_target_values(serving: duckdb.DuckDBPyConnection, tables: dict[str, list[str]],
                        warehouse_file: Path, rows: list[dict[str, Any]]) -> None:
    """The value (and key columns) of each upstream lineage target, read from its table: the
    serving file's when published there, else the warehouse file's (intermediate models)."""
    nodes = [n for r in rows for e in r["explained"] for n in _walk(e.get("upstream") or [])
             if n["kind"] == "target"]
    if not nodes:
        return
    by_table: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for node in nodes:
        by_table[(node["table"], node["column"])].append(node)
    warehouse = None
    try:
        for (table, column), group in by_table.items():
            if table not in LINEAGE_KEYS:
                continue
            con, relation = serving, _relation(tables, table)
            if relation is None:
                if warehouse is None:
                    warehouse = _connect(Path(warehouse_file), "warehouse")
                con, relation = warehouse, _relation(_tables(warehouse), table)
            if relation is None:
                continue
            keys = LINEAGE_KEYS[table]
            wanted = pd.DataFrame({"study_id": [n["study_id"] for n in group], "key": [n["key"] for n in group]})
            con.register("explain_keys", wanted)
            try:
                selected = ", ".join(f't."{c}"' for c in keys)
                found = {
                    (row[0], row[1]): row[2:] for row in con.execute(
                        f"""select t.study_id, {key_sql(table, 't')} as k, t."{column}", {selected}
                            from {relation} as t
                            semi join explain_keys as w on w.study_id = t.study_id and w.key = {key_sql(table, 't')}""").fetchall()
                }
            finally:
                con.unregister("explain_keys")
            for node in group:
                hit = found.get((node["study_id"], node["key"]))
                if hit is not None:
                    node["value"] = _plain(hit[0])
                    node["row"] = {c: _plain(v) for c, v in zip(keys, hit[1:])}
                    if not node["upstream"] and node["note"]:
                        node["note"] = _nothing_recorded(node["value"])
    finally:
        if warehouse is not None:
            warehouse.close()


def _relation(tables: dict[str, list[str]], table: str) -> str | None:
    """The quoted relation of a lineage table name (`schema.table`, or a model name found in
    any schema of the file), or None."""
    if table in tables:
        schema, name = table.split(".", 1)
        return f'"{schema}"."{name}"'
    found = [t for t in tables if t.split(".", 1)[1] == table]
    if not found:
        return None
    schema, name = found[0].split(".", 1)
    return f'"{schema}"."{name}"'


# ---------------------------------------------------------------- the delivered rows

def _contract_values(names: list[str], row: tuple) -> dict[str, Any]:
    """The contract columns of a raw row (not the ingest's `_` columns, never an identifying one),
    and the analyte as the lab spelled it where the row has one (`analyte` is its code)."""
    values = {n: _plain(v) for n, v in zip(names, row)
              if not n.startswith("_") and n.lower() not in IDENTIFYING_COLUMNS}
    if "_analyte_as_delivered" in names:
        values["analyte_as_delivered"] = row[names.index("_analyte_as_delivered")]
    return values


def _raw_sources(warehouse: duckdb.DuckDBPyConnection) -> set[str]:
    return {name for (name,) in warehouse.execute(
        "select table_name from information_schema.tables where table_schema = 'raw'"
        " and table_catalog = current_database()").fetchall() if name in SOURCES}


def _fill_delivered_values(warehouse: duckdb.DuckDBPyConnection, nodes: list[dict[str, Any]]) -> None:
    """Read each delivered row's values back from raw.<source>. A node without a source (a mart
    that names only the delivery) is looked for in every raw table."""
    present = _raw_sources(warehouse)
    by_source: dict[str | None, list[int]] = defaultdict(list)
    for i, node in enumerate(nodes):
        by_source[node["source"]].append(i)
    for source, indexes in by_source.items():
        candidates = [source] if source else sorted(present)
        refs = pd.DataFrame({
            "ref": indexes,
            "study_id": [nodes[i]["study_id"] for i in indexes],
            "delivery_sha256": [nodes[i]["delivery_sha256"] for i in indexes],
            "row_number": [nodes[i]["row_number"] for i in indexes],
            "record_seq": pd.Series([nodes[i]["record_seq"] for i in indexes], dtype=object),
        })
        warehouse.register("explain_refs", refs)
        try:
            for candidate in candidates:
                if candidate not in present:
                    continue
                cursor = warehouse.execute(
                    f"""select w.ref, r.* from raw."{candidate}" as r
                        inner join explain_refs as w
                            on r._delivery_sha256 = w.delivery_sha256 and r._row_number = w.row_number
                            and (w.study_id is null or r._study_id = w.study_id)
                            and (w.record_seq is null or r._seq = w.record_seq)
                        order by w.ref, r._seq""")
                names = [d[0] for d in cursor.description][1:]
                for ref, *row in cursor.fetchall():
                    node = nodes[ref]
                    values = _contract_values(names, tuple(row))
                    node["source"] = node["source"] or candidate
                    node["_raw"] = dict(zip(names, row))
                    if node["values"] is None:
                        node["values"] = values
                    else:  # a foreign file's row that gave several records of this source
                        node.setdefault("other_records", []).append(values)
        finally:
            warehouse.unregister("explain_refs")
    for node in nodes:
        if node["values"] is None:
            node["note"] = (f"not found in raw.{node['source'] or '<source>'} of the warehouse file "
                            "(a warehouse file other than the one published?)")


def _superseded_rows(serving: duckdb.DuckDBPyConnection, tables: dict[str, list[str]],
                     nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """audit.superseded_rows of the sources and studies of the delivered rows shown."""
    if SUPERSEDED_TABLE not in tables:
        return []
    sources = sorted({n["source"] for n in nodes if n["source"]})
    if not sources:
        sources = sorted(SOURCES)
    cursor = serving.execute(
        f"select * from {SUPERSEDED_TABLE} where source in (select unnest(?::varchar[])) order by version_rank",
        [sources])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _fill_superseded(warehouse: duckdb.DuckDBPyConnection, nodes: list[dict[str, Any]],
                     superseded: list[dict[str, Any]]) -> None:
    """Under each delivered row in force: the rows of the same source and natural key that a
    later delivery (this one) replaced; a row shown that is itself superseded says so."""
    located = {(s["study_id"], s["source"], s["delivery_sha256"], s["file_name"], s["row_number"]): s
               for s in superseded}
    for node in nodes:
        ident = (node["study_id"], node["source"], node["delivery_sha256"], node["file_name"], node["row_number"])
        node["in_force"] = ident not in located
    by_source: dict[str, list[dict]] = defaultdict(list)
    for s in superseded:
        by_source[s["source"]].append(s)
    for source, replaced in by_source.items():
        shown = [n for n in nodes if n["source"] == source and n.get("_raw") is not None]
        if not shown:
            continue
        refs = pd.DataFrame({k: [s[k] for s in replaced] for k in
                             ("study_id", "delivery_sha256", "file_name", "row_number", "version_rank")})
        warehouse.register("explain_superseded", refs)
        try:
            cursor = warehouse.execute(
                f"""select w.version_rank, r.* from raw."{source}" as r
                    inner join explain_superseded as w
                        on r._study_id = w.study_id and r._delivery_sha256 = w.delivery_sha256
                        and r._file_name = w.file_name and r._row_number = w.row_number
                    order by w.version_rank, r._file_name, r._row_number""")
            names = [d[0] for d in cursor.description][1:]
            old = [(rank, dict(zip(names, row))) for rank, *row in cursor.fetchall()]
        finally:
            warehouse.unregister("explain_superseded")
        if not old:
            continue
        key = natural_key(source)
        frame = pd.DataFrame([{c: n["_raw"].get(c) for c in key} for n in shown]
                             + [{c: raw.get(c) for c in key} for _, raw in old], columns=key)
        codes = [tuple(r) for r in normalized_codes(frame, key).to_numpy().tolist()]
        shown_codes, old_codes = codes[:len(shown)], codes[len(shown):]
        for node, code in zip(shown, shown_codes):
            for (rank, raw), old_code in zip(old, old_codes):
                same_row = (raw["_delivery_sha256"], raw["_row_number"]) == (node["delivery_sha256"], node["row_number"])
                if old_code == code and not same_row:
                    node["superseded_by_this"].append({
                        "source": source, "file_name": raw["_file_name"], "delivery_sha256": raw["_delivery_sha256"],
                        "row_number": _plain(raw["_row_number"]), "version_rank": _plain(rank),
                        "values": _contract_values(list(raw), tuple(raw.values())),
                    })
    for node in nodes:
        node.pop("_raw", None)


# ---------------------------------------------------------------- values

def _plain(value: Any) -> Any:
    """A DuckDB value as JSON has it: dates and times ISO text, decimals and NaN as numbers/null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return str(value)
