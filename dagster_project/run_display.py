"""What `warehouse run` shows a person while the asset job runs (run.py): its stages, steps done of
total, rows accepted so far and elapsed time; and, when it fails, the step, the cause and the log.

On a terminal a live display (rich.progress); anywhere else (CI, cron, a pipe, the tests) one line
per stage when the stage ends. Everything else the run says (Dagster's log of every event, dbt's
output) goes to the run log, not here (run.py).

The stages are those of defs/stages.py (RUN_STAGES): a step's stage is its assets' group; a step
that only runs checks is `checks`. The display follows the run through Dagster's own log records:
`progress_logger` is a Dagster logger whose records carry the run's events (step start, success,
failure, skip, materialization, check evaluation).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TextIO

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from dagster_project.defs.ingest.assets import NEW_ROWS_ACCEPTED
from dagster_project.defs.stages import CHECKS_STAGE, RUN_STAGES

OTHER_STAGE = "other"  # a step of no known group (none today)
_STAGE_OF_GROUP = {group: stage for stage, groups in RUN_STAGES.items() for group in groups}
_ORDER = [*RUN_STAGES, OTHER_STAGE]


def step_stages(definitions: dg.Definitions, job: dg.JobDefinition) -> dict[str, str]:
    """The stage of every step of `job` (a step is a node of its graph, keyed by its name)."""
    by_node: dict[str, str] = {}
    for assets_def in definitions.resolve_asset_graph().assets_defs:
        if not assets_def.is_executable:
            continue
        groups = set(assets_def.group_names_by_key.values())
        stages = [s for s in _ORDER if any(_STAGE_OF_GROUP.get(g) == s for g in groups)]
        by_node[assets_def.node_def.name] = stages[0] if stages else (CHECKS_STAGE if not assets_def.keys else OTHER_STAGE)
    return {node.name: by_node.get(node.name, OTHER_STAGE) for node in job.graph.nodes}


@dataclass
class Stage:
    name: str
    total: int
    done: int = 0  # steps that ran (succeeded or failed)
    failed: int = 0
    skipped: int = 0  # steps that did not run: a step or blocking check upstream failed
    started: float | None = None
    ended: float | None = None

    @property
    def finished(self) -> bool:
        return self.done + self.skipped >= self.total

    def note(self) -> str:
        parts = [f"{self.failed} failed"] if self.failed else []
        return ", ".join(parts + ([f"{self.skipped} not run"] if self.skipped else []))


@dataclass
class Failure:
    step: str
    stage: str
    cause: str


@dataclass
class RunProgress:
    """The run as the display tells it: every step's stage, what has ended, rows accepted, failures."""

    stages_of_steps: dict[str, str]
    rows_accepted: int = 0
    failures: list[Failure] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        counts: dict[str, int] = {}
        for stage in self.stages_of_steps.values():
            counts[stage] = counts.get(stage, 0) + 1
        self.stages = {name: Stage(name, counts[name]) for name in _ORDER if counts.get(name)}
        self._check_failures: dict[str, list[str]] = {}
        self._ended: set[str] = set()

    @property
    def total(self) -> int:
        return len(self.stages_of_steps)

    @property
    def done(self) -> int:
        return sum(stage.done for stage in self.stages.values())

    def stage_of(self, step: str) -> Stage:
        return self.stages[self.stages_of_steps.get(step, OTHER_STAGE)]

    def start(self, step: str) -> Stage:
        stage = self.stage_of(step)
        if stage.started is None:
            stage.started = time.monotonic()
        return stage

    def end(self, step: str, outcome: str, error: str | None = None) -> Stage:
        """A step ended: `success`, `failure` (with its error) or `skipped` (an upstream step failed)."""
        stage = self.stage_of(step)
        if step in self._ended:
            return stage
        self._ended.add(step)
        stage.done += outcome != "skipped"
        stage.failed += outcome == "failure"
        stage.skipped += outcome == "skipped"
        if stage.finished:
            stage.ended = time.monotonic()
        if outcome == "failure":
            checks = self._check_failures.get(step)
            self.failures.append(Failure(step, stage.name, "; ".join(checks) if checks else (error or "unknown error")))
        return stage

    def not_ended(self) -> list[str]:
        """Steps that neither ran nor were reported skipped (Dagster does not start what a failed
        blocking check stops, and says nothing of it)."""
        return [step for step in self.stages_of_steps if step not in self._ended]

    def check_failed(self, step: str, text: str) -> None:
        """A blocking check of `step` failed: its step fails next, and this is the cause shown."""
        self._check_failures.setdefault(step, []).append(text)


def _cause(error) -> str:
    """The innermost exception of a Dagster error (Dagster wraps the asset's own): its class and
    the first line of its message, `OutOfMemoryException: Out of Memory Error: ...`."""
    while error.cause is not None:
        error = error.cause
    first = next((line.strip() for line in (error.message or "").splitlines() if line.strip()), "")
    name, sep, text = first.partition(": ")
    if sep and "." in name and " " not in name:  # `_duckdb.OutOfMemoryException: ...`
        first = f"{name.rsplit('.', 1)[1]}: {text}"
    return first[:500] or (error.cls_name or "error")


def _check_text(evaluation) -> str:
    text = f"blocking check {evaluation.asset_key.to_user_string()} {evaluation.check_name} failed"
    if evaluation.description:
        text += f": {evaluation.description}"
    docs = evaluation.metadata.get("data_docs")
    return text + (f" (Data Docs: {docs.value})" if docs is not None else "")


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f} s"


class RunDisplay(logging.Handler):
    """The display of one run: a logging handler of Dagster's records, and the text around them."""

    def __init__(self, stream: TextIO, live: bool | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.run = RunProgress({})
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._printed: set[str] = set()
        self._current = ""

    def plan(self, stages_of_steps: dict[str, str]) -> None:
        """The steps the run will take, and the stage of each (step_stages)."""
        self.run = RunProgress(stages_of_steps)

    # ---- the frame ---------------------------------------------------------------------------
    def __enter__(self) -> RunDisplay:
        if self.live:
            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description:<10}"), BarColumn(),
                MofNCompleteColumn(), TextColumn("{task.fields[note]}"), TimeElapsedColumn(),
                console=Console(file=self.stream), redirect_stdout=False, redirect_stderr=False,
            )
            self._progress.start()
            for stage in self.run.stages.values():
                self._tasks[stage.name] = self._progress.add_task(stage.name, total=stage.total, start=False, note="")
            self._tasks[""] = self._progress.add_task("all steps", total=self.run.total, note="")
        return self

    def __exit__(self, *exc) -> None:
        for step in self.run.not_ended():  # what a failure kept from running
            self._refresh(self.run.end(step, "skipped"))
        if self._progress is not None:
            self._progress.stop()
        else:
            for stage in self.run.stages.values():  # the stages a failure left open, in order
                self._line(stage)
        self.print(f"{self.run.done} of {self.run.total} steps ran in {_elapsed(time.monotonic() - self.run.started)}")

    def print(self, text: str = "") -> None:
        """Text around the display (it stays above a live display)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def echo_stream(self) -> TextIO:
        """Where `--verbose` writes the log: the terminal, above a live display."""
        if self._progress is not None:
            from rich.file_proxy import FileProxy

            return FileProxy(self._progress.console, self.stream)
        return self.stream

    # ---- Dagster's records ---------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None or event.step_key not in self.run.stages_of_steps:
            return
        step, kind = event.step_key, event.event_type_value
        if kind == "STEP_START":
            self._started(step)
        elif kind == "STEP_SUCCESS":
            self._ended(step, "success")
        elif kind == "STEP_SKIPPED":
            self._ended(step, "skipped")
        elif kind == "STEP_FAILURE":
            self._ended(step, "failure", _cause(event.step_failure_data.error))
        elif kind == "ASSET_MATERIALIZATION":
            rows = event.event_specific_data.materialization.metadata.get(NEW_ROWS_ACCEPTED)
            if rows is not None:
                self.run.rows_accepted += int(rows.value)
                self._refresh(self.run.stage_of(step))
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR and evaluation.blocking:
                self.run.check_failed(step, _check_text(evaluation))

    def _started(self, step: str) -> None:
        stage = self.run.start(step)
        if self._progress is not None:
            self._current = step
            self._refresh(stage)

    def _ended(self, step: str, outcome: str, error: str | None = None) -> None:
        stage = self.run.end(step, outcome, error)
        self._refresh(stage)
        if self._progress is None and stage.finished:
            self._line(stage)

    def _note(self, stage: Stage) -> str:
        rows = f"{self.run.rows_accepted:,} rows accepted" if stage.name == "ingest" else ""
        return ", ".join(part for part in (rows, stage.note()) if part)

    def _refresh(self, stage: Stage) -> None:
        if self._progress is None:
            return
        task = self._tasks[stage.name]
        self._progress.start_task(task)  # (a stage whose steps were all skipped starts here)
        self._progress.update(task, completed=stage.done, note=self._note(stage))
        notes = [f"{self.run.rows_accepted:,} rows accepted"] if "ingest" in self.run.stages else []
        if self._current and self.run.done + sum(s.skipped for s in self.run.stages.values()) < self.run.total:
            notes.append(f"running {self._current}")
        self._progress.update(self._tasks[""], completed=self.run.done, note=", ".join(notes))

    def _line(self, stage: Stage) -> None:
        if stage.name in self._printed:
            return
        self._printed.add(stage.name)
        took = _elapsed(stage.ended - stage.started) if stage.started is not None and stage.ended is not None else "-"
        note = self._note(stage)
        self.print(f"{stage.name:<10} {f'{stage.done}/{stage.total}':>7} steps {took:>8}" + (f"  {note}" if note else ""))


def progress_logger(display: RunDisplay) -> dg.LoggerDefinition:
    """A Dagster logger that hands every record of the run to the display."""

    def _logger(_init_context) -> logging.Logger:
        logger = logging.Logger("warehouse.run.progress", level=logging.DEBUG)
        logger.addHandler(display)
        return logger

    return dg.LoggerDefinition(_logger, description="the progress of `warehouse run` (run_display.py)")


def file_logger(stream: TextIO) -> dg.LoggerDefinition:
    """A Dagster logger writing every record of the run (events included) to `stream`, one a line."""

    def _logger(_init_context) -> logging.Logger:
        logger = logging.Logger("warehouse.run.log", level=logging.DEBUG)
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s - %(levelname)s - %(message)s"))
        logger.addHandler(handler)
        return logger

    return dg.LoggerDefinition(_logger, description="the run log of `warehouse run` (Settings.run_log)")
