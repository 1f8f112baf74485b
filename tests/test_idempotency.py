"""Idempotency (issue "Bad input, faults and privacy", part 2): the marts depend on the deliveries,
not on how often or in which order of arrival they were loaded (sources.md, "Where files land":
identity by sha256, corrections ordered by modification time then name).

The reference is the park2023 cohort delivered all at once and run once (`park_run`). Here the
same files (same bytes, same modification times) arrive in three batches, out of order: the
correction before the delivery it corrects, the byte-identical re-sent copy before its original,
the newest files first; the runs between batches load what has arrived (ingest only: the marts
are rebuilt from the raw tables by every full run, so only what ingest committed carries over),
and a full run follows the last batch. Then the same deliveries are run again. Every table of
the marts and analysis schemas must equal the reference each time (mart_contents.py).

Subjects deliveries arrive in the first batch: a measurement of a subject the warehouse has not
received yet is quarantined (`unknown_subject`) and not revived by a later subjects delivery
(load.py, our documented choice), so an order with measurements before their subject is not
expected to give the same marts.
"""

from __future__ import annotations

import duckdb
import pytest

from mart_contents import differences, mart_snapshot, raw_snapshot
from pipeline_process import INGEST_ONLY, copy_landing, delivery_files, run_here


@pytest.fixture(scope="module")
def reference(park_run) -> dict[str, str]:
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return mart_snapshot(park_run.warehouse)


def _batches(landing):
    files = delivery_files(landing)
    mtime = lambda p: (p.stat().st_mtime_ns, p.as_posix())  # noqa: E731
    subjects = [p for p in files if p.parent.name == "subjects"]
    early = [p for p in files if ("correction" in p.name or "resent" in p.name) and p not in subjects]
    rest = sorted((p for p in files if p not in subjects and p not in early), key=mtime, reverse=True)
    first = sorted(subjects, key=mtime, reverse=True) + early  # newest first, then the late copies
    half = len(rest) // 2
    return [first, rest[:half], rest[half:]]  # newest half before the oldest half


@pytest.fixture(scope="module")
def arrivals(park_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("idempotency")
    batches = _batches(park_run.landing)
    assert sum(len(b) for b in batches) == len(delivery_files(park_run.landing))
    assert any("correction" in p.name for p in batches[0]) and any("resent" in p.name for p in batches[0])
    outputs = []
    for batch in batches[:-1]:
        copy_landing(batch, park_run.landing, root / "landing")
        code, out = run_here(root, selection=INGEST_ONLY)
        assert code == 0, out[-3000:]
        outputs.append(out)
    copy_landing(batches[-1], park_run.landing, root / "landing")
    code, out = run_here(root)
    assert code == 0, out[-3000:]
    after_arrivals = {"marts": mart_snapshot(root / "warehouse.duckdb"), "raw": raw_snapshot(root / "warehouse.duckdb"),
                      "serving": mart_snapshot(root / "serving.duckdb")}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        log = con.execute("select file_name, status, loaded_at from raw.deliveries").fetchall()
    code, out = run_here(root)  # the same deliveries again
    assert code == 0, out[-3000:]
    again = {"marts": mart_snapshot(root / "warehouse.duckdb"), "raw": raw_snapshot(root / "warehouse.duckdb"),
             "serving": mart_snapshot(root / "serving.duckdb")}
    return {"root": root, "after_arrivals": after_arrivals, "again": again, "log": log, "batches": batches}


def test_arrival_order_really_differed(arrivals, park_run):
    """The scenario is not vacuous: a correction was loaded in an earlier run than the file it corrects."""
    loaded_at = {name: at for name, _status, at in arrivals["log"]}
    correction = next(n for n in loaded_at if "correction" in n)  # serum_labs/<day>_<site>_correction.csv
    day, site = correction.split("/")[1].split("_")[:2]
    corrected = [n for n in loaded_at if n.startswith("serum_labs/") and site in n and n.split("/")[1][:10] < day
                 and "correction" not in n]
    assert corrected, sorted(loaded_at)
    assert all(loaded_at[correction] < loaded_at[n] for n in corrected)
    assert len(loaded_at) == len(delivery_files(park_run.landing))


def test_out_of_order_partial_arrivals_give_the_same_marts(arrivals, reference):
    got = arrivals["after_arrivals"]["marts"]
    assert set(got) == set(reference), differences(got, reference)
    assert not differences(got, reference), differences(got, reference)
    assert not differences(arrivals["after_arrivals"]["serving"], reference)


def test_running_again_changes_nothing(arrivals, reference):
    first, again = arrivals["after_arrivals"], arrivals["again"]
    assert not differences(again["raw"], first["raw"]), "the second run loaded something again"
    assert not differences(again["marts"], first["marts"]), differences(again["marts"], first["marts"])
    assert not differences(again["marts"], reference)
    assert not differences(again["serving"], reference)


def test_comparison_covers_every_mart_and_analysis_table(reference, park_run):
    """The comparison is not empty: every marts and analysis table of the serving copy is in it."""
    with duckdb.connect(str(park_run.serving), read_only=True) as con:
        published = {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'analysis')"
        ).fetchall()}
    assert published and published <= set(reference)
    assert sum(len(frame) for frame in reference.values()) > 10_000
