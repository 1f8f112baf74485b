"""Loads: the refresh job, a sensor on the landing folder and a daily schedule.

- `warehouse_refresh` materializes assets and runs their checks, one step after another in one
  process (as `warehouse run` does: DuckDB has one writer, so steps in parallel processes would
  only wait for each other's lock); each step retries on failure, with a pause. Launched by hand
  (the UI) it materializes everything.
- `landing_folder_sensor` starts a refresh when a delivery file appears whose bytes the
  warehouse has not published (not in the serving copy's audit.deliveries, not seen by the sensor
  before), found by the same scan as ingest; run key = the new files' sha256s, so the same bytes
  never start a second run; the run's tags say how many files and which.
- `daily_refresh` every night: a run of whatever the serving copy lacks (a delivery a failed run
  left unpublished, a change of code or settings), skipped when it is current.

The sensor's and the schedule's runs are planned as `warehouse run` plans (lib/changes.py): only
the sources with new deliveries and what is downstream of them (`plan_selection`), or everything
when the code or settings changed or the last run did not publish; the plan travels in the run's
tags. Neither requests a run while the last one is still in progress (DuckDB has one writer).
"""

import hashlib
import json

import dagster as dg

from dagster_project.lib.changes import RunPlan, plan_run
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


def plan_selection(plan: RunPlan) -> dg.AssetSelection:
    """The assets a changed run materializes: the ingest assets of the plan's sources and
    everything downstream of them (dbt models, analysis, the serving copy, the reports)."""
    if plan.full:
        return dg.AssetSelection.all()
    return dg.AssetSelection.assets(*(dg.AssetKey(["raw", source]) for source in sorted(plan.sources))).downstream()


def latest_run(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """The last run the Dagster instance recorded (of any job or selection: each writes the
    warehouse file), or None."""
    runs = instance.get_runs(limit=1)
    return runs[0] if runs else None


def plan_next_run(settings: Settings, last: dg.DagsterRun | None, *, full: bool = False,
                  known: dict[str, list] | None = None) -> tuple[RunPlan, dict[str, list]]:
    """lib/changes.py's plan for these settings, after the run `last` (`latest_run`): what
    `warehouse run`, the sensor and the schedule run."""
    return plan_run(settings.landing, settings.serving_file, settings.default_study, full=full, known=known,
                    warehouse_path=settings.warehouse_file, last_run_id=last.run_id if last else None)


def _still_running(last: dg.DagsterRun | None) -> dg.SkipReason | None:
    """A run is still in progress: plan nothing until it ends (it would look unpublished)."""
    if last and not last.is_finished:
        return dg.SkipReason(f"run {last.run_id[:8]} is in progress; the next tick looks again")
    return None


def _run_request(plan: RunPlan, run_key: str | None = None) -> dg.RunRequest:
    files = ", ".join(plan.files.values())
    tags = {**plan.tags(), "new_deliveries": str(len(plan.files)),
            "new_files": files if len(files) <= 200 else files[:197] + "..."}
    return dg.RunRequest(run_key=run_key, tags=tags,
                         asset_selection=None if plan.full else list(_selected_keys(plan)))


def _selected_keys(plan: RunPlan) -> list[dg.AssetKey]:
    from dagster_project.definitions import defs

    return sorted(plan_selection(plan).resolve(defs().resolve_asset_graph()))


@dg.sensor(
    job=warehouse_refresh,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts warehouse_refresh when a new delivery file lands in WAREHOUSE_LANDING_DIR.",
)
def landing_folder_sensor(context: dg.SensorEvaluationContext, settings: Settings):
    known = json.loads(context.cursor) if context.cursor else {}
    last = latest_run(context.instance)
    if busy := _still_running(last):
        return busy
    plan, state = plan_next_run(settings, last, known=known)
    context.update_cursor(json.dumps(state))
    if not plan.files:
        return dg.SkipReason("no new delivery")
    run_key = "deliveries-" + hashlib.sha256("".join(plan.files).encode()).hexdigest()[:16]
    return _run_request(plan, run_key)


@dg.schedule(
    name="daily_refresh",
    job=warehouse_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 02:00 UTC: a run of what the serving copy lacks (planned as `warehouse run` "
    "plans), skipped when it is current.",
)
def daily_refresh(context: dg.ScheduleEvaluationContext, settings: Settings):
    last = latest_run(context.instance)
    if busy := _still_running(last):
        return busy
    plan, _ = plan_next_run(settings, last)
    if plan.nothing_to_do:
        return dg.SkipReason(plan.reason)
    return _run_request(plan)
