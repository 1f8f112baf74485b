"""Corrections stay explainable (issue 17, item 5), through the real pipeline.

The park2023 cohort's own corrections are serum labs, on no lineage path; tests/test_explain.py
covers a corrected row on a lineage path only on a hand-built warehouse. Here, a copy of the
session's park2023 run (landing folder, warehouse and serving files) receives two correction
deliveries, and `warehouse run` (real Dagster, dbt and DuckDB) runs once more over it:

- toxicity_assessments: the assessment deciding a grade-1 subject's crs_max_grade, delivered again
  with the same natural key (subject_id, assessed_on) and crs_grade 2;
- vitals: a fever reading of the same subject (within the toxicity window, the derived-grade
  path), delivered again with the same key (subject_id, recorded_at) and a systolic pressure of
  85 mmHg: fever with hypotension, no vasopressor = derived CRS grade 2 (derivations.md).

This proves that, after the run:
- `warehouse explain marts.fct_subject_endpoints --where subject_id=S --column crs_max_grade
  --json` shows the correction file's row in force, with `superseded_by_this` naming the old
  file and row, whose values are that row's cells in the old file; the published crs_max_grade
  is the grade in the correction file; the same for crs_max_grade_derived and the vitals row;
- audit.superseded_rows lists exactly the two replaced rows (besides the cohort's serum labs);
- the agg_toxicity_rates cells (CRS, overall) of the old and the new grade count the subject
  where they should, and their n_subjects equal a count recomputed from the delivered files
  (arrival order, identical files loaded once, the old file's row replaced by the correction).

Every expectation is read from the delivered files, never from the warehouse's own output; the
run before the correction is only checked to show the same files-based count described it too.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import PipelineRun, run_landing, warehouse_env
from dagster_project.cli import main
from pipeline_process import copy_landing, delivery_files

TOXICITY_WINDOW = (0, 30)  # dbt vars toxicity_window_first_day / last_day, edges included
CRITERIA = "ASTCT2019"
OLD_GRADE, NEW_GRADE = 1, 2
CORRECTED_SYSTOLIC = "85"  # < 90 mmHg, no vasopressor: hypotension grade 2
FEVER_C = 38.0
TEMPERATURE_RANGE = (30.0, 45.0)  # sources.md: a reading outside it is quarantined


# ---------------------------------------------------------------- the delivered files

@dataclass(frozen=True)
class FileRow:
    file_name: str  # relative to the landing folder, as explain names it
    row_number: int  # 1 = the first data row after the header
    cells: dict[str, str]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def loaded_deliveries(landing: Path, source: str) -> list[tuple[str, list[dict[str, str]]]]:
    """The delivery files of a source in arrival order (modification time, then name), each
    sha256 once: the same bytes under another name are not loaded again (sources.md)."""
    paths = sorted((landing / source).glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name))
    seen, out = set(), []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        out.append((f"{source}/{path.name}", read_csv(path)[1]))
    return out


def _key(cells: dict[str, str], columns: tuple[str, ...]) -> tuple[str, ...]:
    """A natural key compared as sources.md says: text stripped, case ignored, `T` = space."""
    return tuple(cells[c].strip().upper().replace("T", " ") if c.endswith("_at") else cells[c].strip().upper()
                 for c in columns)


def rows_in_force(deliveries, key: tuple[str, ...]) -> dict[tuple[str, ...], FileRow]:
    """Per natural key, the row of the latest delivery (a later delivery corrects)."""
    current: dict[tuple[str, ...], FileRow] = {}
    for file_name, rows in deliveries:
        for number, cells in enumerate(rows, start=1):
            current[_key(cells, key)] = FileRow(file_name, number, cells)
    return current


def infused_on(landing: Path) -> dict[str, dt.date]:
    """Infused subjects and their infusion date, from the subjects files (latest row wins)."""
    subjects = rows_in_force(loaded_deliveries(landing, "subjects"), ("subject_id",))
    return {r.cells["subject_id"]: dt.date.fromisoformat(r.cells["infused_on"])
            for r in subjects.values() if r.cells.get("infused_on", "").strip()}


def in_window(day: int) -> bool:
    return TOXICITY_WINDOW[0] <= day <= TOXICITY_WINDOW[1]


def assessment_day(row: FileRow, infused: dict[str, dt.date]) -> int:
    return (dt.date.fromisoformat(row.cells["assessed_on"].strip()) - infused[row.cells["subject_id"]]).days


def crs_max_grades(assessments: dict, infused: dict[str, dt.date]) -> dict[str, int]:
    """Every infused subject's adjudicated CRS max grade in the toxicity window (0 with nothing
    recorded: every infused subject counts, derivations.md)."""
    grades = dict.fromkeys(infused, 0)
    for row in assessments.values():
        subject = row.cells["subject_id"]
        if subject in infused and row.cells["criteria"] == CRITERIA and in_window(assessment_day(row, infused)):
            grades[subject] = max(grades[subject], int(row.cells["crs_grade"]))
    return grades


def sign_grade(cells: dict[str, str]) -> int:
    """ASTCT hypotension/hypoxia grade of one vitals reading (derivations.md, CRS table)."""
    agents = [a.strip().lower() for a in (cells.get("vasopressors") or "").split(";") if a.strip()]
    if len([a for a in agents if a != "vasopressin"]) >= 2:
        hypotension = 4
    elif agents:
        hypotension = 3
    elif cells.get("systolic_bp_mmhg", "").strip() and float(cells["systolic_bp_mmhg"]) < 90:
        hypotension = 2
    else:
        hypotension = 0
    device, flow = (cells.get("o2_device") or "").strip(), (cells.get("o2_flow_l_min") or "").strip()
    if device in ("cpap", "bipap", "mechanical_ventilation"):
        hypoxia = 4
    elif device in ("high_flow_nasal_cannula", "facemask", "nonrebreather", "venturi") or (
            device == "nasal_cannula" and flow and float(flow) > 6):
        hypoxia = 3
    elif device == "nasal_cannula":
        hypoxia = 2
    else:
        hypoxia = 0
    return max(hypotension, hypoxia)


def valid_temperature(cells: dict[str, str]) -> float | None:
    text = cells.get("temperature_c", "").strip()
    if not text:
        return None
    value = float(text)
    return value if TEMPERATURE_RANGE[0] <= value <= TEMPERATURE_RANGE[1] else None


def window_readings(vitals: dict, subject: str, infused: dict[str, dt.date]) -> list[FileRow]:
    """A subject's vitals readings of the toxicity window (study day = local date - infusion)."""
    out = []
    for row in vitals.values():
        if row.cells["subject_id"] != subject:
            continue
        day = (dt.date.fromisoformat(row.cells["recorded_at"].strip()[:10]) - infused[subject]).days
        if in_window(day):
            out.append(row)
    return sorted(out, key=lambda r: (r.cells["recorded_at"], r.file_name, r.row_number))


# ---------------------------------------------------------------- the run with the corrections

@dataclass
class Corrected:
    run: PipelineRun  # the copy, after the run with the corrections
    base: PipelineRun  # the session's park2023 run, before them
    subject: str
    old_assessment: FileRow
    new_assessment: FileRow
    old_reading: FileRow
    new_reading: FileRow
    grades_before: dict[str, int]  # CRS max grades from the files, before / after the correction
    grades_after: dict[str, int]


def _write_correction(landing: Path, old: FileRow, cells: dict[str, str], name: str, mtime: float) -> FileRow:
    """A one-row delivery in the old file's format (its header, its column order)."""
    header, _ = read_csv(landing / old.file_name)
    path = landing / old.file_name.split("/")[0] / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerow(cells)
    os.utime(path, (mtime, mtime))
    return FileRow(path.relative_to(landing).as_posix(), 1, dict(cells))


@pytest.fixture(scope="module")
def corrected(park_run, tmp_path_factory) -> Corrected:
    assert park_run.exit_code == 0, park_run.output[-3000:]
    root = tmp_path_factory.mktemp("explain_corrections")
    landing = root / "landing"
    copy_landing(delivery_files(park_run.landing), park_run.landing, landing)
    for path in (park_run.warehouse, park_run.serving, park_run.warehouse.with_name(park_run.warehouse.name + ".wal")):
        if path.exists():
            shutil.copy2(path, root / path.name)

    # the subject and rows to correct, chosen in the files alone
    infused = infused_on(landing)
    assessments = rows_in_force(loaded_deliveries(landing, "toxicity_assessments"), ("subject_id", "assessed_on"))
    vitals = rows_in_force(loaded_deliveries(landing, "vitals"), ("subject_id", "recorded_at"))
    grades_before = crs_max_grades(assessments, infused)
    choice = None
    for subject in sorted(s for s, g in grades_before.items() if g == OLD_GRADE):
        readings = window_readings(vitals, subject, infused)
        fevers = [r for r in readings if (valid_temperature(r.cells) or 0) >= FEVER_C]
        # derived grade 1 (fever alone): no reading of the window with hypotension or hypoxia
        if fevers and all(sign_grade(r.cells) == 0 for r in readings):
            deciding = sorted((r for r in assessments.values()
                               if r.cells["subject_id"] == subject and r.cells["criteria"] == CRITERIA
                               and in_window(assessment_day(r, infused)) and int(r.cells["crs_grade"]) == OLD_GRADE),
                              key=lambda r: (r.cells["assessed_on"], r.file_name, r.row_number))
            choice = (subject, deciding[0], fevers[0])
            break
    assert choice, "the park2023 cohort has a grade-1 subject with a fever reading and no hypotension or hypoxia"
    subject, old_assessment, old_reading = choice

    # delivered after every file of the landing folder
    latest = max(p.stat().st_mtime for p in delivery_files(landing))
    when = dt.datetime.fromtimestamp(latest, tz=dt.timezone.utc).date() + dt.timedelta(days=1)
    mtime = dt.datetime.combine(when, dt.time(12), tzinfo=dt.timezone.utc).timestamp()
    name = f"{when.isoformat()}_correction.csv"
    new_assessment = _write_correction(landing, old_assessment, {**old_assessment.cells, "crs_grade": str(NEW_GRADE)},
                                       name, mtime)
    new_reading = _write_correction(landing, old_reading, {**old_reading.cells, "systolic_bp_mmhg": CORRECTED_SYSTOLIC},
                                    name, mtime)

    # the expected grades: the files as they are now (the correction, latest, wins its key)
    assessments_after = rows_in_force(loaded_deliveries(landing, "toxicity_assessments"), ("subject_id", "assessed_on"))
    grades_after = crs_max_grades(assessments_after, infused)
    # ...which is the old files with the old row replaced by the corrected one
    replaced = {**assessments, _key(old_assessment.cells, ("subject_id", "assessed_on")):
                FileRow(old_assessment.file_name, old_assessment.row_number, new_assessment.cells)}
    assert grades_after == crs_max_grades(replaced, infused)
    assert grades_after[subject] == NEW_GRADE

    code, output = run_landing(root)
    run = PipelineRun(root=root, landing=landing, warehouse=root / "warehouse.duckdb", serving=root / "serving.duckdb",
                      dagster_home=root / "dagster_home", truth=park_run.truth, exit_code=code, output=output)
    return Corrected(run, park_run, subject, old_assessment, new_assessment, old_reading, new_reading,
                     grades_before, grades_after)


# ---------------------------------------------------------------- helpers

def explain_json(run: PipelineRun, monkeypatch, capsys, *args: str) -> dict:
    for name, value in warehouse_env(run.root).items():
        monkeypatch.setenv(name, value)
    code = main(["explain", *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def explain_text(run: PipelineRun, monkeypatch, capsys, *args: str) -> str:
    for name, value in warehouse_env(run.root).items():
        monkeypatch.setenv(name, value)
    code = main(["explain", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.get("upstream") or [])


def delivered_rows(document: dict) -> list[dict]:
    return [n for r in document["rows"] for n in walk(r["explained"]) if n["kind"] == "delivered_row"]


def serving_rows(run: PipelineRun, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(run.serving), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def assert_values_are_the_cells(values: dict, cells: dict[str, str]) -> None:
    """The values explain shows are the delivered cells (numbers as numbers, empty as null)."""
    for column, value in values.items():
        if column not in cells:  # a contract column the file does not have (optional)
            assert value is None, column
            continue
        cell = cells[column].strip()
        if value is None:
            assert cell == "", (column, cell)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            assert float(cell) == pytest.approx(value), (column, cell, value)
        else:
            assert str(value) == cell, (column, cell, value)


def assert_correction_in_force(node: dict, new: FileRow, old: FileRow, source: str) -> None:
    """`node` is the correction's row, in force, naming the row it replaced with its old values."""
    assert node["kind"] == "delivered_row" and node["source"] == source
    assert (node["file_name"], node["row_number"]) == (new.file_name, new.row_number)
    assert node["in_force"] is True
    assert_values_are_the_cells(node["values"], new.cells)
    (replaced,) = node["superseded_by_this"]
    assert replaced["source"] == source
    assert (replaced["file_name"], replaced["row_number"]) == (old.file_name, old.row_number)
    assert replaced["version_rank"] == 2
    assert replaced["delivery_sha256"] != node["delivery_sha256"]
    assert_values_are_the_cells(replaced["values"], old.cells)


# ---------------------------------------------------------------- the tests

def test_the_run_with_the_corrections_succeeds_and_audits_the_replaced_rows(corrected):
    run = corrected.run
    assert run.exit_code == 0, run.output[-3000:]
    listed = {(s, f, n) for s, f, n in serving_rows(
        run, "select source, file_name, row_number from audit.superseded_rows where source <> 'serum_labs'")}
    assert listed == {("toxicity_assessments", corrected.old_assessment.file_name, corrected.old_assessment.row_number),
                      ("vitals", corrected.old_reading.file_name, corrected.old_reading.row_number)}
    loaded = dict(serving_rows(run, "select file_name, status from audit.deliveries where file_name in (?, ?)",
                               [corrected.new_assessment.file_name, corrected.new_reading.file_name]))
    assert loaded == {corrected.new_assessment.file_name: "loaded", corrected.new_reading.file_name: "loaded"}


def test_crs_max_grade_shows_the_correction_in_force_and_names_the_row_it_replaced(corrected, monkeypatch, capsys):
    run, subject = corrected.run, corrected.subject
    assert run.exit_code == 0, run.output[-3000:]
    # before the correction, the published grade was the old file's
    [(before,)] = serving_rows(corrected.base, "select crs_max_grade from marts.fct_subject_endpoints where subject_id = ?",
                               [subject])
    assert before == int(corrected.old_assessment.cells["crs_grade"]) == OLD_GRADE

    document = explain_json(run, monkeypatch, capsys, "marts.fct_subject_endpoints", "--where", f"subject_id={subject}",
                            "--column", "crs_max_grade")
    corrected_grade = int(corrected.new_assessment.cells["crs_grade"])
    (row,) = document["rows"]
    assert row["values"]["crs_max_grade"] == corrected_grade
    [(published,)] = serving_rows(run, "select crs_max_grade from marts.fct_subject_endpoints where subject_id = ?", [subject])
    assert published == corrected_grade
    (grade,) = row["explained"]
    assert grade["column"] == "crs_max_grade" and grade["value"] == corrected_grade
    (max_grade,) = grade["upstream"]
    assert max_grade["table"] == "int_toxicity_max_grades" and max_grade["value"] == corrected_grade
    assert max_grade["row"] == {"subject_id": subject, "toxicity": "CRS", "criteria": CRITERIA}
    # the one assessment holding the new maximum: the correction, not the old file's row
    (node,) = max_grade["upstream"]
    assert_correction_in_force(node, corrected.new_assessment, corrected.old_assessment, "toxicity_assessments")
    assert node["superseded_by_this"][0]["values"]["crs_grade"] == OLD_GRADE

    text = explain_text(run, monkeypatch, capsys, "marts.fct_subject_endpoints", "--where", f"subject_id={subject}",
                        "--column", "crs_max_grade")
    assert f"{corrected.new_assessment.file_name} row 1" in text
    assert f"supersedes {corrected.old_assessment.file_name} row {corrected.old_assessment.row_number}" in text


def test_crs_max_grade_derived_shows_the_corrected_vitals_reading(corrected, monkeypatch, capsys):
    run, subject = corrected.run, corrected.subject
    assert run.exit_code == 0, run.output[-3000:]
    [(before,)] = serving_rows(corrected.base,
                               "select crs_max_grade_derived from marts.fct_subject_endpoints where subject_id = ?", [subject])
    assert before == 1  # fever alone: no reading of the window with hypotension or hypoxia (the files)

    # the corrected reading, from the new file: fever and systolic < 90 without vasopressor
    new = corrected.new_reading.cells
    assert float(new["temperature_c"]) >= FEVER_C
    expected = sign_grade(new)
    assert expected == NEW_GRADE

    document = explain_json(run, monkeypatch, capsys, "marts.fct_subject_endpoints", "--where", f"subject_id={subject}",
                            "--column", "crs_max_grade_derived")
    (row,) = document["rows"]
    assert row["values"]["crs_max_grade_derived"] == expected
    (grade,) = row["explained"]
    assert grade["value"] == expected
    (node,) = delivered_rows(document)  # the one reading of grade 2 in the window
    assert_correction_in_force(node, corrected.new_reading, corrected.old_reading, "vitals")
    assert node["values"]["systolic_bp_mmhg"] == float(CORRECTED_SYSTOLIC)
    assert node["superseded_by_this"][0]["values"]["systolic_bp_mmhg"] != float(CORRECTED_SYSTOLIC)


@pytest.mark.parametrize("category", [f"grade_{OLD_GRADE}", f"grade_{NEW_GRADE}"])
def test_the_rate_cells_count_the_corrected_grade(corrected, monkeypatch, capsys, category):
    run, subject = corrected.run, corrected.subject
    assert run.exit_code == 0, run.output[-3000:]
    grade = int(category.removeprefix("grade_"))
    where = ["--where", "toxicity=CRS", "--where", f"criteria={CRITERIA}", "--where", "group_by=overall",
             "--where", f"grade_category={category}"]
    cell_sql = """select n_subjects from marts.agg_toxicity_rates where toxicity = 'CRS' and criteria = ?
                  and group_by = 'overall' and grade_category = ?"""
    # before: the files-based count described the cell too
    [(n_before,)] = serving_rows(corrected.base, cell_sql, [CRITERIA, category])
    assert n_before == sum(g == grade for g in corrected.grades_before.values())

    document = explain_json(run, monkeypatch, capsys, "marts.agg_toxicity_rates", *where)
    (row,) = document["rows"]
    n_subjects = row["values"]["n_subjects"]
    (cell,) = [e for e in row["explained"] if e["column"] == "n_subjects"]
    counted = {n["row"]["subject_id"]: n for n in cell["upstream"] if n["kind"] == "target"}
    expected = {s for s, g in corrected.grades_after.items() if g == grade}
    assert set(counted) == expected
    assert n_subjects == len(expected) == len(cell["upstream"])
    assert serving_rows(run, cell_sql, [CRITERIA, category]) == [(n_subjects,)]
    if grade == NEW_GRADE:  # now counts the subject, through the correction
        assert subject in counted and n_subjects == n_before + 1
        (node,) = counted[subject]["upstream"]
        assert_correction_in_force(node, corrected.new_assessment, corrected.old_assessment, "toxicity_assessments")
    else:  # no longer counts it
        assert subject not in counted and n_subjects == n_before - 1
