"""Helpers for the idempotency, crash-safety and reader/writer tests: the pipeline in this process
or as a separate process (killable with its whole process group, dbt included), what its Dagster
event log says, an analyst process reading the serving copy, and copying a landing folder."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from contextlib import redirect_stdout
from pathlib import Path

from conftest import warehouse_env

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
INGEST_ONLY = "kind:pandera"  # the ingest asset of every source, nothing downstream
PUBLISH_ONLY = "key:serving/warehouse"  # the serving copy alone, from the warehouse as it is


def run_here(root: Path, selection: str | None = None) -> tuple[int, str]:
    """`warehouse run` in this process against `root`; (exit code, printed output)."""
    from dagster_project.run import run_pipeline

    saved = dict(os.environ)
    buffer = io.StringIO()
    try:
        os.environ.update(warehouse_env(root))
        with redirect_stdout(buffer):
            code = run_pipeline(selection=selection)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, buffer.getvalue()


def copy_landing(files: Iterable[Path], src: Path, dst: Path) -> None:
    """Copy delivery files one by one, in the given order, keeping their modification times."""
    for path in files:
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        stat = path.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def delivery_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith("."))


class PipelineProcess:
    """`python -m dagster_project.cli run [args]` in its own session (process group)."""

    def __init__(self, root: Path, *args: str, name: str = "run") -> None:
        self.root = root
        self.dagster_home = root / "dagster_home"
        self.log_path = root / f"{name}.log"
        self._known_runs = set(self._event_dbs())
        env = {**os.environ, **warehouse_env(root), "PYTHONUNBUFFERED": "1"}
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.cli", "run", *args],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.started = time.monotonic()

    def _event_dbs(self) -> list[Path]:
        folder = self.dagster_home / "history" / "runs"
        return [p for p in folder.glob("*.db") if p.name != "index.db"] if folder.is_dir() else []

    @property
    def run_id(self) -> str | None:
        new = [p for p in self._event_dbs() if p not in self._known_runs]
        return new[0].stem if new else None

    def events(self) -> list[tuple[str, str | None]]:
        """(event type, step key) of this run so far, from its Dagster event log (sqlite)."""
        run_id = self.run_id
        if run_id is None:
            return []
        db = self.dagster_home / "history" / "runs" / f"{run_id}.db"
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5) as con:
                return con.execute("select dagster_event_type, step_key from event_logs order by id").fetchall()
        except sqlite3.Error:
            return []

    def has_event(self, event_type: str, step_key: str) -> bool:
        return (event_type, step_key) in self.events()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (the run and its dbt child), then reap it."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=60)
        self._log.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.kill()
            self._log.close()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float, interval: float = 0.05) -> None:
        """Poll `condition` until true; fail (after killing the run) if the run ends or time is up."""
        deadline = time.monotonic() + timeout
        while not condition():
            if not self.alive():
                raise AssertionError(f"the run ended (exit {self.proc.returncode}) before {what}:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"no {what} within {timeout} s:\n{self.output()[-3000:]}")
            time.sleep(interval)


class ServingReader:
    """An analyst process reading the serving copy (see serving_reader.py) until stopped."""

    def __init__(self, serving: Path, mode: str, name: str, interval: float = 0.02) -> None:
        self.out = serving.parent / f"{name}.jsonl"
        self.stop_file = serving.parent / f"{name}.stop"
        self.out.unlink(missing_ok=True)
        self.stop_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(TESTS / "serving_reader.py"), str(serving), str(self.out), str(self.stop_file),
             mode, str(interval)],
            cwd=REPO, start_new_session=True,
        )

    def records(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def wait_for_checks(self, n: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while sum(1 for r in self.records() if "event" not in r) < n:
            assert self.proc.poll() is None, f"the reader ended: {self.records()[-3:]}"
            assert time.monotonic() < deadline, "the reader made no check"
            time.sleep(0.05)

    def stop(self) -> list[dict]:
        """Stop the reader; its checks (open/stop markers left out)."""
        self.stop_file.touch()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return [r for r in self.records() if "event" not in r]


def serving_tmp_files(serving: Path) -> list[Path]:
    """The serving copy being built by publish(): `.<name>.<pid>.tmp` (and its WAL) beside it."""
    return sorted(serving.parent.glob(f".{serving.name}.*.tmp*"))
