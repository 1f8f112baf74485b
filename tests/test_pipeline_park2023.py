"""The whole pipeline on the park2023 cohort: CONSORT, zero loss, duplicates, corrections,
serving, and that no planted identifying value is written anywhere.

Expected numbers come from the issue's acceptance (34/31/3) and from the generator's truth file,
i.e. from what was planted, never from the warehouse's own output.
"""

from __future__ import annotations

import csv
import io

import duckdb
import pytest

from schemas.contract import SOURCES


@pytest.fixture(scope="module")
def serving(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    con = duckdb.connect(str(park_run.serving), read_only=True)
    yield con
    con.close()


def test_run_succeeds_and_prints_summary(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    assert "CONSORT: enrolled 34, infused 31, not_infused 3" in park_run.output


def test_consort_counts(serving):
    counts = dict(serving.execute("select step, n_subjects from marts.agg_consort").fetchall())
    assert counts["enrolled"] == 34
    assert counts["infused"] == 31
    assert counts["not_infused"] == 3
    assert counts["evaluable_toxicity"] == 31


def test_consort_matches_truth(serving, park_run):
    counts = dict(serving.execute("select step, n_subjects from marts.agg_consort").fetchall())
    assert counts["evaluable_response"] == park_run.truth["evaluable_response"]


def _data_rows(path) -> int:
    text = path.read_bytes().decode("utf-8-sig")
    return sum(1 for row in list(csv.reader(io.StringIO(text, newline="")))[1:] if any(c.strip() for c in row))


def test_every_delivered_row_is_accepted_or_quarantined(serving, park_run):
    deliveries = serving.execute(
        "select file_name, status, rows_delivered, rows_accepted, rows_quarantined from audit.deliveries"
    ).fetchall()
    files = sorted(p for p in park_run.landing.rglob("*") if p.is_file())
    assert {d[0] for d in deliveries} == {p.relative_to(park_run.landing).as_posix() for p in files}
    by_name = {d[0]: d for d in deliveries}
    for path in files:
        name, status, delivered, accepted, quarantined = by_name[path.relative_to(park_run.landing).as_posix()]
        assert delivered == _data_rows(path), name  # counted independently from the file
        if status != "duplicate":
            assert delivered == accepted + quarantined, name


def test_accepted_rows_are_in_raw_tables(park_run, serving):
    accepted = dict(
        serving.execute("select source, sum(rows_accepted) from audit.deliveries group by all").fetchall()
    )
    with duckdb.connect(str(park_run.warehouse), read_only=True) as con:
        for source in SOURCES:
            stored = con.execute(f'select count(*) from raw."{source}"').fetchone()[0]
            assert stored == accepted.get(source, 0), source


def test_planted_invalid_rows_are_quarantined_with_file_row_and_column(serving, park_run):
    quarantine = serving.execute(
        "select file_name, row_number, column_name, rule, value from audit.quarantine"
    ).fetchall()
    for planted in park_run.truth["invalid_rows"]:
        hits = [q for q in quarantine if q[0] == planted["file_name"] and q[1] == planted["row_number"]]
        assert hits, planted
        column = planted.get("column")
        # A check on a single column names it; a rule between columns (OOR < without lloq) names none.
        assert any(q[2] in (column, None) for q in hits), (planted, hits)


def test_duplicates_inside_a_delivery(serving, park_run):
    rules = serving.execute("select file_name, row_number, rule from audit.quarantine").fetchall()
    for dup in park_run.truth["identical_duplicates"]:
        extra_copies = dup["row_numbers"][1:]
        for row in extra_copies:
            assert (dup["file_name"], row, "identical_duplicate") in rules, dup
        assert (dup["file_name"], dup["row_numbers"][0], "identical_duplicate") not in rules
    for conflict in park_run.truth["conflicting_duplicates"]:
        for row in conflict["row_numbers"]:
            assert (conflict["file_name"], row, "conflicting_duplicate") in rules, conflict


def test_byte_identical_delivery_is_loaded_once(serving, park_run):
    for pair in park_run.truth["duplicate_deliveries"]:
        status = dict(serving.execute("select file_name, status from audit.deliveries").fetchall())
        assert status[pair["copy"]] == "duplicate"
        assert status[pair["original"]] == "loaded"
        source = pair["copy"].split("/")[0]
        with duckdb.connect(str(park_run.warehouse), read_only=True) as con:
            from_copy = con.execute(f'select count(*) from raw."{source}" where _file_name = ?', [pair["copy"]]).fetchone()[0]
        assert from_copy == 0


def test_correcting_delivery_wins_and_superseded_rows_stay_in_audit(park_run, serving):
    corrections = park_run.truth["corrections"]
    assert corrections
    with duckdb.connect(str(park_run.warehouse), read_only=True) as con:
        for fix in corrections:
            key = fix["key"]
            rows = con.execute(
                """select _file_name, value from raw.serum_labs
                   where subject_id = ? and test = ? and replace(collected_at, 'T', ' ') = replace(?, 'T', ' ')
                   order by _received_at""",
                [key["subject_id"], key["test"], key["collected_at"]],
            ).fetchall()
            assert [r[0] for r in rows] == [fix["original_file_name"], fix["file_name"]]
    superseded = serving.execute(
        "select file_name, row_number from audit.superseded_rows where source = 'serum_labs'"
    ).fetchall()
    assert len(superseded) == len(corrections)
    assert {s[0] for s in superseded} == {fix["original_file_name"] for fix in corrections}
    per_file = dict(serving.execute("select file_name, rows_superseded from audit.deliveries").fetchall())
    assert per_file[corrections[0]["original_file_name"]] == len(corrections)


def test_corrected_values_reach_the_biomarker_mart(serving, park_run):
    for fix in park_run.truth["corrections"]:
        key = fix["key"]
        values = serving.execute(
            """select value from marts.fct_biomarker_results
               where subject_id = ? and specimen = 'serum' and analyte = ?
                 and collected_at = cast(? as timestamp)""",
            [key["subject_id"], key["test"], key["collected_at"]],
        ).fetchall()
        assert values == [(pytest.approx(float(fix["new_value"])),)], fix


def test_serving_file_opens_read_only_with_the_published_schemas(park_run):
    with duckdb.connect(str(park_run.serving), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
        tables = {
            f"{s}.{t}" for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
    assert schemas == {"marts", "analysis", "audit"} or schemas == {"marts", "audit"}
    for required in ("marts.dim_subjects", "marts.agg_consort", "audit.deliveries", "audit.quarantine"):
        assert required in tables
    leftovers = [p.name for p in park_run.serving.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
