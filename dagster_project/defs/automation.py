"""Loads: the refresh job, a sensor on the landing folder and a daily schedule.

- `warehouse_refresh` materializes every asset and runs every check, one step after another in
  one process (as `warehouse run` does: DuckDB has one writer, so steps in parallel processes
  would only wait for each other's lock); each step retries on failure, with a pause.
- `landing_folder_sensor` starts a refresh when a delivery file appears whose bytes the
  warehouse has not recorded (not in the serving copy's audit.deliveries, not seen by the sensor
  before), found by the same scan as ingest; run key = the new files' sha256s, so the same bytes
  never start a second run; the run's tags say how many files and which.
- `daily_refresh` runs the same job every night as a safety net.
"""

import hashlib
import json

import dagster as dg

from dagster_project.lib.ingest.landing import new_deliveries
from dagster_project.lib.ingest.studies import read_landing
from dagster_project.lib.serving.publish import published_deliveries
from dagster_project.settings import Settings

# A step that fails (e.g. "Could not set lock on file") is tried again up to 3 times, 15 s apart.
STEP_RETRY = dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.LINEAR)

warehouse_refresh = dg.define_asset_job(
    "warehouse_refresh",
    selection=dg.AssetSelection.all(),
    op_retry_policy=STEP_RETRY,
    executor_def=dg.in_process_executor,
    description="Materialize every asset once: ingest new deliveries, dbt build, statistics, publish.",
)


@dg.sensor(
    job=warehouse_refresh,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts warehouse_refresh when a new delivery file lands in WAREHOUSE_LANDING_DIR.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext, settings: Settings):
    known = json.loads(context.cursor) if context.cursor else {}
    folders = read_landing(settings.landing, settings.default_study).delivery_folders()
    state, new = new_deliveries(settings.landing, folders, known, loaded=published_deliveries(settings.serving_file))
    context.update_cursor(json.dumps(state))
    if not new:
        return dg.SkipReason("no new delivery")
    run_key = "deliveries-" + hashlib.sha256("".join(new).encode()).hexdigest()[:16]
    files = ", ".join(new.values())
    return dg.RunRequest(run_key=run_key, tags={"new_deliveries": str(len(new)),
                                                "new_files": files if len(files) <= 200 else files[:197] + "..."})


daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=warehouse_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Full refresh every night at 02:00 UTC.",
)
