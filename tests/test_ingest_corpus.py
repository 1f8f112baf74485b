"""Every case of the malformed-delivery corpus (tests/corpus/cases.py) through the real ingest.

For each case: a fresh DuckDB file with the known subjects already loaded (a copy of a template
built once), then the case file and, after it in arrival order, a good delivery of the same source
(the companion), all loaded by one `load_source` run. Asserted: no crash;
the case's status, accepted count and quarantine rows (row, rule, column, value); a rejected
delivery's message names the file and the cause; the companion loads whole; for every
non-duplicate delivery delivered = accepted + quarantined, and the accepted and quarantined row
numbers are disjoint and together exactly 1..delivered; file names are stored as given, relative
to the landing folder; nothing is written outside the landing folder but the warehouse file; and a
second run changes nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from corpus.cases import ANY, CASES, Case, Q, companion, good
from dagster_project.lib.ingest.load import load_source
from schemas.contract import SOURCES

SEED = "subjects/000_subjects.csv"  # the known subjects, in the template warehouse
COMPANION = "zzz_companion.csv"
T0 = 1_700_000_000  # modification times: seed, then `before` files, then the case, then the companion


def _write(path: Path, data: bytes, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))


def _tree(root: Path, skip: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if not p.is_relative_to(skip) and not p.name.startswith("warehouse.duckdb")
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A warehouse with the seed subjects loaded: copied per case (validation is the slow part)."""
    root = tmp_path_factory.mktemp("template")
    _write(root / "landing" / SEED, good("subjects"), T0)
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        [outcome] = load_source(con, SOURCES["subjects"], root / "landing")
        assert (outcome.status, outcome.rows_accepted) == ("loaded", 3)
    return root / "warehouse.duckdb"


def _expected_rows(case: Case) -> dict[int, list[Q]]:
    return {n: (q if isinstance(q, list) else [q]) for n, q in case.quarantined.items()}


def _matches(q: Q, column: str | None, rule: str, value: str | None) -> bool:
    return rule.startswith(q.rule) and column == q.column and (q.value is ANY or value == q.value)


def test_corpus_size_and_unique_names():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 50
    assert all(c.source in SOURCES for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Case, tmp_path: Path, template: Path):
    landing = tmp_path / "landing"
    source = SOURCES[case.source]
    shutil.copyfile(template, tmp_path / "warehouse.duckdb")
    _write(landing / SEED, good("subjects"), T0)  # same bytes and name: already recorded
    for i, (name, data) in enumerate(case.before, start=1):
        _write(landing / case.source / name, data, T0 + 10 * i)
    case_path = landing / case.source / case.file_name
    if case.place is None:
        _write(case_path, case.data(), T0 + 100)
    else:
        case.place(case_path, case.data(), tmp_path)
    _write(landing / case.source / COMPANION, companion(case.source), T0 + 200)
    file_name = f"{case.source}/{case.file_name}"
    before_tree = _tree(tmp_path, landing)

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        outcomes = load_source(con, source, landing)  # must not raise, whatever the file holds

        # --- nothing written outside the landing folder but the warehouse file
        assert _tree(tmp_path, landing) == before_tree

        log = {
            r[0]: r[1:]
            for r in con.execute(
                "select file_name, status, rows_delivered, rows_accepted, rows_quarantined, message from raw.deliveries"
            ).fetchall()
        }
        # --- file names stored exactly, relative to the landing folder
        this_run = {f"{case.source}/{COMPANION}"} | {f"{case.source}/{name}" for name, _ in case.before}
        if case.status != "ignored":
            this_run.add(file_name)
        assert set(log) == this_run | {SEED}
        assert {o.file_name for o in outcomes} == this_run

        # --- the companion (another delivery in the same folder, after the case) still loads whole
        status, delivered, accepted, quarantined, _ = log[f"{case.source}/{COMPANION}"]
        rows = len(companion(case.source).splitlines()) - 1
        assert (status, delivered, accepted, quarantined) == ("loaded", rows, rows, 0)

        # --- accounting of every non-duplicate delivery, against the tables themselves
        for name, (status, delivered, accepted, quarantined, message) in log.items():
            src = name.split("/", 1)[0]
            in_raw = [r[0] for r in con.execute(f'select _row_number from raw."{src}" where _file_name = ?', [name]).fetchall()]
            in_q = {r[0] for r in con.execute("select row_number from raw.quarantine where file_name = ?", [name]).fetchall()}
            if status == "duplicate":
                assert in_raw == [] and in_q == set()
                continue
            assert delivered == accepted + quarantined, name
            assert len(in_raw) == accepted and len(set(in_raw)) == accepted, name
            assert len(in_q) == quarantined, name
            assert set(in_raw).isdisjoint(in_q), f"{name}: a row both accepted and quarantined"
            assert set(in_raw) | in_q == set(range(1, delivered + 1)), f"{name}: row numbers are not 1..{delivered}"

        if case.status == "ignored":
            assert case.check is not None
            case.check(con, file_name)
            return

        # --- the case's own expectations
        status, delivered, accepted, quarantined, message = log[file_name]
        assert status == case.status, message
        assert accepted == case.accepted
        if case.message is not None:
            assert message is not None and case.message in message, message
        if status == "rejected":
            assert file_name in message, "a rejection names the file"
            assert len(message.splitlines()) == 1, "one clear message"
        if status != "duplicate":
            rows = con.execute(
                "select row_number, column_name, rule, value from raw.quarantine where file_name = ? order by row_number, rule",
                [file_name],
            ).fetchall()
            expected = _expected_rows(case)
            assert {r[0] for r in rows} == set(expected), rows
            for row_number, column, rule, value in rows:
                assert any(_matches(q, column, rule, value) for q in expected[row_number]), (row_number, column, rule, value)
            for row_number, qs in expected.items():
                for q in qs:
                    assert any(_matches(q, c, r, v) for n, c, r, v in rows if n == row_number), (row_number, q, rows)
        if case.check is not None:
            case.check(con, file_name)

        # --- a second run finds nothing new and changes nothing
        counts = con.execute("select count(*) from raw.quarantine").fetchone()[0], con.execute(
            f'select count(*) from raw."{case.source}"'
        ).fetchone()[0]
        assert load_source(con, source, landing) == []
        assert (
            con.execute("select count(*) from raw.quarantine").fetchone()[0],
            con.execute(f'select count(*) from raw."{case.source}"').fetchone()[0],
        ) == counts


@pytest.mark.parametrize("source", ["vitals", "serum_cytokines"])
def test_measurements_before_any_subject_are_quarantined_not_lost(source: str, tmp_path: Path):
    """A measurement delivery reaching a warehouse that has no subject yet: every row goes to
    quarantine as `unknown_subject` (no crash on the empty cohort), delivered = quarantined."""
    landing = tmp_path / "landing"
    _write(landing / source / "early.csv", good(source), T0)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        [outcome] = load_source(con, SOURCES[source], landing)
        rules = con.execute("select distinct rule from raw.quarantine").fetchall()
    assert (outcome.status, outcome.rows_accepted) == ("loaded", 0)
    assert outcome.rows_quarantined == outcome.rows_delivered > 0
    assert rules == [("unknown_subject",)]
