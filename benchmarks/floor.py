"""The DuckDB floor: the same deliveries and the same SQL as a pipeline run, nothing else.

After a run, in this process, on the run's files: plain `read_csv` of every delivery into raw
tables, then the compiled SQL of every SQL dbt model of that run (from the run's dbt target
folder), in dependency order, as `create table ... as`; no orchestration, validation, dbt tests
or Python models.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR

from benchmarks.figures import Floor


def run_target_dir(run_id: str | None) -> Path | None:
    """The dbt target folder dagster-dbt wrote for this run (<op>-<run id[:7]>-<uuid>)."""
    if not run_id:
        return None
    found = sorted((DBT_PROJECT_DIR / "target").glob(f"*-{run_id[:7]}-*/manifest.json"))
    return found[-1].parent if found else None


def sql_models_in_order(manifest: dict) -> tuple[list[dict], list[str]]:
    """SQL models of the project in dependency order; and the names of the Python models."""
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    python = sorted(v["name"] for v in nodes.values() if v.get("language") == "python")
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen or key not in nodes:
            return
        seen.add(key)
        for dep in nodes[key]["depends_on"]["nodes"]:
            visit(dep)
        order.append(key)

    for key in sorted(nodes):
        visit(key)
    return [nodes[k] for k in order if nodes[k].get("language", "sql") == "sql"], python


def _compiled_sql(node: dict, target: Path) -> str | None:
    code = node.get("compiled_code")
    if not code:
        path = target / "compiled" / node["package_name"] / node["original_file_path"]
        code = path.read_text() if path.exists() else None
    return code.strip().rstrip(";") if code else None


def _raw_select(source, delivered: set[str]) -> str:
    """Contract columns cast to the raw table's types (null where the files have none), and the
    raw table's bookkeeping columns (the default study's)."""
    from dagster_project.lib.ingest.store import raw_columns

    columns = []
    for name, sql_type in raw_columns(source).items():
        if name in source.columns:
            value = f'"{name}"' if name in delivered else "null"
            columns.append(f'cast({value} as {sql_type}) as "{name}"')
        elif name == "_study_id":
            columns.append('\'default\' as "_study_id"')
        elif name == "_seq":
            columns.append('cast(null as varchar) as "_seq"')
        elif name == "_analyte_as_delivered":
            columns.append('"analyte" as "_analyte_as_delivered"')
        elif name == "_extra":
            columns.append('cast(null as varchar) as "_extra"')
        elif name == "_row_number":
            columns.append('row_number() over () as "_row_number"')
        elif name == "_delivery_sha256":
            columns.append('md5(filename) as "_delivery_sha256"')
        elif name == "_file_name":
            columns.append('filename as "_file_name"')
        else:  # _received_at, _loaded_at
            columns.append(f'cast(now() as timestamp) as "{name}"')
    return ", ".join(columns)


def measure_floor(root: Path, run_id: str | None) -> Floor | None:
    """read_csv of every delivery + the run's compiled SQL models, in a fresh DuckDB file."""
    import duckdb

    from schemas.contract import SOURCES

    target = run_target_dir(run_id)
    if target is None:
        return None
    manifest = json.loads((target / "manifest.json").read_text())
    models, python_models = sql_models_in_order(manifest)
    seeds = [v for v in manifest["nodes"].values() if v["resource_type"] == "seed"]
    folder = root / "floor"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # The same file name as the warehouse, so the compiled SQL's catalog ("warehouse") resolves.
    db_path = folder / f"{models[0]['database'] if models else 'warehouse'}.duckdb"
    landing = root / "landing"
    cpu0 = time.process_time()
    with duckdb.connect(str(db_path)) as con:
        # Seeds (two small tables) copied from the run's warehouse: not part of the timing.
        con.execute(f"attach '{root / 'warehouse.duckdb'}' as pipeline (read_only)")
        for seed in seeds:
            con.execute(f'create schema if not exists "{seed["schema"]}"')
            name = seed.get("alias") or seed["name"]
            con.execute(f'create table "{seed["schema"]}"."{name}" as select * from pipeline."{seed["schema"]}"."{name}"')
        # The dbt Python models' tables too (the floor is SQL only), so that the SQL models built
        # on them (audit_lineage reads agg_toxicity_rates' counted subjects) have their input.
        python_nodes = [v for v in manifest["nodes"].values()
                        if v["resource_type"] == "model" and v.get("language") == "python"]
        for node in python_nodes:
            con.execute(f'create schema if not exists "{node["schema"]}"')
            name = node.get("alias") or node["name"]
            con.execute(f'create table "{node["schema"]}"."{name}" as '
                        f'select * from pipeline."{node["schema"]}"."{name}"')
        con.execute("detach pipeline")
        from dagster_project.lib.ingest.store import ensure_tables

        con.execute("create schema if not exists raw")
        ensure_tables(con, SOURCES["subjects"])  # the ingest log tables (deliveries, quarantine, ...)
        con.execute("drop table raw.subjects")
        t0 = time.perf_counter()
        for source in SOURCES.values():
            files = sorted(str(p) for p in (landing / source.name).glob("*.csv"))
            if not files:
                ensure_tables(con, source)
                continue
            delivered = {row[0] for row in con.execute(
                "describe select * from read_csv(?, header = true, all_varchar = true, union_by_name = true)",
                [files]).fetchall()}
            con.execute(
                f'create table raw."{source.name}" as select {_raw_select(source, delivered)} '
                f"from read_csv(?, header = true, all_varchar = true, union_by_name = true, "
                f"filename = true, nullstr = ['', 'NA'])",
                [files],
            )
            con.execute(
                f"""insert into raw.deliveries (study_id, delivery_sha256, source, file_name, received_at,
                        size_bytes, status, rows_delivered, rows_accepted, rows_quarantined, message, loaded_at)
                    select 'default', _delivery_sha256, '{source.name}', _file_name, now(), null, 'loaded',
                           count(*), count(*), 0, null, now()
                    from raw."{source.name}" group by all"""
            )
        t1 = time.perf_counter()
        built, skipped = [], []
        for node in models:
            sql = _compiled_sql(node, target)
            if sql is None:
                skipped.append(node["name"])
                continue
            schema, name = node["schema"], node.get("alias") or node["name"]
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{name}" as (\n{sql}\n)')
            built.append(name)
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    return Floor(read_seconds=t1 - t0, sql_seconds=t2 - t1, cpu=cpu, models=built,
                 python_models=python_models, skipped=skipped)

