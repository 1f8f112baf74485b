"""The serving copy: published only when everything upstream, and its blocking checks, passed."""


from pathlib import Path

import dagster as dg

from dagster_project.defs.analysis import analysis_keys
from dagster_project.defs.resources import WarehouseSettings
from dagster_project.defs.transform.dbt_models import warehouse_dbt_models
from dagster_project.publish import PUBLISHED_SCHEMAS, publish

_published_dbt_keys = [k for k in warehouse_dbt_models.keys if k.path[0] in PUBLISHED_SCHEMAS]


@dg.asset(
    key=dg.AssetKey(["serving", "warehouse"]),
    group_name="serving",
    kinds={"duckdb"},
    deps=[*_published_dbt_keys, *analysis_keys()],
    description=(
        "The analysts' read-only copy ($WAREHOUSE_SERVING_DB_PATH): the marts, analysis and audit "
        "schemas, rebuilt in a new file and renamed over the old one, so a reader never sees a "
        "half-built mart and never blocks the pipeline."
    ),
)
def serving_warehouse(context: dg.AssetExecutionContext, settings: WarehouseSettings) -> dg.MaterializeResult:
    counts = publish(Path(settings.db_path), Path(settings.serving_db_path), context.run.run_id)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(settings.serving_db_path),
            "tables": len(counts),
            "rows": dg.MetadataValue.md(
                "\n".join(["| table | rows |", "|---|---|"] + [f"| {t} | {n} |" for t, n in sorted(counts.items())])
            ),
        }
    )
