"""Analyst-facing outputs built after the serving copy is published: the static HTML report
and the dbt docs site, both under the data folder (<data dir>/reports/, <data dir>/dbt_docs/).
Their own group, `reports` (the last stage of docs/architecture.md), after `serving`."""

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.defs.analysis import analysis_keys
from dagster_project.defs.stages import REPORTS
from dagster_project.defs.serving.assets import SERVING
from dagster_project.lib.report.html_report import build_report
from dagster_project.lib.transform.project import dbt_cli_vars
from dagster_project.lib.transform.docs import DOCS_FILES, STAMP, docs_are_current, docs_fingerprint
from dagster_project.settings import Settings

REPORTED_MARTS = [
    dg.AssetKey(["marts", "dim_studies"]),
    dg.AssetKey(["marts", "agg_consort"]),
    dg.AssetKey(["marts", "agg_toxicity_rates"]),
    dg.AssetKey(["marts", "agg_response_rates"]),
    dg.AssetKey(["audit", "deliveries"]),
    dg.AssetKey(["audit", "quarantine"]),
]


@dg.asset(
    key=["reports", "html_report"],
    group_name=REPORTS,
    kinds={"html"},
    deps=[SERVING, *REPORTED_MARTS, *analysis_keys()],
    description="One self-contained HTML file (<data dir>/reports/warehouse_report.html) from the "
    "published serving copy, per study (one part per study when there are several): CONSORT, CRS/ICANS/"
    "IEC-HS and response rates with exact CIs, Kaplan-Meier summary, CSF before/after, intervention tests "
    "when present, the study's figures (embedded PNG from <data dir>/figures/<study_id>/); then "
    "every delivery file and the latest quarantined rows (file, row, column, rule, value); stamped "
    "with the data version (hash of the delivery sha256s) and the run id. Aggregates and the audit "
    "trail; no identifying data. Each published number with row-level lineage (toxicity and response "
    "rates, Kaplan-Meier medians, log-rank, CSF and anakinra p-values, CSF medians) links to its explain page "
    "(<data dir>/reports/explain/<hash>.html: the subjects or samples behind it and the delivered rows that "
    "decided them, what `warehouse explain` prints), written in the same step.",
)
def html_report(context: dg.AssetExecutionContext, settings: Settings) -> dg.MaterializeResult:
    report = build_report(
        serving_path=settings.serving_db_path,
        figures_dir=settings.figures_dir,
        out_path=settings.report_path,
        run_id=context.run.run_id,
        warehouse_path=settings.db_path,
        explain_max_subjects=settings.report_explain_max_subjects,
    )
    for table, reason in report.explain_errors.items():
        context.log.warning(f"the numbers of {table} are not linked to explain pages: {reason}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(report.path)),
            "data_version": dg.MetadataValue.text(report.data_version),
            "deliveries": dg.MetadataValue.int(report.n_deliveries),
            "figures": dg.MetadataValue.int(len(report.figures)),
            "size_bytes": dg.MetadataValue.int(report.path.stat().st_size),
            "explain_pages": dg.MetadataValue.int(report.explain_pages),
            "explain_seconds": dg.MetadataValue.float(round(report.explain_seconds, 2)),
        },
        data_version=dg.DataVersion(report.data_version),
    )


@dg.asset(
    key=["reports", "dbt_docs"],
    group_name=REPORTS,
    kinds={"dbt"},
    deps=[SERVING],
    description="`dbt docs generate --static` into <data dir>/dbt_docs/ (index.html, manifest.json, "
    "catalog.json, and static_index.html that opens from disk): every model, column and test with "
    "the catalog of the built warehouse. Runs after the publish, when no step writes the warehouse "
    "file dbt opens. Regenerated only when the dbt project's files or the warehouse's columns changed "
    "(the docs are made of nothing else); the fingerprint is kept in docs_source.sha256.",
)
def dbt_docs(dbt: DbtCliResource, settings: Settings) -> dg.MaterializeResult:
    target = settings.dbt_docs_dir
    target.mkdir(parents=True, exist_ok=True)
    fingerprint = docs_fingerprint(settings.db_path)
    current = docs_are_current(target, fingerprint)
    if not current:
        (target / STAMP).unlink(missing_ok=True)
        settings.export_environment()
        dbt.cli(["docs", "generate", "--static", *dbt_cli_vars()], target_path=target, raise_on_error=True).wait()
        missing = [name for name in DOCS_FILES if not (target / name).exists()]
        if missing:
            raise dg.Failure(f"dbt docs generate did not write {', '.join(missing)} under {target}")
        (target / STAMP).write_text(fingerprint)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target / "static_index.html")),
            "index": dg.MetadataValue.path(str(target / "index.html")),
            "regenerated": dg.MetadataValue.bool(not current),
            "fingerprint": dg.MetadataValue.text(fingerprint),
        }
    )
