"""No identifying data (names, MRNs, birth dates) is stored, logged or shown (sources.md,
"Identifying data"): the generator plants them in the subjects deliveries; they must appear in
nothing the warehouse writes."""

from __future__ import annotations

import duckdb
import pytest


def _written_files(run):
    """Everything the run wrote: warehouse and serving files, Dagster storage and logs."""
    for path in run.root.rglob("*"):
        if path.is_file() and run.landing not in path.parents and path.name != "cohort_truth.json":
            yield path


@pytest.fixture(scope="module")
def planted(park_run):
    values = park_run.truth["identifying_values"]
    assert len(values) >= 30  # names, MRNs and birth dates of 34 subjects were planted
    return values


def test_planted_values_are_really_in_the_deliveries(park_run, planted):
    # Guards the other tests: they would pass vacuously if nothing had been planted.
    delivered = b"".join(p.read_bytes() for p in (park_run.landing / "subjects").iterdir())
    assert all(v.encode() in delivered for v in planted)


def test_no_identifying_value_in_any_written_file(park_run, planted):
    files = list(_written_files(park_run))
    assert any(p.name == "warehouse.duckdb" for p in files)
    assert any(p.name == "serving.duckdb" for p in files)
    assert any("dagster_home" in p.parts for p in files)
    for path in files:
        data = path.read_bytes()
        found = [v for v in planted if v.encode() in data]
        assert not found, f"{path} contains {found[:3]}"


def test_no_identifying_value_in_any_text_column(park_run, planted):
    """Scan the values too: DuckDB compresses strings, so a byte scan alone could miss one."""
    for db in (park_run.warehouse, park_run.serving):
        with duckdb.connect(str(db), read_only=True) as con:
            columns = con.execute(
                """select schema_name, table_name, column_name from duckdb_columns()
                   where data_type = 'VARCHAR' and not internal"""
            ).fetchall()
            assert columns
            for schema, table, column in columns:
                hits = con.execute(
                    f'select count(*) from "{schema}"."{table}" where "{column}" in (select unnest(?))',
                    [planted],
                ).fetchone()[0]
                assert hits == 0, f"{db.name} {schema}.{table}.{column}"
            names = {c for _, _, c in columns}
            assert not names & {"patient_name", "mrn", "date_of_birth"}


def test_no_identifying_value_in_the_printed_summary(park_run, planted):
    assert not [v for v in planted if v in park_run.output]
