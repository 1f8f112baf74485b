"""What the benchmark measures: one pipeline run, the DuckDB floor, one cohort size, the cost of
row-level lineage (lineage_cost.py) and one small delivery's latency (latency.py)."""

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
    max_single_rss: int  # bytes, largest high-water RSS of one process of the tree (VmHWM, sampled)
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
    started_at: float = 0.0  # epoch seconds: the child was started
    published_at: float | None = None  # epoch seconds: the publish step (serving copy renamed in) ended


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
    lineage: LineageFigures | None = None  # after the full run
    incremental_lineage: LineageFigures | None = None  # after the +1% delivery's run


# --------------------------------------------------------------------------------------------
# row-level lineage (lineage_cost.py)
# --------------------------------------------------------------------------------------------
@dataclass
class EdgeTable:
    """One table of lineage edges in the serving file (audit.lineage, audit.analysis_lineage)."""

    name: str
    edges: int | None  # None: not in the serving file
    bytes: int | None = None  # copied alone into an empty DuckDB file: used blocks x block size
    by_target: dict[str, int] = field(default_factory=dict)  # edges per target table


@dataclass
class DbtNodeTime:
    """A dbt model's time in the run (run_results.json: the node's own wall time; dbt runs
    several threads) and its data tests'."""

    model: str
    seconds: float | None  # None: not in the run's results
    tests: int = 0
    test_seconds: float = 0.0


@dataclass
class ExplainTiming:
    """One `warehouse explain ... --json` in a child process, as a user runs it."""

    command: list[str]
    exit_code: int
    wall: float  # the process, start to exit (interpreter, imports, the lookup)
    call_seconds: float | None = None  # explain() alone, in the benchmark's process (modules loaded)
    rows: int = 0  # rows of the table matched (n_rows)
    upstream_targets: int = 0  # lineage targets reached below them (the counted subjects' max grades)
    delivered_rows: int = 0  # delivered rows reached
    json_bytes: int = 0
    error: str | None = None


@dataclass
class LineageFigures:
    """What row-level lineage costs after one run: its edges, their bytes, the lineage columns of
    the warehouse's rows, the dbt time of the models that write them, one explain."""

    serving_bytes: int
    warehouse_bytes: int
    tables: list[EdgeTable]
    column_tables: list[str]  # warehouse tables carrying delivery_sha256, file_name, row_number
    column_rows: int
    column_bytes: int | None
    block_size: int
    dbt: list[DbtNodeTime]
    explain: ExplainTiming | None
    report_pages: int | None = None  # reports/html_report metadata: rate cells linked to a page
    report_seconds: float | None = None  # ... and the time the explain pages took

    @property
    def edges(self) -> int:
        return sum(t.edges or 0 for t in self.tables)


# --------------------------------------------------------------------------------------------
# one small delivery into a built park2023 warehouse (latency.py)
# --------------------------------------------------------------------------------------------
@dataclass
class LatencyFigures:
    build: RunFigures  # the first run, on a fresh warehouse (not the figure)
    file_name: str  # the small delivery, relative to the landing folder
    rows: int
    landed_at: float  # epoch seconds: the file's modification time (the ingest's received_at)
    run: RunFigures  # the `warehouse run` after it landed
    published: bool  # the serving copy names this run and records the delivery as loaded
    rows_accepted: int | None
    floor: Floor | None  # park2023: every delivery + every SQL model (what the run recomputes)
    note: str | None = None  # why it was not published, when it was not

    @property
    def latency(self) -> float | None:
        """File landed -> serving copy published (the publish step ended)."""
        if not self.published or self.run.published_at is None:
            return None
        return self.run.published_at - self.landed_at

    @property
    def returned(self) -> float:
        """File landed -> `warehouse run` returned (every check, the report and the docs too)."""
        return self.run.started_at + self.run.wall - self.landed_at

