"""The Great Expectations suites of schemas/gx_suites.py as blocking Dagster asset checks.

One check per table (marts and analysis). Each reads marts.dim_subjects (the cohort the row
counts depend on) from the warehouse, read-only, runs the suite as queries in DuckDB (the table
is never loaded into Python) and updates the Data Docs under <data dir>/docs/. Blocking: a failed suite keeps every asset downstream of the
table from running in that run, so serving/warehouse is not published and analysts keep the
previous, checked copy.
"""

import dagster as dg

from dagster_project.settings import Settings
from dagster_project.lib.warehouse import read_table
from schemas.gx_tables import CHECKED_TABLES  # no GX import: definitions load fast

CHECK_NAME = "great_expectations"


def gx_check(table: str) -> dg.AssetChecksDefinition:
    """A blocking check that runs the table's GX suite."""
    schema, name = table.split(".")

    @dg.asset_check(
        asset=dg.AssetKey([schema, name]),
        name=CHECK_NAME,
        blocking=True,
        description=f"Great Expectations suite `{table}` (schemas/gx_suites.py): the marts.md contract of "
        "the table (ranges, categories, grain, row count from marts.dim_subjects, not-null keys). "
        "Blocking: a failure stops the serving publish. Data Docs: <data dir>/docs/index.html.",
    )
    def _check(context: dg.AssetCheckExecutionContext, settings: Settings) -> dg.AssetCheckResult:
        # Imported here: Great Expectations takes seconds to import, definitions load on every reload.
        from dagster_project.lib.quality.gx_runner import GxFolders, run_suite
        from schemas.gx_suites import SUITES, Cohort, suite_name

        cohort = Cohort.from_dim_subjects(
            read_table(settings.db_path, "marts.dim_subjects", "subject_id, disease, car_t_product, is_infused")
        )
        result = run_suite(suite_name(table), SUITES[table](cohort), f'"{schema}"."{name}"', settings.db_path,
                           run_name=context.run.run_id,
                           folders=GxFolders(root=settings.gx_dir, docs=settings.data_docs_dir))
        metadata: dict[str, dg.MetadataValue] = {
            "suite": dg.MetadataValue.text(result.suite),
            "rows": dg.MetadataValue.int(result.n_rows),
            "expectations": dg.MetadataValue.int(len(result.outcomes)),
            "failed_expectations": dg.MetadataValue.int(len(result.failed)),
            "data_docs": dg.MetadataValue.path(str(result.data_docs_index)),
        }
        if result.validation_page is not None:
            metadata["validation_page"] = dg.MetadataValue.path(str(result.validation_page))
        if result.failed:
            metadata["failures"] = dg.MetadataValue.md(result.failures_markdown())
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=None if result.success else f"{len(result.failed)} expectation(s) failed",
        )

    return _check


gx_checks = [gx_check(table) for table in CHECKED_TABLES]
