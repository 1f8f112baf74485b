"""What data engineers see in the Dagster UI after the park2023 run: `raw/deliveries` lists the
delivery files one by one, `raw/quarantine` the quarantined rows with file, row, column, rule and
value (the latest materialization's markdown metadata, read from the run's instance)."""

from __future__ import annotations


import duckdb
import pytest

from dagster_project.lib.ingest.store import LATEST_DELIVERIES, LATEST_QUARANTINED


def _latest_metadata(dagster_home, key: list[str]) -> dict:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None, key
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def _md_rows(metadata: dict, key: str) -> tuple[str, list[dict[str, str]]]:
    """(the caption shown beside the table, the table's rows keyed by column name)."""
    table = metadata[key]
    return metadata[f"{key}_shown"], [dict(record.data) for record in table.records]


@pytest.fixture(scope="module")
def run(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return park_run


def test_deliveries_lists_the_latest_delivery_files_one_by_one(run):
    metadata = _latest_metadata(run.dagster_home, ["raw", "deliveries"])
    caption, rows = _md_rows(metadata, "latest_deliveries")
    files = run.truth["files"]
    landing = {str(p.relative_to(run.landing)) for p in run.landing.rglob("*") if p.is_file()}
    assert {f["file_name"] for f in files} == landing
    assert metadata["dagster/row_count"] == len(landing)
    shown = min(LATEST_DELIVERIES, len(landing))
    assert caption.startswith(f"The latest {shown} of {len(landing)} " if shown < len(landing) else f"All {shown} ")
    # the latest received first, ties by file name
    by_name = sorted(files, key=lambda f: f["file_name"])
    latest = sorted(by_name, key=lambda f: f["delivered_at"], reverse=True)[:shown]
    assert [r["file"] for r in rows] == [f["file_name"] for f in latest]
    for row, delivered in zip(rows, latest):
        assert row["received (UTC)"] == delivered["delivered_at"].replace("T", " ").removesuffix("Z")
        assert int(row["delivered"]) == int(row["accepted"]) + int(row["quarantined"]) or row["status"] == "duplicate"
    copies = {pair["copy"] for pair in run.truth["duplicate_deliveries"]}
    assert all(r["status"] == "duplicate" for r in rows if r["file"] in copies)
    assert {r["status"] for r in rows if r["file"] not in copies} == {"loaded"}


def test_quarantine_lists_the_quarantined_rows_with_file_rule_and_value(run):
    metadata = _latest_metadata(run.dagster_home, ["raw", "quarantine"])
    caption, rows = _md_rows(metadata, "latest_rows")
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        stored = con.execute("select file_name, row_number, column_name, rule from raw.quarantine").fetchall()
    assert metadata["dagster/row_count"] == len(stored) <= LATEST_QUARANTINED  # park2023: every row is listed
    assert caption.startswith(f"All {len(stored)} quarantined rows")
    assert len(rows) == len(stored)
    assert sorted((r["file"], int(r["row"]), r["column"] or None, r["rule"]) for r in rows) == sorted(stored)
    def at(file_name: str, number: int) -> list[dict[str, str]]:
        return [r for r in rows if (r["file"], int(r["row"])) == (file_name, number)]

    for planted in run.truth["invalid_rows"]:
        hits = at(planted["file_name"], planted["row_number"])
        assert hits and all(r["rule"] for r in hits), planted
        # a rule on the planted column shows the value as delivered (a rule between columns names none)
        assert all(r["value"] == planted["value"] for r in hits if r["column"] == planted["column"]), (planted, hits)
    for dup in run.truth["identical_duplicates"]:
        for number in dup["row_numbers"][1:]:
            assert "identical_duplicate" in {r["rule"] for r in at(dup["file_name"], number)}, dup
    for conflict in run.truth["conflicting_duplicates"]:
        for number in conflict["row_numbers"]:
            assert "conflicting_duplicate" in {r["rule"] for r in at(conflict["file_name"], number)}, conflict
    # the counts by rule are still there
    assert "identical_duplicate" in {record.data["rule"] for record in metadata["by_rule"].records}
