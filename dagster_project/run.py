"""Run the whole asset graph once, in-process, and print what the warehouse now holds."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb

from dagster_project.settings import Settings
from dagster_project.lib.report.summary import print_summary


# How long a run waits for another process to release the warehouse file before giving up.
LOCK_ATTEMPTS = 6
LOCK_RETRY_SECONDS = 2.0


def warehouse_lock_error(db_path: Path) -> str | None:
    """None when the warehouse file can be opened for writing (retrying while another process
    holds it); else DuckDB's reason. Opening also replays a WAL left by a killed writer."""
    if not db_path.exists():
        return None
    for attempt in range(LOCK_ATTEMPTS):
        try:
            duckdb.connect(str(db_path)).close()
            return None
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            reason = str(exc)
            if attempt < LOCK_ATTEMPTS - 1:
                print(f"warehouse file {db_path} is in use by another process; retrying in {LOCK_RETRY_SECONDS:g} s",
                      file=sys.stderr)
                time.sleep(LOCK_RETRY_SECONDS)
    return reason


def run_pipeline(selection: str | None = None) -> int:
    """Materialize every asset (or a selection, with the checks of the selected assets); 0 when all
    steps and blocking checks passed."""
    settings = Settings.from_env()
    # dbt and Dagster's instance read these variables: absolute paths, and the instance config.
    settings.export_environment()
    settings.prepare_dagster_home()
    db_path = settings.warehouse_file
    locked = warehouse_lock_error(db_path)
    if locked:
        print(
            f"\nRUN FAILED\n  the warehouse file {db_path} is held by another process "
            f"(still after {LOCK_ATTEMPTS} attempts over {(LOCK_ATTEMPTS - 1) * LOCK_RETRY_SECONDS:g} s); "
            f"close that connection and run again.\n  DuckDB: {locked}"
        )
        return 1
    from dagster_project.definitions import defs

    definitions = defs()
    job = definitions.resolve_implicit_global_asset_job_def()
    if selection:
        keys = set(dg.AssetSelection.from_string(selection).resolve(definitions.resolve_asset_graph()))
        job = job.get_subset(asset_selection=keys)
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    started = datetime.now(timezone.utc).replace(tzinfo=None)  # the ingest's clock (UTC, naive)
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    failed_checks = [
        e.asset_check_evaluation_data.asset_check_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    serving = settings.serving_file
    try:
        print_summary(db_path, serving, files_since=started)
    except duckdb.IOException as exc:  # e.g. another process took the warehouse file meanwhile
        print(f"\nno summary: {exc}")
    if failed_steps or failed_checks or not result.success:
        print("\nRUN FAILED")
        for step in failed_steps:
            print(f"  failed step: {step}")
        for check in failed_checks:
            print(f"  failed blocking check: {check}")
        return 1
    print(f"\nrun {result.run_id} succeeded; serving file: {serving}")
    return 0
