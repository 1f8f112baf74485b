"""The landing-folder sensor and the refresh job: a new delivery starts one run that loads only
it; the same bytes under another name start nothing."""

from __future__ import annotations

import io
import os
import shutil
from contextlib import redirect_stdout

import dagster as dg
import duckdb
import pytest

from conftest import generate_cohort, warehouse_env


@pytest.fixture()
def small_warehouse(tmp_path):
    generate_cohort("scale", tmp_path, subjects=20)
    saved = dict(os.environ)
    os.environ.update(warehouse_env(tmp_path))
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def _tick(cursor):
    from dagster_project.defs.automation import landing_folder_sensor
    from dagster_project.settings import Settings

    settings = Settings.from_env()
    settings.prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:  # DAGSTER_HOME of warehouse_env: the runs of run_pipeline
        context = dg.build_sensor_context(cursor=cursor, instance=instance,
                                          resources={"settings": settings})
        return landing_folder_sensor(context), context.cursor


def test_sensor_requests_a_run_once_per_new_bytes(small_warehouse):
    first, cursor = _tick(None)
    assert isinstance(first, dg.RunRequest)
    again, cursor = _tick(cursor)
    assert isinstance(again, dg.SkipReason)

    vitals = sorted((small_warehouse / "landing" / "vitals").iterdir())[0]
    shutil.copy(vitals, vitals.with_name("copy_of_" + vitals.name))  # same bytes, new name
    same_bytes, cursor = _tick(cursor)
    assert isinstance(same_bytes, dg.SkipReason)

    new_file = vitals.with_name("2030-01-01_new.csv")
    lines = vitals.read_text().splitlines()
    new_file.write_text("\n".join(lines[:3]).replace(":00", ":01") + "\n")
    new, cursor = _tick(cursor)
    assert isinstance(new, dg.RunRequest)
    assert new.run_key != first.run_key
    assert {k: new.tags[k] for k in ("new_deliveries", "new_files")} == {
        "new_deliveries": "1", "new_files": "vitals/2030-01-01_new.csv"}
    # the run is planned as `warehouse run` plans: the first, before any publish, rebuilds everything;
    # once published, a vitals file selects its ingest asset and what is downstream, not other sources
    assert first.tags["warehouse/plan"] == "full" and first.asset_selection is None
    assert new.tags["warehouse/plan"] == "full"  # still nothing published here


def test_sensor_run_after_a_publish_selects_what_the_file_changes(small_warehouse):
    from dagster_project.run import run_pipeline

    with redirect_stdout(io.StringIO()):
        assert run_pipeline() == 0
    vitals = sorted((small_warehouse / "landing" / "vitals").iterdir())[0]
    lines = vitals.read_text().splitlines()
    vitals.with_name("2030-01-01_new.csv").write_text("\n".join(lines[:3]).replace(":00", ":01") + "\n")
    tick, _ = _tick(None)
    assert isinstance(tick, dg.RunRequest)
    assert tick.tags["warehouse/plan"] == "changed" and tick.tags["warehouse/changed_studies"] == "default"
    selected = {key.to_user_string() for key in tick.asset_selection}
    assert {"raw/vitals", "staging/stg_clinical__vitals", "serving/warehouse", "reports/html_report"} <= selected
    assert not {"raw/serum_labs", "raw/subjects", "staging/stg_serum__labs"} & selected


def test_sensor_ignores_bytes_the_warehouse_already_recorded(small_warehouse):
    """A fresh sensor (no cursor, e.g. a new Dagster instance) after a run: nothing is new."""
    from dagster_project.run import run_pipeline

    with redirect_stdout(io.StringIO()):
        assert run_pipeline() == 0
    tick, _ = _tick(None)
    assert isinstance(tick, dg.SkipReason)


def test_new_delivery_run_loads_only_it_and_refreshes_marts(small_warehouse):
    from dagster_project.definitions import defs
    from dagster_project.run import run_pipeline

    with redirect_stdout(io.StringIO()):
        assert run_pipeline() == 0
    landing = small_warehouse / "landing" / "serum_labs"
    template = sorted(landing.iterdir())[0]
    header, first_row = template.read_text().splitlines()[:2]
    cells = first_row.split(",")
    column = header.split(",").index("collected_at")
    late_time = cells[column][:10] + "T23:59:00"  # same day as a delivered sample, a new time
    cells[column] = late_time
    (landing / "2030-01-01_late.csv").write_text(header + "\n" + ",".join(cells) + "\n")

    job = defs().resolve_job_def("warehouse_refresh")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    materialized = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert materialized["raw/serum_labs"]["new_deliveries"].value == 1
    for source in ("raw/vitals", "raw/serum_cytokines", "raw/subjects"):
        assert materialized[source]["new_deliveries"].value == 0
    assert "marts/fct_biomarker_results" in materialized
    with duckdb.connect(os.environ["WAREHOUSE_SERVING_DB_PATH"], read_only=True) as con:
        late = con.execute(
            "select count(*) from marts.fct_biomarker_results where collected_at = cast(? as timestamp)",
            [late_time.replace("T", " ")],
        ).fetchone()[0]
    assert late == 1


def test_no_run_is_requested_while_the_last_one_is_in_progress(small_warehouse):
    """A new delivery while a run writes the warehouse: the sensor waits for that run's end (a plan
    made now would see a run that has not published and rebuild everything)."""
    from dagster_project.settings import Settings

    Settings.from_env().prepare_dagster_home()
    with dg.DagsterInstance.get() as instance:
        running = instance.add_run(dg.DagsterRun(job_name="warehouse_refresh", status=dg.DagsterRunStatus.STARTED))
    tick, cursor = _tick(None)
    assert isinstance(tick, dg.SkipReason) and f"run {running.run_id[:8]} is in progress" in tick.skip_message
    with dg.DagsterInstance.get() as instance:
        instance.handle_run_event(running.run_id, dg.DagsterEvent(
            event_type_value="PIPELINE_SUCCESS", job_name="warehouse_refresh", message="ended"))
        assert instance.get_run_by_id(running.run_id).is_finished
    tick, _ = _tick(cursor)
    assert isinstance(tick, dg.RunRequest)  # every file is new: nothing was ever published
