"""The serving copy: published only when everything upstream, and its blocking checks, passed."""

from functools import cache

import dagster as dg
import pandas as pd

from dagster_project.defs.analysis import analysis_keys
from dagster_project.defs.table_metadata import frame_table
from dagster_project.defs.transform.assets import warehouse_dbt_models
from dagster_project.lib.changes import FINGERPRINT_TAG, PLAN_TAG, publication_of
from dagster_project.lib.serving.publish import PUBLISHED_SCHEMAS, publish
from dagster_project.settings import Settings

SERVING = dg.AssetKey(["serving", "warehouse"])


@cache
def serving_warehouse() -> dg.AssetsDefinition:
    """The publish asset, downstream of every published dbt model and analysis table."""
    published_dbt_keys = [k for k in warehouse_dbt_models().keys if k.path[0] in PUBLISHED_SCHEMAS]

    @dg.asset(
        key=SERVING,
        group_name="serving",
        kinds={"duckdb"},
        deps=[*published_dbt_keys, *analysis_keys()],
        description=(
            "The analysts' read-only copy ($WAREHOUSE_SERVING_DB_PATH): the marts, analysis and audit "
            "schemas, rebuilt in a new file and renamed over the old one, so a reader never sees a "
            "half-built mart and never blocks the pipeline."
        ),
    )
    def _serving_warehouse(context: dg.AssetExecutionContext, settings: Settings) -> dg.MaterializeResult:
        tags = context.run.tags
        # A run not planned by lib/changes.py (a selection, the UI) keeps the fingerprint of the copy
        # it replaces: what it did not rebuild was built by that code (a run after a code change
        # without one is a full run).
        fingerprint = tags.get(FINGERPRINT_TAG) or publication_of(settings.serving_file)[1]
        counts = publish(settings.warehouse_file, settings.serving_file, context.run.run_id,
                         duckdb_config=settings.duckdb_config(), plan=tags.get(PLAN_TAG),
                         build_fingerprint=fingerprint)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(settings.serving_db_path),
                "tables": len(counts),
                "rows": frame_table(pd.DataFrame(sorted(counts.items()), columns=["table", "rows"])),
            }
        )

    return _serving_warehouse


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[serving_warehouse()])
