"""The Great Expectations suites of schemas/gx_suites.py as blocking Dagster asset checks.

One check per table (marts and analysis). Each reads the cohort the row counts depend on from
the warehouse, read-only (`read_cohort`: marts.dim_subjects, marts.dim_studies with each study's
settings from raw.studies, the attribute values of a study grouping its kinetics by one, the
toxicity criteria its staged deliveries use), runs the suite as queries in DuckDB (the table is never loaded into
Python) and updates the Data Docs under <data dir>/docs/. Blocking: a failed suite keeps every asset downstream of the
table from running in that run, so serving/warehouse is not published and analysts keep the
previous, checked copy.
"""

import dagster as dg

import duckdb

from dagster_project.settings import Settings
from schemas.gx_tables import CHECKED_TABLES  # no GX import: definitions load fast

CHECK_NAME = "great_expectations"


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                            [schema, table]).fetchone()[0])


def read_cohort(db_path, cohort_class):
    """The Cohort of the warehouse (schemas.gx_suites.Cohort, passed in: GX imports late)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        subjects = con.execute("select study_id, subject_id, disease, car_t_product, is_infused "
                               "from marts.dim_subjects order by all").df()
        studies = attributes = None
        if _exists(con, "marts", "dim_studies"):
            settings = ("r.settings_json" if _exists(con, "raw", "studies") else "null as settings_json")
            join = ("left join (select study_id, any_value(settings_json) as settings_json from raw.studies "
                    "where status = 'valid' group by 1) r using (study_id)" if _exists(con, "raw", "studies") else "")
            studies = con.execute(f"select d.*, {settings} from marts.dim_studies d {join} order by study_id").df()
        if _exists(con, "marts", "dim_subject_attributes"):
            attributes = con.execute("select study_id, subject_id, attribute, value "
                                     "from marts.dim_subject_attributes").df()
        # the toxicity data delivered, by criteria: adjudicated daily grades (CRS, ICANS) and summaries
        used = []
        if _exists(con, "staging", "stg_clinical__toxicity_assessments"):
            used += [f"select distinct study_id, '{tox}' as toxicity, criteria from "
                     f"staging.stg_clinical__toxicity_assessments where {tox.lower()}_grade is not null"
                     for tox in ("CRS", "ICANS")]
        if _exists(con, "staging", "stg_clinical__toxicity_summaries"):
            used.append("select distinct study_id, toxicity, criteria from staging.stg_clinical__toxicity_summaries")
        criteria_used = con.execute(" union ".join(used)).df() if used else None
    return cohort_class.from_dim_subjects(subjects, studies, attributes, criteria_used)


def gx_check(table: str) -> dg.AssetChecksDefinition:
    """A blocking check that runs the table's GX suite."""
    schema, name = table.split(".")

    @dg.asset_check(
        asset=dg.AssetKey([schema, name]),
        name=CHECK_NAME,
        blocking=True,
        description=f"Great Expectations suite `{table}` (schemas/gx_suites.py): the marts.md contract of "
        "the table (study_id first, ranges, categories, grain, row count per study from marts.dim_subjects "
        "and marts.dim_studies, not-null keys). "
        "Blocking: a failure stops the serving publish. Data Docs: <data dir>/docs/index.html.",
    )
    def _check(context: dg.AssetCheckExecutionContext, settings: Settings) -> dg.AssetCheckResult:
        # Imported here: Great Expectations takes seconds to import, definitions load on every reload.
        from dagster_project.lib.quality.gx_runner import GxFolders, run_suite
        from schemas.gx_suites import SUITES, Cohort, suite_name

        cohort = read_cohort(settings.db_path, Cohort)
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
