"""dbt models as Dagster assets: staging, intermediate, marts and audit, with their tests as checks.

Asset keys are `<schema>/<table>` (e.g. marts/agg_toxicity_rates), the names analysts query;
dbt sources point at the ingest assets through `meta.dagster.asset_key`, so lineage runs from a
delivery to every mart.
"""


from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project.lib.transform.project import dbt_cli_vars, dbt_project
from dagster_project.settings import Settings

# Group of each dbt folder in the asset graph (stages a scientist reads left to right).
_GROUPS = {"staging": "staging", "intermediate": "staging", "marts": "marts", "audit": "audit"}


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
            name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
            return dg.AssetKey([schema, name])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        folder = dbt_resource_props.get("fqn", [None, None])[1]
        return _GROUPS.get(folder, "marts")


translator = WarehouseTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def _row_counts(db_path: str, keys: list[dg.AssetKey]) -> dict[dg.AssetKey, int]:
    """Rows of each built table, read after dbt has exited and released the warehouse file.

    dagster-dbt's own `fetch_row_counts()` queries through dbt's adapter inside this process and
    leaves the DuckDB file open here, which then refuses every other connection of the run.
    """
    counts: dict[dg.AssetKey, int] = {}
    with duckdb.connect(db_path, read_only=True) as con:
        existing = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
        existing |= set(con.execute("select schema_name, view_name from duckdb_views()").fetchall())
        for key in keys:
            if len(key.path) == 2 and tuple(key.path) in existing:
                counts[key] = con.execute(f'select count(*) from "{key.path[0]}"."{key.path[1]}"').fetchone()[0]
    return counts


# dbt `unit_tests:` check the models' logic on fixed inputs, not the data: they run in the test
# suite (tests/test_dbt_unit_tests.py), not on every load, as dbt's docs advise.
@cache
def warehouse_dbt_models() -> dg.AssetsDefinition:
    """The dbt assets, built once per process from the prepared manifest (not on import)."""
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        exclude="resource_type:unit_test",
        name="warehouse_dbt_models",
    )
    def _models(context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: Settings):
        """Build every selected model and seed and run their data tests in dependency order (dbt build)."""
        settings.export_environment()  # dbt reads the warehouse file, time zone and memory limit from it
        events = list(dbt.cli(["build", *dbt_cli_vars()], context=context).stream())
        outputs = [e for e in events if isinstance(e, dg.Output)]
        counts = _row_counts(settings.db_path, [context.asset_key_for_output(o.output_name) for o in outputs])
        for event in events:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                if key in counts:
                    event = dg.Output(
                        value=event.value,
                        output_name=event.output_name,
                        metadata={**event.metadata, "dagster/row_count": counts[key]},
                        data_version=event.data_version,
                        tags=event.tags,
                    )
            yield event

    return _models


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[warehouse_dbt_models()])
