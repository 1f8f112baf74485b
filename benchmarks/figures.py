"""What the benchmark measures: one pipeline run, the DuckDB floor, one cohort size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STAGES = ("ingest", "validation", "dbt", "analysis", "publish", "other", "orchestration")
STAGE_LABELS = {
    "ingest": "ingest (read + store)",
    "validation": "validation (pandera, duplicates)",
    "dbt": "dbt build (models + tests)",
    "analysis": "analysis",
    "publish": "publish (serving copy)",
    "other": "other steps (checks, reports)",
    "orchestration": "orchestration (start-up, planning)",
}


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
@dataclass
class RunFigures:
    """One pipeline run (a child process) and what its Dagster run recorded."""

    exit_code: int
    wall: float  # child process, start to exit
    cpu: float  # user + system of the child's whole process tree
    peak_rss: int  # bytes, process tree, sampled
    max_single_rss: int  # bytes, largest single process (getrusage)
    peak_step: str  # the step running when the peak was sampled
    run_wall: float  # Dagster run: first to last event
    stages: dict[str, float]
    ingest_phases: dict[str, float]  # read / validate / store, summed over raw assets
    other_steps: dict[str, float]
    steps: dict[str, float]  # every step's wall seconds
    failed_steps: list[str]
    event_log_events: int
    event_log_seconds: float
    run_id: str | None
    log: Path
    # orchestration split: start-up (process start to the run's first event: interpreter,
    # imports, definitions, planning), between steps (the run's time outside every step),
    # after the run (summary, shutdown); empty when the child did not report its start
    orchestration: dict[str, float] = field(default_factory=dict)


@dataclass
class Floor:
    read_seconds: float
    sql_seconds: float
    cpu: float
    models: list[str]
    python_models: list[str]
    skipped: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.sql_seconds


@dataclass
class SizeFigures:
    subjects: int
    rows: int
    files: int
    bytes: int
    full: RunFigures
    floor: Floor | None
    incremental: RunFigures | None = None
    incremental_rows: int = 0
    incremental_subjects: int = 0

