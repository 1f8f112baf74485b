"""dbt models as Dagster assets: staging, intermediate, marts and audit, with their tests as checks.

Asset keys are `<schema>/<table>` (e.g. marts/agg_toxicity_rates), the names analysts query;
dbt sources point at the ingest assets through `meta.dagster.asset_key`, so lineage runs from a
delivery to every mart. Groups are the stages (defs/stages.py): each dbt folder its own group
(staging, intermediate, marts, audit) and the seeds `reference`.

After `dbt build` has exited, each built table's materialization gets its row count, its columns
with their DuckDB types (and the yml's column descriptions) and, for the marts that have one, its
headline rows (defs/table_metadata.py). A dbt test's check is described by the test's own
description or, for a generic test that has none, by what it asserts (`not_null on subject_id`).
"""


import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from dagster_project.defs import stages
from dagster_project.defs.table_metadata import column_descriptions, table_metadata
from dagster_project.lib.changes import PLAN_TAG, STUDIES_TAG
from dagster_project.lib.transform.project import dbt_cli_vars, dbt_project
from dagster_project.settings import DBT_PROJECT_DIR, Settings

# Group of each dbt folder in the asset graph (the stages a scientist reads left to right).
_GROUPS = {"staging": stages.STAGING, "intermediate": stages.INTERMEDIATE, "marts": stages.MARTS,
           "audit": stages.AUDIT}

# What dbt's built-in column tests assert, for the checks' descriptions (accepted_values and
# relationships are described by their arguments).
_GENERIC_TESTS = {"not_null": "no row has it empty", "unique": "no two rows share a value"}


def _column_label(column: str) -> str:
    """A test's column, or its columns when the test is on an expression `a || '|' || b`."""
    if "||" not in column:
        return column
    parts = [p.strip() for p in column.split("||")]
    return "(" + ", ".join(p for p in parts if not p.startswith("'")) + ")"


def _argument_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    ref = re.fullmatch(r"""ref\(['"](.+?)['"]\)""", str(value))
    return ref.group(1) if ref else str(value)


def _generic_test_doc(macro: Mapping[str, Any] | None) -> str:
    """The leading `{#- ... -#}` comment of a custom generic test (dbt/tests/generic/*.sql), one line."""
    if not macro:
        return ""
    if macro.get("description"):
        return str(macro["description"])
    path = DBT_PROJECT_DIR / macro.get("original_file_path", "")
    text = path.read_text() if path.is_file() else ""
    doc = re.match(r"\s*\{#-?(.*?)-?#\}", text, flags=re.S)
    return " ".join(doc.group(1).split()) if doc else ""


def dbt_test_description(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> str | None:
    """A dbt test's description: its own (`description:` in the yml, or meta.description), else for
    a generic test what it checks, e.g. `not_null on subject_id: no row has it empty` or
    `accepted_values on toxicity: CRS, ICANS`; None for a singular test without one."""
    own = test.get("description") or (test.get("meta") or {}).get("description")
    if own:
        return own
    metadata = test.get("test_metadata") or {}
    name = metadata.get("name")
    if not name:
        return None
    kwargs = {k: v for k, v in (metadata.get("kwargs") or {}).items() if k not in ("model", "column_name")}
    column = test.get("column_name") or (metadata.get("kwargs") or {}).get("column_name")
    head = f"{name} on {_column_label(column)}" if column else name
    where = (test.get("config") or {}).get("where")
    scope = f" (rows where {where})" if where else ""
    if name == "accepted_values":
        return f"{head}: {_argument_text(kwargs.get('values', []))}{scope}"
    if name == "relationships":
        return f"{head}: every value is in {_argument_text(kwargs.get('to'))}.{kwargs.get('field')}{scope}"
    if name == "relationships_in_study":
        return (f"{head}: every (study_id, value) is in {_argument_text(kwargs.get('to'))}.(study_id, "
                f"{kwargs.get('field')}){scope}")
    if name in _GENERIC_TESTS:
        return f"{head}: {_GENERIC_TESTS[name]}{scope}"
    arguments = "; ".join(f"{k}: {_argument_text(v)}" for k, v in kwargs.items())
    namespace = metadata.get("namespace") or test.get("package_name")
    doc = _generic_test_doc(manifest.get("macros", {}).get(f"macro.{namespace}.test_{name}"))
    return " ".join(part for part in (f"{head} ({arguments}){scope}" if arguments else head + scope,
                                      doc and f"- {doc}") if part)


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            schema = dbt_resource_props["config"].get("schema") or dbt_resource_props["schema"]
            name = dbt_resource_props.get("alias") or dbt_resource_props["name"]
            return dg.AssetKey([schema, name])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return stages.REFERENCE
        folder = dbt_resource_props.get("fqn", [None, None])[1]
        return _GROUPS.get(folder, stages.MARTS)

    def get_asset_check_spec(self, asset_spec: dg.AssetSpec, manifest: Mapping[str, Any], unique_id: str,
                             project: Any) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        description = dbt_test_description(manifest["nodes"][unique_id], manifest)
        return spec._replace(description=description) if description else spec


translator = WarehouseTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def build_args(tags: Mapping[str, str]) -> list[str]:
    """`dbt build` as a run's plan (lib/changes.py) asks: a changed run rebuilds the staging rows of
    its studies only (var changed_studies, macros/changed_studies.sql); a full run rebuilds every
    incremental model from scratch; a run without a plan (a selection, the UI) rebuilds the
    selected models for every study."""
    plan = tags.get(PLAN_TAG)
    # dagster-dbt replaces the asset definition's `exclude` by its own `--select` when the run is a
    # subset: unit tests (run by the test suite, not on loads) stay out of every build here.
    build = ["build", "--exclude", "resource_type:unit_test"]
    if plan == "changed":
        studies = [s for s in tags.get(STUDIES_TAG, "").split(",") if s]
        return [*build, *dbt_cli_vars(changed_studies=studies)]
    return [*build, *dbt_cli_vars(), *(["--full-refresh"] if plan == "full" else [])]


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
        events = list(dbt.cli(build_args(context.run.tags), context=context).stream())
        # Rows, column types and headlines are read here, after dbt has exited and released the
        # warehouse file: dagster-dbt's own fetch_row_counts() / fetch_column_metadata() query
        # through dbt's adapter inside this process and leave the DuckDB file open, which then
        # refuses every other connection of the run.
        keys = {e.output_name: context.asset_key_for_output(e.output_name) for e in events if isinstance(e, dg.Output)}
        specs = context.assets_def.specs_by_key
        described = {key: column_descriptions(specs[key].metadata) for key in keys.values() if key in specs}
        facts = table_metadata(settings.db_path, keys.values(), described)
        for event in events:
            if isinstance(event, dg.Output) and keys[event.output_name] in facts:
                event = dg.Output(
                    value=event.value,
                    output_name=event.output_name,
                    metadata={**event.metadata, **facts[keys[event.output_name]]},
                    data_version=event.data_version,
                    tags=event.tags,
                )
            yield event

    return _models


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[warehouse_dbt_models()])
