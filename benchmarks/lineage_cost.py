"""What row-level lineage (issue 17) costs after one pipeline run, measured on the run's files.

- the edges: `audit.lineage` (dbt, audit_lineage.sql) and `audit.analysis_lineage` (written by the
  analysis assets; absent from a run that did not write it) in the serving file: count, count per
  target table, and bytes;
- the lineage columns of the warehouse's rows (delivery_sha256, file_name, row_number on the
  staging and intermediate tables and marts.fct_biomarker_results): rows and bytes;
- bytes are measured, not estimated: the table (or the three columns of every such table) is
  copied alone into an empty DuckDB file with the pipeline's memory ceiling and checkpointed;
  bytes = that file's used blocks x block size (DuckDB's own compression; whole 256 KiB blocks,
  so a small table rounds up to one block);
- the dbt time of `audit_lineage` and of `int_toxicity_max_grades` (which computes the max grades
  and the rows deciding them) and of their data tests, from the run's run_results.json (each
  node's own wall time; dbt runs several threads);
- one `warehouse explain marts.agg_toxicity_rates --where group_by=overall --where toxicity=CRS
  --where grade_category=any --json` (a rate cell: the largest explain) in a child process against
  the serving file, as a user runs it; and the same `explain()` call timed in this process with
  its modules already loaded (the lookup alone);
- the HTML report's explain pages (one per rate cell shown): count and time, from the
  `reports/html_report` materialization of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.figures import DbtNodeTime, EdgeTable, ExplainTiming, LineageFigures, RunFigures
from benchmarks.floor import run_target_dir
from benchmarks.pipeline_run import REPO_ROOT, child_env, materialization_metadata

EDGE_TABLES = ("audit.lineage", "audit.analysis_lineage")
LINEAGE_COLUMNS = ("delivery_sha256", "file_name", "row_number")
NOT_LINEAGE_SCHEMAS = ("raw", "audit")  # the ingest's own bookkeeping and the audit trail
LINEAGE_MODELS = ("audit_lineage", "int_toxicity_max_grades")
EXPLAIN_TABLE = "marts.agg_toxicity_rates"
EXPLAIN_WHERE = (("group_by", "overall"), ("toxicity", "CRS"), ("grade_category", "any"))
REPORT_ASSET = ("reports", "html_report")


def explain_arguments() -> list[str]:
    args = ["explain", EXPLAIN_TABLE]
    for column, value in EXPLAIN_WHERE:
        args += ["--where", f"{column}={value}"]
    return args + ["--json"]


def _memory_limit() -> str:
    return os.environ.get("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "2GB")


def bytes_alone(source: Path, selects: list[str], work: Path) -> tuple[int, int]:
    """(bytes, block size) of the rows of `selects` (SQL over the attached file `src`) stored alone
    in an empty DuckDB file: its used blocks x block size after a checkpoint."""
    import duckdb

    work.mkdir(parents=True, exist_ok=True)
    path = work / "alone.duckdb"
    path.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(path), config={"memory_limit": _memory_limit()}) as con:
            con.execute(f"attach '{source}' as src (read_only)")
            for i, select in enumerate(selects):
                con.execute(f"create table t{i} as {select}")
            con.execute("detach src")
            con.execute("checkpoint")
            used, block = con.execute("select used_blocks, block_size from pragma_database_size()").fetchone()
        return int(used) * int(block), int(block)
    finally:
        path.unlink(missing_ok=True)
        Path(f"{path}.wal").unlink(missing_ok=True)


def edge_tables(serving: Path, work: Path) -> tuple[list[EdgeTable], int]:
    import duckdb

    with duckdb.connect(str(serving), read_only=True) as con:
        present = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
        ).fetchall()}
        found = []
        for name in EDGE_TABLES:
            if name not in present:
                found.append(EdgeTable(name, None))
                continue
            by_target = dict(con.execute(
                f"select target_table, count(*) from {name} group by 1 order by 1").fetchall())
            found.append(EdgeTable(name, int(con.execute(f"select count(*) from {name}").fetchone()[0]),
                                   by_target={k: int(v) for k, v in by_target.items()}))
    block_size = 0
    for table in found:
        if table.edges is not None:
            table.bytes, block_size = bytes_alone(serving, [f"select * from src.{table.name}"], work)
    return found, block_size


def lineage_columns(warehouse: Path, work: Path) -> tuple[list[str], int, int | None, int]:
    """The warehouse tables (outside raw and audit) carrying the three lineage columns: their
    names, rows, and the bytes of those three columns stored alone."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [f"{s}.{t}" for s, t in con.execute(
            """select table_schema, table_name from information_schema.columns
               where table_catalog = current_database() and table_schema not in ? and column_name in ?
               group by all having count(distinct column_name) = ? order by all""",
            [list(NOT_LINEAGE_SCHEMAS), list(LINEAGE_COLUMNS), len(LINEAGE_COLUMNS)]).fetchall()]
        tables = [t for t in tables if con.execute(
            "select count(*) from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ? and table_name = ? and table_type = 'BASE TABLE'", t.split(".", 1)).fetchone()[0]]
        rows = sum(int(con.execute(f'select count(*) from "{t.split(".")[0]}"."{t.split(".", 1)[1]}"').fetchone()[0])
                   for t in tables)
    if not tables:
        return [], 0, None, 0
    columns = ", ".join(f'"{c}"' for c in LINEAGE_COLUMNS)
    selects = [f'select {columns} from src."{t.split(".")[0]}"."{t.split(".", 1)[1]}"' for t in tables]
    size, block = bytes_alone(warehouse, selects, work)
    return tables, rows, size, block


def dbt_times(run_id: str | None) -> list[DbtNodeTime]:
    """LINEAGE_MODELS' times in the run's run_results.json, and their data tests' (summed)."""
    target = run_target_dir(run_id)
    results_path = target / "run_results.json" if target else None
    if results_path is None or not results_path.exists():
        return [DbtNodeTime(m, None) for m in LINEAGE_MODELS]
    results = {r["unique_id"]: r for r in json.loads(results_path.read_text())["results"]}
    manifest = json.loads((target / "manifest.json").read_text())
    times = []
    for model in LINEAGE_MODELS:
        model_id = next((k for k in results if k.startswith("model.") and k.split(".")[-1] == model), None)
        if model_id is None:
            times.append(DbtNodeTime(model, None))
            continue
        tests = [k for k, node in manifest["nodes"].items()
                 if node["resource_type"] == "test" and k in results
                 and (node.get("attached_node") == model_id
                      or (not node.get("attached_node") and node["depends_on"]["nodes"] == [model_id]))]
        times.append(DbtNodeTime(model, float(results[model_id]["execution_time"]), len(tests),
                                 sum(float(results[k]["execution_time"]) for k in tests)))
    return times


def _walk(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _walk(node.get("upstream") or [])


def explain_counts(document: dict) -> tuple[int, int, int]:
    """(rows matched, lineage targets reached below them, delivered rows reached) of an explain
    document, every path counted (a node reached twice is shown twice)."""
    nodes = [n for row in document.get("rows", []) for top in row.get("explained", [])
             for n in _walk(top.get("upstream") or [])]
    return (int(document.get("n_rows", 0)), sum(1 for n in nodes if n["kind"] == "target"),
            sum(1 for n in nodes if n["kind"] == "delivered_row"))


def warehouse_command() -> list[str]:
    """`warehouse`, the console script `uv run warehouse` runs (beside this interpreter)."""
    script = Path(sys.executable).parent / "warehouse"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster_project.cli"]


def time_explain(root: Path) -> ExplainTiming:
    command = warehouse_command() + explain_arguments()
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO_ROOT, env=child_env(root), capture_output=True, text=True)
    wall = time.perf_counter() - start
    timing = ExplainTiming(command=["warehouse", *explain_arguments()], exit_code=proc.returncode, wall=wall,
                           json_bytes=len(proc.stdout.encode()))
    if proc.returncode != 0:
        timing.error = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return timing
    try:
        timing.rows, timing.upstream_targets, timing.delivered_rows = explain_counts(json.loads(proc.stdout))
    except (ValueError, KeyError) as exc:
        timing.error = f"unreadable JSON: {exc}"
        return timing
    from dagster_project.lib.lineage.explain import explain

    t0 = time.perf_counter()
    explain(root / "serving.duckdb", root / "warehouse.duckdb", EXPLAIN_TABLE, list(EXPLAIN_WHERE))
    timing.call_seconds = time.perf_counter() - t0
    return timing


def measure_lineage(root: Path, run: RunFigures) -> LineageFigures | None:
    """The lineage figures of the run that just left root/serving.duckdb and root/warehouse.duckdb;
    None when it published no serving copy."""
    serving, warehouse = root / "serving.duckdb", root / "warehouse.duckdb"
    if run.published_at is None or not serving.exists() or not warehouse.exists():
        return None  # the serving file is not this run's
    work = root / "lineage_cost"
    try:
        tables, block = edge_tables(serving, work)
        column_tables, column_rows, column_bytes, column_block = lineage_columns(warehouse, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = materialization_metadata(root / "dagster_home", run.run_id, REPORT_ASSET) or {}
    pages, seconds = report.get("explain_pages"), report.get("explain_seconds")
    return LineageFigures(
        serving_bytes=serving.stat().st_size,
        warehouse_bytes=warehouse.stat().st_size,
        tables=tables,
        column_tables=column_tables,
        column_rows=column_rows,
        column_bytes=column_bytes,
        block_size=block or column_block,
        dbt=dbt_times(run.run_id),
        explain=time_explain(root) if any(t.edges is not None for t in tables) else None,
        report_pages=int(pages) if pages is not None else None,
        report_seconds=float(seconds) if seconds is not None else None,
    )
