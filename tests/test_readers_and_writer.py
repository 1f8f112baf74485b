"""Readers and the writer (issue "Bad input, faults and privacy", part 4; marts.md, "Serving").

* An analyst holding the serving file open read-only (another process, one connection for the
  whole run) does not block a run and keeps reading the complete publication it opened; an
  analyst opening the file again and again sees the old or the new publication, never a partial
  one. The run publishes only (`--select key:serving/warehouse`): publishing, and the summary
  read after it, are the only steps that touch the serving file.
* A second writer holding the warehouse file (another process with a read-write DuckDB
  connection): the run waits and retries, then fails with a clear message naming the file, not
  a stack trace; when the other process lets go while the run waits, the run succeeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import warehouse_env
from mart_contents import differences, mart_snapshot
from pipeline_process import PUBLISH_ONLY, REPO, ServingReader, copy_landing, delivery_files, run_here


@pytest.fixture(scope="module")
def root(park_run, tmp_path_factory) -> Path:
    """A copy of the park2023 warehouse after a complete run (landing, warehouse, serving copy)."""
    assert park_run.exit_code == 0, park_run.output[-3000:]
    root = tmp_path_factory.mktemp("readers")
    copy_landing(delivery_files(park_run.landing), park_run.landing, root / "landing")
    shutil.copy2(park_run.warehouse, root / "warehouse.duckdb")
    shutil.copy2(park_run.serving, root / "serving.duckdb")
    return root


def _run_id(serving: Path) -> str:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute("select run_id from audit.publication").fetchone()[0]


def test_analyst_holding_the_serving_file_neither_blocks_nor_sees_a_partial_publish(root):
    serving = root / "serving.duckdb"
    old_run = _run_id(serving)
    expected = mart_snapshot(serving)
    holder = ServingReader(serving, "hold", name="analyst_holding", interval=0.05)
    poller = ServingReader(serving, "poll", name="analyst_polling", interval=0.01)
    try:
        holder.wait_for_checks(2)
        poller.wait_for_checks(2)
        started = time.monotonic()
        code, out = run_here(root, selection=PUBLISH_ONLY)
        elapsed = time.monotonic() - started
        time.sleep(0.3)  # a few more checks after the swap
    finally:
        held, polled = holder.stop(), poller.stop()
    assert code == 0, out[-3000:]
    new_run = _run_id(serving)
    assert new_run != old_run
    assert elapsed < 300
    # The held connection reads the publication it opened, complete, for the whole run.
    assert held and all(r["ok"] for r in held), [r for r in held if not r["ok"]][:3]
    assert {r["run_id"] for r in held} == {old_run}
    # Fresh opens see the old or the new publication, complete, never anything else.
    assert polled and all(r["ok"] for r in polled), [r for r in polled if not r["ok"]][:3]
    assert {r["run_id"] for r in polled} <= {old_run, new_run}
    assert polled[-1]["run_id"] == new_run
    assert len({tuple(r["tables"]) for r in held + polled}) == 1
    assert not differences(mart_snapshot(serving), expected)


def _hold_warehouse(db: Path, seconds: float) -> subprocess.Popen:
    """Another process with a read-write connection on the warehouse file, for `seconds`."""
    ready = db.parent / "holder.ready"
    ready.unlink(missing_ok=True)
    script = (
        "import duckdb, pathlib, sys, time\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "pathlib.Path(sys.argv[2]).touch()\n"
        "time.sleep(float(sys.argv[3]))\n"
        "con.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(db), str(ready), str(seconds)], start_new_session=True)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, "the second writer could not open the warehouse file"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
    proc.wait()


def test_second_writer_makes_the_run_fail_with_a_clear_message(root):
    db = root / "warehouse.duckdb"
    serving_before = (root / "serving.duckdb").read_bytes()
    holder = _hold_warehouse(db, 600)
    try:
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "dagster_project.cli", "run"], cwd=REPO, capture_output=True, text=True,
            env={**os.environ, **warehouse_env(root)}, timeout=300,
        )
        elapsed = time.monotonic() - started
    finally:
        _stop(holder)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "Traceback" not in output and "Stack Trace" not in output, output[-3000:]
    assert "RUN FAILED" in run.stdout
    assert str(db) in run.stdout and "another process" in run.stdout, run.stdout
    assert elapsed < 120, f"gave up only after {elapsed:.0f} s"
    assert (root / "serving.duckdb").read_bytes() == serving_before


def test_run_waits_for_a_second_writer_that_lets_go(root):
    holder = _hold_warehouse(root / "warehouse.duckdb", 3)
    try:
        code, out = run_here(root, selection=PUBLISH_ONLY)
    finally:
        _stop(holder)
    assert code == 0, out[-3000:]
