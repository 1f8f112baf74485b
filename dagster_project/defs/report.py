"""Analyst-facing outputs built after the serving copy is published: the static HTML report
and the dbt docs site, both under the data folder (<data dir>/reports/, <data dir>/dbt_docs/)."""

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource

from dagster_project.defs.analysis import analysis_keys
from dagster_project.defs.resources import WarehouseSettings
from dagster_project.defs.transform.project import project_files
from dagster_project.report import build_report, report_path
from dagster_project.settings import DBT_PROJECT_DIR
from dagster_project.warehouse_io import figures_dir

SERVING = dg.AssetKey(["serving", "warehouse"])
REPORTED_MARTS = [
    dg.AssetKey(["marts", "agg_consort"]),
    dg.AssetKey(["marts", "agg_toxicity_rates"]),
    dg.AssetKey(["marts", "agg_response_rates"]),
    dg.AssetKey(["audit", "deliveries"]),
    dg.AssetKey(["audit", "quarantine"]),
]


@dg.asset(
    key=["reports", "html_report"],
    group_name="serving",
    kinds={"html"},
    deps=[SERVING, *REPORTED_MARTS, *analysis_keys()],
    description="One self-contained HTML file (<data dir>/reports/warehouse_report.html) from the "
    "published serving copy: CONSORT, CRS/ICANS and response rates with exact CIs, Kaplan-Meier "
    "summary, CSF before/after, intervention tests when present, the figures (embedded PNG), and "
    "the deliveries/quarantine counts; stamped with the data version (hash of the delivery "
    "sha256s) and the run id. Aggregates only.",
)
def html_report(context: dg.AssetExecutionContext, settings: WarehouseSettings) -> dg.MaterializeResult:
    report = build_report(
        serving_path=settings.serving_db_path,
        figures_dir=figures_dir(settings.db_path),
        out_path=report_path(settings.db_path),
        run_id=context.run.run_id,
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(report.path)),
            "data_version": dg.MetadataValue.text(report.data_version),
            "deliveries": dg.MetadataValue.int(report.n_deliveries),
            "figures": dg.MetadataValue.int(len(report.figures)),
            "size_bytes": dg.MetadataValue.int(report.path.stat().st_size),
        },
        data_version=dg.DataVersion(report.data_version),
    )


def dbt_docs_dir(db_path: str) -> Path:
    return Path(db_path).resolve().parent / "dbt_docs"


@dg.asset(
    key=["reports", "dbt_docs"],
    group_name="serving",
    kinds={"dbt"},
    deps=[SERVING],
    description="`dbt docs generate --static` into <data dir>/dbt_docs/ (index.html, manifest.json, "
    "catalog.json, and static_index.html that opens from disk): every model, column and test with "
    "the catalog of the built warehouse. Runs after the publish, when no step writes the warehouse "
    "file dbt opens. Regenerated only when the dbt project's files or the warehouse's columns changed "
    "(the docs are made of nothing else); the fingerprint is kept in docs_source.sha256.",
)
def dbt_docs(dbt: DbtCliResource, settings: WarehouseSettings) -> dg.MaterializeResult:
    target = dbt_docs_dir(settings.db_path)
    target.mkdir(parents=True, exist_ok=True)
    files = {name: target / name for name in ("index.html", "static_index.html", "manifest.json", "catalog.json")}
    stamp = target / "docs_source.sha256"
    fingerprint = docs_fingerprint(settings.db_path)
    current = stamp.exists() and stamp.read_text() == fingerprint and all(p.exists() for p in files.values())
    if not current:
        stamp.unlink(missing_ok=True)
        dbt.cli(["docs", "generate", "--static"], target_path=target, raise_on_error=True).wait()
        missing = [name for name, path in files.items() if not path.exists()]
        if missing:
            raise dg.Failure(f"dbt docs generate did not write {', '.join(missing)} under {target}")
        stamp.write_text(fingerprint)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(files["static_index.html"])),
            "index": dg.MetadataValue.path(str(files["index.html"])),
            "regenerated": dg.MetadataValue.bool(not current),
            "fingerprint": dg.MetadataValue.text(fingerprint),
        }
    )


def docs_fingerprint(db_path: str) -> str:
    """sha256 of what the dbt docs are built from: the dbt project's files (path and bytes) and the
    warehouse's catalog (schema, table, column, type of every column)."""
    digest = hashlib.sha256()
    for path in project_files():
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "order by all"
        ).fetchall()
    digest.update(repr(columns).encode())
    return digest.hexdigest()
