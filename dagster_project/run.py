"""Run the whole asset graph once, in-process, show its progress and print what the warehouse now holds."""

from __future__ import annotations

import io
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import dagster as dg
import duckdb

from dagster_project.defs.automation import latest_run, plan_next_run, plan_selection
from dagster_project.lib.changes import RunPlan
from dagster_project.settings import Settings
from dagster_project.lib.report.summary import print_summary
from dagster_project.run_display import RunDisplay, file_logger, progress_logger, step_stages


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


class _Tee(io.TextIOBase):
    """Text written to every stream of `streams` (the run log, and the terminal with --verbose)."""

    def __init__(self, *streams: TextIO) -> None:
        self.streams = list(streams)

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def fileno(self) -> int:  # what writes to the file descriptor itself lands in the log
        return self.streams[0].fileno()


def run_pipeline(selection: str | None = None, verbose: bool = False, full: bool = False) -> int:
    """Materialize what changed since the published copy (lib/changes.py: the sources with new
    deliveries and everything downstream), everything with `full` (or when the code or settings
    changed), or exactly `selection` (with the checks of the selected assets); 0 when all steps and
    blocking checks passed, or when nothing was new.

    Prints the progress (run_display.py) and the summary; Dagster's log of the run and dbt's output
    go to the run log (Settings.run_log), and with `verbose` to this output too."""
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
    out = sys.stdout
    plan = None
    if selection is None:
        with dg.DagsterInstance.get() as instance:
            last = latest_run(instance)
        plan, _ = plan_next_run(settings, last, full=full)
        print(f"warehouse run: {plan.reason}", file=out, flush=True)
        if plan.nothing_to_do:
            print(f"the serving copy {settings.serving_file} is current (`warehouse run --full` rebuilds it)", file=out)
            return 0
    # dbt binds a logger to sys.stdout when it is first imported: import it before the run's output
    # goes to the log, so that logger keeps this output (as it always had) and not the run's stream.
    import dbt_common.events  # noqa: F401

    log_path = settings.run_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"warehouse run: the log of dbt and Dagster goes to {log_path}", file=out, flush=True)
    display = RunDisplay(out)
    started = datetime.now(timezone.utc).replace(tzinfo=None)  # the ingest's clock (UTC, naive)
    with log_path.open("w", encoding="utf-8", buffering=1) as log:
        target = _Tee(log, out) if verbose else _Tee(log)
        try:
            with redirect_stdout(target), redirect_stderr(target):
                loggers = {"run_log": file_logger(target), "progress": progress_logger(display)}
                job, definitions = _job(selection, loggers, plan)
                display.plan(step_stages(definitions, job))
                with display:
                    if verbose:
                        target.streams[1:] = [display.echo_stream()]
                    with dg.DagsterInstance.get() as instance:
                        result = job.execute_in_process(run_config={"loggers": {name: {} for name in loggers}},
                                                        instance=instance, raise_on_error=False,
                                                        tags=plan.tags() if plan else None)
        finally:
            # Whatever kept the stream of the run (a library's log handler) writes here from now on.
            target.streams = [out]
    serving = settings.serving_file
    try:
        print_summary(db_path, serving, files_since=started)
    except duckdb.IOException as exc:  # e.g. another process took the warehouse file meanwhile
        print(f"\nno summary: {exc}")
    failures = display.run.failures
    if failures or not result.success:
        print(f"\nRUN FAILED ({display.run.done} of {display.run.total} steps ran; the serving file "
              f"is {'unchanged' if not _published(result) else 'replaced'})")
        for failure in failures:
            print(f"  step {failure.step} ({failure.stage}): {failure.cause}")
        if not failures:
            print(f"  {_run_failure(result)}")
        print(f"  log: {log_path}")
        return 1
    print(f"\nrun {result.run_id} succeeded; serving file: {serving}; log: {log_path}")
    return 0


def _job(selection: str | None, loggers: dict[str, dg.LoggerDefinition],
         plan: RunPlan | None = None) -> tuple[dg.JobDefinition, dg.Definitions]:
    """The asset job (or its subset of `selection`, or of a changed run's plan) with the run's own
    loggers instead of the console."""
    from dagster_project.definitions import defs

    definitions = dg.Definitions.merge(defs(), dg.Definitions(loggers=loggers))
    job = definitions.resolve_implicit_global_asset_job_def()
    chosen = (dg.AssetSelection.from_string(selection) if selection
              else plan_selection(plan) if plan and not plan.full else None)
    if chosen is not None:
        keys = set(chosen.resolve(definitions.resolve_asset_graph()))
        job = job.get_subset(asset_selection=keys)
    return job, definitions


def _published(result: dg.ExecuteInProcessResult) -> bool:
    return any(e.asset_key == dg.AssetKey(["serving", "warehouse"]) for e in result.get_asset_materialization_events())


def _run_failure(result: dg.ExecuteInProcessResult) -> str:
    """The run's own failure message, when no step failed (e.g. the run could not start)."""
    messages = [e.message for e in result.all_events if e.event_type_value == "RUN_FAILURE" and e.message]
    return messages[-1] if messages else "the run did not succeed"
