"""Crash safety (issue "Bad input, faults and privacy", part 3): `warehouse run` killed with SIGKILL
(its whole process group, dbt included) during ingest, during dbt and during publish; the next
run succeeds, the marts equal those of an uninterrupted run (`park_run`, same deliveries), and
the serving file is at every moment either the previous complete publication or the new one.

How each point is hit, without hooks in the pipeline:
* ingest: the run's Dagster event log (sqlite in DAGSTER_HOME) shows the serum_cytokines ingest
  step started (subjects and the sources ingested before it are committed); kill 0.5 s later,
  while it loads; some but not all deliveries are then recorded;
* dbt: dbt has started writing compiled mart SQL into the run's target folder
  (dbt/target/warehouse_dbt_models-<run id>-*/run/.../models/marts): it is replacing marts;
  dbt had not finished (no run_results.json);
* publish: the serving copy being built (`.serving.duckdb.<pid>.tmp`) appears beside the serving
  file, or the serving file itself changes (polled every 2 ms; the run publishes only,
  `--select key:serving/warehouse`, so that the kill needs no full run); the temp file left
  behind proves the kill came mid-publish (a kill that came after the rename is tried again).
Meanwhile an analyst process opens the serving file read-only again and again and checks it is
complete (every table readable, one audit.publication row whose table count matches).

The tests run in order on one folder: ingest crash, dbt crash, publish crash.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import duckdb
import pytest

from mart_contents import differences, mart_snapshot, raw_snapshot
from pipeline_process import (
    INGEST_ONLY, PUBLISH_ONLY, REPO, PipelineProcess, ServingReader, copy_landing, delivery_files, run_here,
    serving_tmp_files,
)
import serving_reader
from schemas.contract import SOURCES


@pytest.fixture(scope="module")
def reference(park_run) -> dict:
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return {"marts": mart_snapshot(park_run.warehouse), "raw": raw_snapshot(park_run.warehouse)}


@pytest.fixture(scope="module")
def root(park_run, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    copy_landing(delivery_files(park_run.landing), park_run.landing, root / "landing")
    shutil.copy2(park_run.serving, root / "serving.duckdb")  # the publication analysts read so far
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run_id(serving: Path) -> str:
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute("select run_id from audit.publication").fetchone()[0]


def _assert_complete_publications(records: list[dict], run_ids: set[str]) -> None:
    assert records, "the analyst made no check"
    bad = [r for r in records if not r["ok"]]
    assert not bad, bad[:3]
    assert {r["run_id"] for r in records} <= run_ids, {r["run_id"] for r in records}
    assert len({tuple(r["tables"]) for r in records}) == 1, "publications with different tables"


def _group_is_gone(proc: PipelineProcess, timeout: float = 20) -> bool:
    """No live process is left in the run's process group (killed children may linger as zombies
    until init reaps them: those do not count)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == proc.proc.pid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
                alive.append(stat.parent.name)
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.2)


def _killed_run(root: Path, what: str, marker, *args: str, delay: float = 0.0, interval: float = 0.05,
                timeout: float = 420) -> tuple[PipelineProcess, list[dict]]:
    """Start a run, SIGKILL its process group once `marker(proc)` holds (+ delay); the analyst's checks."""
    reader = ServingReader(root / "serving.duckdb", "poll", name=f"reader_{what}")
    try:
        reader.wait_for_checks(1)
        proc = PipelineProcess(root, *args, name=f"killed_{what}")
        try:
            proc.wait_until(lambda: marker(proc), f"the {what} marker", timeout=timeout, interval=interval)
            if delay:
                time.sleep(delay)
            assert proc.alive(), f"the run ended before the kill:\n{proc.output()[-3000:]}"
        finally:
            proc.kill()
        assert _group_is_gone(proc), "a process of the killed run survived"
    finally:
        records = reader.stop()
    wal = root / "warehouse.duckdb.wal"
    print(f"killed during {what}: warehouse WAL left behind: {wal.exists()}")
    return proc, records


def test_kill_during_ingest(root, reference, park_run):
    serving = root / "serving.duckdb"
    old_sha, old_run = _sha(serving), _run_id(serving)
    _, records = _killed_run(
        root, "ingest", lambda p: p.has_event("STEP_START", "raw__serum_cytokines"), delay=0.5
    )
    assert _sha(serving) == old_sha and not serving_tmp_files(serving)
    _assert_complete_publications(records, {old_run})

    # What was committed is whole deliveries: each recorded delivery has all its rows, no other rows exist.
    n_files = len(delivery_files(root / "landing"))
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        recorded = con.execute(
            "select source, delivery_sha256, file_name, status, rows_accepted, rows_quarantined from raw.deliveries"
        ).fetchall()
        assert 0 < len(recorded) < n_files, f"{len(recorded)} of {n_files} deliveries recorded: not killed mid-ingest"
        tables = {t for (t,) in con.execute("select table_name from duckdb_tables() where schema_name = 'raw'").fetchall()}
        stored = {}
        for source in SOURCES:
            if source in tables:
                for sha, name, n in con.execute(
                    f'select _delivery_sha256, _file_name, count(*) from raw."{source}" group by all'
                ).fetchall():
                    stored[(source, sha, name)] = n
        quarantined = {
            (s, sha, name): n
            for s, sha, name, n in con.execute(
                "select source, delivery_sha256, file_name, count(distinct row_number) from raw.quarantine group by all"
            ).fetchall()
        }
    for source, sha, name, status, accepted, n_quarantined in recorded:
        assert stored.pop((source, sha, name), 0) == accepted, name
        if status == "loaded":
            assert quarantined.get((source, sha, name), 0) == n_quarantined, name
    assert not stored, f"rows of deliveries that are not recorded: {sorted(stored)}"

    # The next run loads the rest, each delivery once: the raw tables equal an uninterrupted run's.
    code, out = run_here(root, selection=INGEST_ONLY)
    assert code == 0, out[-3000:]
    got = raw_snapshot(root / "warehouse.duckdb")
    assert not differences(got, reference["raw"]), differences(got, reference["raw"])


def _dbt_targets(proc: PipelineProcess) -> list[Path]:
    """The dbt target folders of this run (dagster-dbt names them after the run id)."""
    run_id = proc.run_id
    return list((REPO / "dbt" / "target").glob(f"warehouse_dbt_models-{run_id[:7]}-*")) if run_id else []


def _dbt_is_writing_marts(proc: PipelineProcess) -> bool:
    for target in _dbt_targets(proc):
        marts = target / "run" / "cart_warehouse" / "models" / "marts"
        if marts.is_dir() and any(marts.rglob("*.sql")):
            return True
    return False


def test_kill_during_dbt(root, reference):
    serving = root / "serving.duckdb"
    old_sha, old_run = _sha(serving), _run_id(serving)
    proc, records = _killed_run(root, "dbt", _dbt_is_writing_marts, interval=0.1)
    targets = _dbt_targets(proc)
    assert targets and not any((t / "run_results.json").exists() for t in targets), "dbt had finished"
    assert _sha(serving) == old_sha and not serving_tmp_files(serving)
    _assert_complete_publications(records, {old_run})

    reader = ServingReader(serving, "poll", name="reader_after_dbt")
    try:
        reader.wait_for_checks(1)
        code, out = run_here(root)
    finally:
        records = reader.stop()
    assert code == 0, out[-3000:]
    new_run = _run_id(serving)
    assert new_run != old_run
    _assert_complete_publications(records, {old_run, new_run})
    for name, db in (("warehouse", root / "warehouse.duckdb"), ("serving", serving)):
        got = mart_snapshot(db)
        assert not differences(got, reference["marts"]), (name, differences(got, reference["marts"]))
    assert not differences(raw_snapshot(root / "warehouse.duckdb"), reference["raw"]), "deliveries loaded again"
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        leftovers = con.execute(
            "select schema_name, table_name from duckdb_tables() where table_name like '%__dbt_%'"
            " union all select schema_name, view_name from duckdb_views() where view_name like '%__dbt_%'"
        ).fetchall()
    assert not leftovers, leftovers


def _publish_started(serving: Path, before: tuple) -> bool:
    """Something is being written for the serving copy: a temp file beside it, or the file itself."""
    if serving_tmp_files(serving) or Path(f"{serving}.wal").exists():
        return True
    try:
        stat = serving.stat()
    except FileNotFoundError:
        return True
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size) != before


def _complete(serving: Path) -> dict:
    with duckdb.connect(str(serving), read_only=True) as con:
        return serving_reader.check(con)


def test_kill_during_publish(root, reference):
    warehouse, serving = root / "warehouse.duckdb", root / "serving.duckdb"
    if not warehouse.exists() or differences(mart_snapshot(warehouse), reference["marts"]):
        code, out = run_here(root)  # run on its own: first a complete warehouse and publication
        assert code == 0, out[-3000:]
    for _attempt in range(3):
        old_sha, old_run = _sha(serving), _run_id(serving)
        stat = serving.stat()
        before = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        _, records = _killed_run(
            root, "publish", lambda p: _publish_started(serving, before), "--select", PUBLISH_ONLY, interval=0.002
        )
        now = _complete(serving)  # whenever the kill came, the serving file is a complete publication
        assert now["ok"], now
        _assert_complete_publications(records, {old_run, now["run_id"]})
        left = serving_tmp_files(serving)
        if left or now["run_id"] == old_run:
            break
        # The kill came after the rename: the new publication is complete; try again.
    else:
        pytest.fail("three kills in a row came after publish had finished")
    assert _sha(serving) == old_sha, "the serving file changed although publish was killed before its rename"
    assert now["run_id"] == old_run
    _assert_complete_publications(records, {old_run})
    print(f"left behind by the killed publish: {[p.name for p in left]}")

    reader = ServingReader(serving, "poll", name="reader_after_publish")
    try:
        reader.wait_for_checks(1)
        code, out = run_here(root, selection=PUBLISH_ONLY)
    finally:
        records = reader.stop()
    assert code == 0, out[-3000:]
    new_run = _run_id(serving)
    assert new_run != old_run
    _assert_complete_publications(records, {old_run, new_run})
    got = mart_snapshot(serving)
    assert not differences(got, reference["marts"]), differences(got, reference["marts"])
