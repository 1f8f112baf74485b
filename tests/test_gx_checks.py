"""A failing blocking GX check stops the serving publish (an actual in-process Dagster run).

The real check (dagster_project/defs/quality/gx_checks.py) and the real serving asset
(serving/warehouse) run with two stand-in assets keyed like the dbt marts, which write
marts.dim_subjects (with marts.dim_studies) and marts.agg_consort into a warehouse under tmp. With a consort that
disagrees with dim_subjects the check fails, Dagster fails its step and never starts
serving/warehouse, so no serving file appears; with a correct one (the control) it is published.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from dagster_project.defs.serving.assets import serving_warehouse
from dagster_project.defs.quality.checks import gx_check, gx_checks
from dagster_project.settings import Settings
from dagster_project.lib.warehouse import read_table, replace_tables
from schemas.vocabulary import CONSORT_STEPS

SUBJECTS = pd.DataFrame({
    "study_id": ["default"] * 3, "subject_id": ["S1", "S2", "S3"], "site_id": ["a", "a", "b"], "age_years": [60, 70, 55],
    "sex": ["F", "M", "F"], "disease": ["LBCL", "MCL", "LBCL"], "car_t_product": ["axi-cel", "brexu-cel", None],
    "infused_on": pd.to_datetime(["2023-01-20", "2023-01-25", None]).date, "is_infused": [True, True, False],
    "not_infused_reason": [None, None, "withdrew consent"],
})
STUDIES = pd.DataFrame({"study_id": ["default"], "title": ["park2023"], "time_mode": ["calendar"], "n_subjects": [3],
                        "n_deliveries": [7], "last_delivery_at": [pd.Timestamp("2024-01-01")],
                        "primary_toxicity_criteria": ["ASTCT2019"], "kinetics_group_by": ["ICANS"]})
STEPS = list(CONSORT_STEPS)
GOOD_CONSORT = pd.DataFrame({"study_id": ["default"] * 5, "step_order": [1, 2, 3, 4, 5], "step": STEPS,
                             "n_subjects": [3, 2, 1, 2, 2]})
BAD_CONSORT = GOOD_CONSORT.assign(n_subjects=[3, 5, 1, 2, 2])  # infused 5 of 3 enrolled


def _run(tmp_path, consort: pd.DataFrame) -> tuple[dg.ExecuteInProcessResult, Settings]:
    settings = Settings.from_env({},
        landing_dir=str(tmp_path / "landing"),
        db_path=str(tmp_path / "warehouse.duckdb"),
        serving_db_path=str(tmp_path / "serving.duckdb"),
    )

    @dg.asset(key=["marts", "dim_subjects"])
    def dim_subjects(settings: Settings) -> None:
        replace_tables(settings.db_path, "marts", {"dim_subjects": SUBJECTS, "dim_studies": STUDIES})

    @dg.asset(key=["marts", "agg_consort"], deps=[dim_subjects])
    def agg_consort(settings: Settings) -> None:
        replace_tables(settings.db_path, "marts", {"agg_consort": consort})

    result = dg.materialize(
        [dim_subjects, agg_consort, gx_check("marts.dim_subjects"), gx_check("marts.agg_consort"), serving_warehouse()],
        resources={"settings": settings},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result, settings


def _checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def test_checks_are_blocking_and_cover_every_suite():
    assert len(gx_checks) == 14
    for check in gx_checks:
        (spec,) = check.check_specs
        assert spec.blocking and spec.name == "great_expectations"


def test_failing_gx_check_stops_the_serving_publish(tmp_path):
    result, settings = _run(tmp_path, BAD_CONSORT)

    checks = _checks(result)
    assert checks["marts/dim_subjects"].passed
    failed = checks["marts/agg_consort"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert "infused" in failed.metadata["failures"].value
    assert (tmp_path / "docs" / "index.html").exists()
    assert failed.metadata["data_docs"].value == str(tmp_path / "docs" / "index.html")

    # Dagster fails the check's step (DagsterAssetCheckFailedError) and never starts the publish
    assert not result.success
    failed_steps = {e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"}
    assert failed_steps == {"marts__agg_consort_great_expectations"}
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "serving__warehouse" not in started
    assert "serving/warehouse" not in _materialized(result)
    assert not (tmp_path / "serving.duckdb").exists()


def test_passing_gx_checks_let_the_serving_copy_publish(tmp_path):
    result, settings = _run(tmp_path, GOOD_CONSORT)
    assert result.success
    assert all(e.passed for e in _checks(result).values())
    assert "serving/warehouse" in _materialized(result)
    published = read_table(settings.serving_db_path, "marts.agg_consort")
    assert published["n_subjects"].tolist() == [3, 2, 1, 2, 2]


def test_every_checked_table_feeds_the_serving_copy():
    """In the project's own graph, each checked table is a direct parent of serving/warehouse, so
    its blocking check gates the publish; the report and dbt docs come after the publish."""
    from dagster_project.definitions import defs

    graph = defs().resolve_asset_graph()
    serving = graph.get(dg.AssetKey(["serving", "warehouse"]))
    for check in gx_checks:
        (key,) = {spec.asset_key for spec in check.check_specs}
        assert key in serving.parent_keys, key
        assert check.check_keys <= graph.asset_check_keys
    for report in (["reports", "html_report"], ["reports", "dbt_docs"]):
        assert serving.key in graph.get(dg.AssetKey(report)).parent_keys
