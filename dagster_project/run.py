"""Run the whole asset graph once, in-process, and print what the warehouse now holds."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from dagster_project.settings import apply_defaults, path
from dagster_project.summary import print_summary


def run_pipeline(selection: str | None = None) -> int:
    """Materialize every asset (or a selection); 0 when all steps and blocking checks passed."""
    apply_defaults()
    from dagster_project.definitions import defs

    definitions = defs()
    job = definitions.resolve_implicit_global_asset_job_def()
    if selection:
        job = job.get_subset(asset_selection=set(dg.AssetSelection.from_string(selection).resolve(definitions.resolve_asset_graph())))
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
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
    serving = path("WAREHOUSE_SERVING_DB_PATH")
    print_summary(Path(path("WAREHOUSE_DB_PATH")), serving, run_id=result.run_id)
    if failed_steps or failed_checks or not result.success:
        print("\nRUN FAILED")
        for step in failed_steps:
            print(f"  failed step: {step}")
        for check in failed_checks:
            print(f"  failed blocking check: {check}")
        return 1
    print(f"\nrun {result.run_id} succeeded; serving file: {serving}")
    return 0
