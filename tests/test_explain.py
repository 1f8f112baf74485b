"""`warehouse explain` (issue 17): a published number, down to the delivered rows that decided it.

Every check on the park2023 run reads the delivered files themselves (the landing folder: the
file `explain` names, the row it names, 1 = the first data row after the header) and compares
them with what `explain` printed. A small hand-built warehouse covers what the synthetic cohort
lacks on a lineage path: a corrected delivered row, a value with nothing recorded, a file locked
by a run.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import duckdb
import pytest

from conftest import warehouse_env
from dagster_project.cli import main
from dagster_project.lib.ingest.store import ensure_tables
from dagster_project.lib.lineage.explain import ExplainError, explain, parse_where
from dagster_project.lib.lineage.render import render_text
from schemas.contract import IDENTIFYING_COLUMNS, SOURCES
from schemas.lineage import key_sql

NOTHING = "no delivered row: nothing recorded"

TOXICITY_WINDOW = (0, 30)  # dbt vars toxicity_window_first_day / last_day


def run_explain(run_root: Path, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    for name, value in warehouse_env(run_root).items():
        monkeypatch.setenv(name, value)
    code = main(["explain", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def explain_json(run, monkeypatch, capsys, *args: str) -> dict:
    code, out, err = run_explain(run.root, monkeypatch, capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def walk(nodes):
    for node in nodes:
        yield node
        yield from walk(node.get("upstream") or [])


def delivered_rows(document: dict) -> list[dict]:
    return [n for r in document["rows"] for n in walk(r["explained"]) if n["kind"] == "delivered_row"]


@cache
def file_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def file_row(run, node: dict) -> dict[str, str]:
    """The delivered row `node` names, read from the file: row_number 1 = first data row."""
    rows = file_rows(run.landing / node["file_name"])
    assert 1 <= node["row_number"] <= len(rows)
    return rows[node["row_number"] - 1]


def assert_values_are_the_file_row(node: dict, row: dict[str, str]) -> None:
    """The values explain shows are the file's cells (numbers as numbers, empty as null)."""
    for column, value in node["values"].items():
        if column == "analyte_as_delivered":  # the lab's spelling; `analyte` is its code
            assert value == row["analyte"]
            continue
        if column == "analyte" and "analyte_as_delivered" in node["values"]:
            continue
        if column not in row:  # a contract column the file does not have (optional)
            assert value is None, column
            continue
        cell = row[column]
        if value is None:
            assert cell.strip() == "", (column, cell)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            assert float(cell) == pytest.approx(value), (column, cell, value)
        else:
            assert str(value) == cell.strip(), (column, cell, value)


def serving_rows(run, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(run.serving), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def quarantined(run) -> set[tuple[str, int]]:
    return {(f, n) for f, n in serving_rows(run, "select file_name, row_number from audit.quarantine")}


@pytest.fixture(scope="module")
def park(park_run):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    return park_run


# ---------------------------------------------------------------- the park2023 cohort

def test_crs_max_grade_lists_the_assessments_holding_it(park, monkeypatch, capsys):
    subjects = serving_rows(park, """select subject_id, crs_max_grade, infused_on from marts.fct_subject_endpoints
                                     where crs_max_grade >= 1 and crs_endpoint_source = 'daily' order by subject_id""")
    assert subjects
    skipped = quarantined(park)
    # the same bytes under another name load once (audit.deliveries: duplicate): not read again
    duplicates = {f for (f,) in serving_rows(park, "select file_name from audit.deliveries where status = 'duplicate'")}
    for subject_id, max_grade, infused_on in subjects:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                "--where", f"subject_id={subject_id}", "--column", "crs_max_grade")
        assert document["n_rows"] == 1 and document["rows"][0]["explained"][0]["value"] == max_grade
        rows = delivered_rows(document)
        assert rows, subject_id
        listed = set()
        for node in rows:
            assert node["source"] == "toxicity_assessments" and node["in_force"]
            delivered = file_row(park, node)
            assert delivered["subject_id"] == subject_id
            assert int(delivered["crs_grade"]) == max_grade
            assert_values_are_the_file_row(node, delivered)
            listed.add((node["file_name"], node["row_number"]))
        # ...and exactly the assessments of the window that hold it, found in the files alone
        expected = set()
        for path in sorted((park.landing / "toxicity_assessments").glob("*.csv")):
            name = f"toxicity_assessments/{path.name}"
            if name in duplicates:
                continue
            for number, row in enumerate(file_rows(path), start=1):
                day = (dt.date.fromisoformat(row["assessed_on"]) - infused_on).days
                if (row["subject_id"] == subject_id and row["crs_grade"].strip() == str(max_grade)
                        and row["criteria"] == "ASTCT2019" and TOXICITY_WINDOW[0] <= day <= TOXICITY_WINDOW[1]
                        and (name, number) not in skipped):
                    expected.add((name, number))
        assert listed == expected, (subject_id, listed, expected)


def _sign_grade(row: dict[str, str]) -> int:
    """ASTCT hypotension/hypoxia grade of one vitals row, from the file (derivations.md)."""
    agents = [a.strip().lower() for a in (row.get("vasopressors") or "").split(";") if a.strip()]
    if len([a for a in agents if a != "vasopressin"]) >= 2:
        hypotension = 4
    elif agents:
        hypotension = 3
    elif row["systolic_bp_mmhg"] and float(row["systolic_bp_mmhg"]) < 90:
        hypotension = 2
    else:
        hypotension = 0
    device, flow = row.get("o2_device") or "", row.get("o2_flow_l_min") or ""
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


def test_crs_max_grade_derived_lists_the_vitals_of_the_deciding_readings(park, monkeypatch, capsys):
    subjects = serving_rows(park, """select subject_id, crs_max_grade_derived from marts.fct_subject_endpoints
                                     where crs_max_grade_derived >= 1 order by subject_id""")
    assert {g for _, g in subjects} >= {1, 2}
    for subject_id, grade in subjects:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                "--where", f"subject_id={subject_id}", "--column", "crs_max_grade_derived")
        rows = delivered_rows(document)
        assert rows, subject_id
        for node in rows:
            assert node["source"] == "vitals"
            assert TOXICITY_WINDOW[0] <= int(node["study_day"] // 1) <= TOXICITY_WINDOW[1]
            delivered = file_row(park, node)
            assert delivered["subject_id"] == subject_id
            assert_values_are_the_file_row(node, delivered)
            if grade == 1:  # fever alone
                assert float(delivered["temperature_c"]) >= 38.0, (subject_id, delivered)
            else:  # the reading's hypotension or hypoxia is the grade
                assert _sign_grade(delivered) == grade, (subject_id, grade, delivered)


def test_a_rate_cell_lists_exactly_its_counted_subjects(park, monkeypatch, capsys):
    document = explain_json(park, monkeypatch, capsys, "marts.agg_toxicity_rates", "--where", "toxicity=CRS",
                            "--where", "group_by=overall", "--where", "grade_category=any")
    assert document["n_rows"] == 1
    row = document["rows"][0]
    n_subjects = row["values"]["n_subjects"]
    [cell] = [e for e in row["explained"] if e["column"] == "n_subjects"]
    subjects = [n for n in cell["upstream"] if n["kind"] == "target"]
    counted = {n["row"]["subject_id"] for n in subjects}
    assert len(subjects) == len(counted) == n_subjects > 0
    with_crs = {s for (s,) in serving_rows(park, "select subject_id from marts.fct_subject_endpoints where crs_max_grade >= 1")}
    assert counted == with_crs
    for node in subjects:  # each subject's max grade, down to the assessment rows that hold it
        assert node["value"] >= 1
        for delivered in node["upstream"]:
            assert delivered["kind"] == "delivered_row"
            cells = file_row(park, delivered)
            assert cells["subject_id"] == node["row"]["subject_id"]
            assert int(cells["crs_grade"]) == node["value"]


def test_a_kinetic_peak_lists_its_sample_row(park, monkeypatch, capsys):
    peaks = serving_rows(park, """select subject_id, peak_value, unit from marts.fct_cytokine_kinetics
                                  where specimen = 'serum' and analyte = 'IL6' and peak_value is not null
                                  order by subject_id""")
    assert peaks
    checked = 0
    for subject_id, peak, unit in peaks:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_cytokine_kinetics",
                                "--where", f"subject_id={subject_id}", "--where", "specimen=serum",
                                "--where", "analyte=IL6", "--column", "peak_value")
        (node,) = delivered_rows(document)
        assert node["source"] == "serum_cytokines"
        cells = file_row(park, node)
        assert cells["subject_id"] == subject_id and node["values"]["analyte"] == "IL6"
        assert_values_are_the_file_row(node, cells)
        try:
            delivered = float(cells["result"])
        except ValueError:  # a censored result (<LLOQ): the peak is its substitute
            continue
        if cells["unit"] == unit:
            assert delivered == pytest.approx(peak)
            checked += 1
    assert checked


def test_the_steroid_total_lists_its_corticosteroid_doses(park, monkeypatch, capsys):
    """steroid_dex_equiv_mg_total lists the corticosteroid doses of the toxicity window; their
    dexamethasone equivalents, computed here from the file rows and the seed's factors (and the
    subjects file's weight for mg/kg), add up to the published total."""
    seed = Path(__file__).resolve().parents[1] / "dbt" / "seeds" / "steroid_equivalents.csv"
    factors = {r["drug"]: float(r["dex_equivalent_factor"]) for r in csv.DictReader(seed.open())}
    weights = {r["subject_id"]: r.get("weight_kg", "") for path in sorted((park.landing / "subjects").glob("*.csv"))
               for r in file_rows(path)}
    totals = serving_rows(park, """select subject_id, steroid_doses_total, steroid_dex_equiv_mg_total
                                   from marts.fct_subject_endpoints where steroid_doses_total > 0 order by 1""")
    assert totals
    for subject_id, n_doses, total in totals:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                "--where", f"subject_id={subject_id}", "--column", "steroid_dex_equiv_mg_total")
        rows = delivered_rows(document)
        assert len(rows) == n_doses, subject_id
        dex = 0.0
        for node in rows:
            cells = file_row(park, node)
            assert node["source"] == "medications" and cells["subject_id"] == subject_id
            assert cells["drug"] in factors
            assert TOXICITY_WINDOW[0] <= node["study_day"] <= TOXICITY_WINDOW[1] + 1
            mg = float(cells["dose"]) * (float(weights[subject_id]) if cells["dose_unit"] == "mg/kg" else 1.0)
            dex += mg * factors[cells["drug"]]
        if total is not None:
            assert dex == pytest.approx(total)


def test_the_best_response_lists_its_assessment(park, monkeypatch, capsys):
    """best_response_d100 lists the one assessment it was read from: in the file, that subject's
    row with that response, on a day of the response window (1..100)."""
    responses = serving_rows(park, """select subject_id, best_response_d100 from marts.fct_subject_endpoints
                                      where best_response_d100 <> 'NE' order by 1""")
    assert responses
    for subject_id, best in responses:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                "--where", f"subject_id={subject_id}", "--column", "best_response_d100")
        (node,) = delivered_rows(document)
        cells = file_row(park, node)
        assert node["source"] == "response_assessments"
        assert (cells["subject_id"], cells["response"]) == (subject_id, best)
        assert 1 <= node["study_day"] < 101
        assert_values_are_the_file_row(node, cells)


RESPONSE_WINDOW = (1, 100)  # dbt vars response_window_first_day / last_day
RESPONSES = ("CR", "PR", "SD", "PD")  # derivations.md, Response: best first; anything else is no response


def accepted_file_rows(run, source: str) -> list[tuple[str, int, dict[str, str]]]:
    """(file name, row number, cells) of every row of `source`'s delivered files, in file-name
    order, but the rows the ingest rejected (audit.quarantine) and the files it loaded as a
    duplicate of another (the same bytes: not read again)."""
    skipped = quarantined(run)
    duplicates = {f for (f,) in serving_rows(run, "select file_name from audit.deliveries where status = 'duplicate'")}
    rows = []
    for path in sorted((run.landing / source).glob("*.csv")):
        name = f"{source}/{path.name}"
        if name in duplicates:
            continue
        rows += [(name, n, row) for n, row in enumerate(file_rows(path), start=1) if (name, n) not in skipped]
    return rows


def infusion_dates(run) -> dict[str, dt.date]:
    """Each infused subject's infused_on, from the subjects files (a later row of a subject
    replaces an earlier one)."""
    dates = {}
    for _, _, row in accepted_file_rows(run, "subjects"):
        if row.get("infused_on", "").strip():
            dates[row["subject_id"]] = dt.date.fromisoformat(row["infused_on"].strip())
    return dates


def test_a_response_rate_cell_lists_exactly_its_counted_subjects(park, monkeypatch, capsys):
    """ORR overall lists its n_subjects subjects, each with the assessment behind its best
    response: in the file, a CR or PR of that subject in the response window. The subjects
    expected are found in the files alone: the infused subjects with a CR or PR on a day 1..100
    from their infusion (the best response is CR or PR exactly then); NE's are those with no
    CR, PR, SD or PD on those days, which name no row."""
    infused = infusion_dates(park)
    assessments = {}  # (subject, assessed_on) -> response; a later delivery of the same key replaces it
    for _, _, row in accepted_file_rows(park, "response_assessments"):
        assessments[(row["subject_id"], row["assessed_on"].strip())] = row["response"].strip()
    in_window = {s: set() for s in infused}
    for (subject_id, assessed_on), response in assessments.items():
        if subject_id in infused:
            day = (dt.date.fromisoformat(assessed_on[:10]) - infused[subject_id]).days
            if RESPONSE_WINDOW[0] <= day <= RESPONSE_WINDOW[1]:
                in_window[subject_id].add(response)
    expected = {
        "ORR": {s for s, r in in_window.items() if r & {"CR", "PR"}},
        "NE": {s for s, r in in_window.items() if not r & set(RESPONSES)},
    }
    assert expected["ORR"] and expected["NE"]

    for measure in ("ORR", "NE"):
        document = explain_json(park, monkeypatch, capsys, "marts.agg_response_rates", "--where", f"measure={measure}",
                                "--where", "group_by=overall")
        assert document["n_rows"] == 1
        row = document["rows"][0]
        assert row["values"]["n_total"] == len(infused)
        n_subjects = row["values"]["n_subjects"]
        [cell] = [e for e in row["explained"] if e["column"] == "n_subjects"]
        subjects = cell["upstream"]
        assert all(n["kind"] == "target" and n["table"] == "marts.fct_subject_endpoints"
                   and n["column"] == "best_response_d100" for n in subjects)
        counted = {n["row"]["subject_id"] for n in subjects}
        assert len(subjects) == len(counted) == n_subjects
        assert counted == expected[measure], measure
        for node in subjects:
            subject_id = node["row"]["subject_id"]
            if measure == "NE":  # no assessment ranks: nothing recorded decided it
                assert node["value"] == "NE" and node["upstream"] == [] and node["note"].startswith(NOTHING)
                continue
            (delivered,) = node["upstream"]  # the assessment behind the best response, from the file
            assert delivered["kind"] == "delivered_row" and delivered["source"] == "response_assessments"
            cells = file_row(park, delivered)
            assert cells["subject_id"] == subject_id and cells["response"] in ("CR", "PR")
            assert cells["response"] == node["value"]
            day = (dt.date.fromisoformat(cells["assessed_on"][:10]) - infused[subject_id]).days
            assert RESPONSE_WINDOW[0] <= day <= RESPONSE_WINDOW[1]
            assert_values_are_the_file_row(delivered, cells)


def _file_date(cells: dict[str, str], column: str) -> dt.date | None:
    text = (cells.get(column) or "").strip()
    return dt.date.fromisoformat(text) if text else None


def test_survival_times_list_the_outcomes_and_infusion_rows_they_count(park, monkeypatch, capsys):
    """os_days, os_event, pfs_days, pfs_event of every subject name the subject's outcomes row
    (the last accepted one of the files) and, for the times, the subjects row of its infusion;
    recomputed from those file rows by derivations.md "Survival" (OS: death, else last known
    alive, minus infused_on; PFS: the earlier of progression and death, else last known alive),
    they are the published values. Subjects with an event and censored ones both occur."""
    outcomes = {}
    for name, number, row in accepted_file_rows(park, "outcomes"):
        outcomes[row["subject_id"]] = (name, number)  # a later row of the subject replaces an earlier one
    subjects_rows = {}
    for name, number, row in accepted_file_rows(park, "subjects"):
        subjects_rows[row["subject_id"]] = (name, number)
    published = serving_rows(park, """select subject_id, os_days, os_event, pfs_days, pfs_event
                                      from marts.fct_subject_endpoints where os_days is not null order by 1""")
    assert published
    events = {"os_event": set(), "pfs_event": set()}
    for subject_id, *values in published:
        document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                "--where", f"subject_id={subject_id}")
        explained = {e["column"]: e for e in document["rows"][0]["explained"]}
        computed = {}
        for column in ("os_days", "os_event", "pfs_days", "pfs_event"):
            node = explained[column]
            by_source = {}
            for delivered in node["upstream"]:
                assert delivered["kind"] == "delivered_row" and delivered["in_force"]
                assert delivered["source"] not in by_source, (subject_id, column)
                by_source[delivered["source"]] = delivered
            # the days count from the infusion row; an event is the outcomes row's alone
            assert set(by_source) == ({"outcomes", "subjects"} if column.endswith("_days") else {"outcomes"}), column
            outcome = by_source["outcomes"]
            assert (outcome["file_name"], outcome["row_number"]) == outcomes[subject_id]
            cells = file_row(park, outcome)
            assert cells["subject_id"] == subject_id
            assert_values_are_the_file_row(outcome, cells)
            died, progressed = _file_date(cells, "died_on"), _file_date(cells, "progressed_on")
            alive = _file_date(cells, "last_known_alive_on")
            if column == "os_event":
                computed[column] = died is not None
            elif column == "pfs_event":
                computed[column] = died is not None or progressed is not None
            else:
                infusion = by_source["subjects"]
                assert (infusion["file_name"], infusion["row_number"]) == subjects_rows[subject_id]
                subject_cells = file_row(park, infusion)
                assert subject_cells["subject_id"] == subject_id
                assert_values_are_the_file_row(infusion, subject_cells)
                infused_on = dt.date.fromisoformat(subject_cells["infused_on"].strip())
                if column == "os_days":
                    end = died or alive
                else:
                    end = min([d for d in (progressed, died) if d is not None], default=alive)
                computed[column] = (end - infused_on).days
                assert outcome["study_day"] == computed[column]  # the day the time ends on
            assert node["value"] == computed[column], (subject_id, column)
        assert tuple(computed[c] for c in ("os_days", "os_event", "pfs_days", "pfs_event")) == tuple(values)
        for column in events:
            events[column].add(computed[column])
    assert events == {"os_event": {True, False}, "pfs_event": {True, False}}


def test_a_corrected_row_shows_the_row_in_force_and_names_the_superseded_one(park, monkeypatch, capsys):
    superseded = serving_rows(park, "select source, file_name, row_number from audit.superseded_rows order by all")
    assert superseded, "the park2023 cohort delivers corrections"
    for source, file_name, row_number in superseded:
        assert source == "serum_labs"  # the cohort's corrections; fct_biomarker_results names its rows
        old = file_row(park, {"file_name": file_name, "row_number": row_number})
        key = ("subject_id", "collected_at", "test")
        # the correction, found in the files alone: the same key in a later delivery
        later = [(f"serum_labs/{p.name}", n) for p in sorted((park.landing / "serum_labs").glob("*.csv"))
                 for n, row in enumerate(file_rows(p), start=1)
                 if f"serum_labs/{p.name}" != file_name and all(row[k] == old[k] for k in key)]
        assert len(later) == 1, later
        [(measurement_id,)] = serving_rows(park, """select measurement_id from marts.fct_biomarker_results
                                                   where file_name = ? and row_number = ?""", later[0])
        document = explain_json(park, monkeypatch, capsys, "marts.fct_biomarker_results",
                                "--where", f"measurement_id={measurement_id}", "--column", "value")
        (node,) = delivered_rows(document)
        assert (node["file_name"], node["row_number"]) == later[0] and node["in_force"]
        assert_values_are_the_file_row(node, file_row(park, node))
        (replaced,) = node["superseded_by_this"]
        assert (replaced["file_name"], replaced["row_number"]) == (file_name, row_number)
        assert_values_are_the_file_row(replaced, old)
        code, text, _ = run_explain(park.root, monkeypatch, capsys, "marts.fct_biomarker_results",
                                    "--where", f"measurement_id={measurement_id}")
        assert code == 0 and f"supersedes {file_name} row {row_number}" in text


def test_text_names_file_and_row_and_never_an_identifying_column(park, monkeypatch, capsys):
    (subject_id,) = serving_rows(park, """select min(subject_id) from marts.fct_subject_endpoints
                                         where crs_max_grade >= 1""")[0]
    code, text, err = run_explain(park.root, monkeypatch, capsys, "marts.fct_subject_endpoints",
                                  "--where", f"subject_id={subject_id}")
    assert code == 0, err
    assert f"subject_id={subject_id}" in text
    for column in ("crs_max_grade =", "icans_max_grade =", "crs_max_grade_derived =", "int_toxicity_max_grades"):
        assert column in text
    document = explain_json(park, monkeypatch, capsys, "marts.fct_subject_endpoints", "--where", f"subject_id={subject_id}")
    for node in delivered_rows(document):
        assert f"{node['file_name']} row {node['row_number']}" in text
        assert {"source", "file_name", "delivery_sha256", "row_number", "values"} <= set(node)
    for name in IDENTIFYING_COLUMNS:
        assert name not in text and f'"{name}"' not in json.dumps(document)


@pytest.mark.parametrize(("args", "message"), [
    (["marts.no_such_table", "--where", "subject_id=P23-001"], "unknown table 'marts.no_such_table'"),
    (["fct_subject_endpoints", "--where", "subject_id=P23-001"], "did you mean marts.fct_subject_endpoints?"),
    (["marts.dim_studies", "--where", "study_id=default"], "marts.dim_studies has no lineage"),
    (["marts.fct_subject_endpoints", "--where", "no_such_column=1"], "unknown column 'no_such_column' in --where"),
    (["marts.fct_subject_endpoints", "--where", "subject_id"], "expected COLUMN=VALUE"),
    (["marts.fct_subject_endpoints", "--where", "subject_id=P23-001", "--column", "nope"], "unknown column 'nope' in --column"),
    (["marts.fct_subject_endpoints", "--where", "subject_id=P23-001", "--column", "disease"], "has no lineage"),
    (["marts.fct_subject_endpoints", "--where", "subject_id=NOBODY"], "no row of marts.fct_subject_endpoints matches subject_id=NOBODY"),
    (["marts.fct_subject_endpoints"], "give at least one --where"),
])
def test_a_request_that_cannot_be_answered_is_one_message_and_exit_2(park, monkeypatch, capsys, args, message):
    code, out, err = run_explain(park.root, monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("warehouse explain: ") and message in err, err


def test_the_command_fails_without_a_traceback(park, tmp_path):
    env = {**warehouse_env(park.root), "PATH": "/usr/bin:/bin"}
    for args, message in [(["marts.fct_subject_endpoints", "--where", "subject_id=NOBODY"], "matches"),
                          (["marts.fct_subject_endpoints", "--where", "x=1"], "unknown column")]:
        done = subprocess.run([sys.executable, "-m", "dagster_project.cli", "explain", *args],
                              capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
        assert done.returncode == 2 and "Traceback" not in done.stderr and message in done.stderr, done.stderr
    env["WAREHOUSE_SERVING_DB_PATH"] = str(tmp_path / "absent.duckdb")
    done = subprocess.run([sys.executable, "-m", "dagster_project.cli", "explain", "marts.fct_subject_endpoints",
                           "--where", "subject_id=P23-001"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2 and "no serving file" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------- a hand-built warehouse

FIRST, CORRECTION = "a" * 64, "b" * 64


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """A warehouse where S-1's day-6 CRS assessment (grade 2) was corrected to grade 3 by a later
    delivery, which also re-sent day 5 unchanged; S-2 has nothing recorded (grade 0 by rule).
    The raw table also holds an identifying column, which explain must never show."""
    root = tmp_path_factory.mktemp("explain_small")
    warehouse, serving = root / "warehouse.duckdb", root / "serving.duckdb"
    source = SOURCES["toxicity_assessments"]
    with duckdb.connect(str(warehouse)) as con:
        ensure_tables(con, source)
        con.execute('alter table raw.toxicity_assessments add column patient_name varchar')
        rows = [  # sha, file, row, subject, day, grade, received
            (FIRST, "toxicity_assessments/first.csv", 1, "S-1", "2021-01-05", 1, "2021-02-01"),
            (FIRST, "toxicity_assessments/first.csv", 2, "S-1", " 2021-01-06", 2, "2021-02-01"),
            (CORRECTION, "toxicity_assessments/correction.csv", 1, "S-1", "2021-01-06", 3, "2021-03-01"),
            (CORRECTION, "toxicity_assessments/correction.csv", 2, "S-1", "2021-01-05", 1, "2021-03-01"),
        ]
        for sha, name, number, subject, day, grade, received in rows:
            con.execute("""insert into raw.toxicity_assessments
                               (subject_id, assessed_on, crs_grade, icans_grade, criteria, _study_id, _row_number,
                                _delivery_sha256, _file_name, _received_at, patient_name)
                           values (?, cast(trim(?) as date), ?, 0, 'ASTCT2019', 'default', ?, ?, ?, ?, 'Jane Planted')""",
                        [subject, day, grade, number, sha, name, received])
        con.execute("create schema staging")
        con.execute("""create table staging.int_toxicity_max_grades as
                       select * from (values ('default', 'S-1', 'CRS', 'ASTCT2019', 3),
                                             ('default', 'S-2', 'CRS', 'ASTCT2019', 0))
                           as t(study_id, subject_id, toxicity, criteria, max_grade)""")
    with duckdb.connect(str(serving)) as con:
        con.execute("create schema marts")
        con.execute("create schema audit")
        con.execute("""create table marts.fct_subject_endpoints as
                       select * from (values ('default', 'S-1', 3), ('default', 'S-2', 0))
                           as t(study_id, subject_id, crs_max_grade)""")
        con.execute(f"attach '{warehouse}' as w (read_only)")
        con.execute(f"""create table audit.lineage as
            select study_id, 'marts.fct_subject_endpoints' as target_table,
                   {key_sql('marts.fct_subject_endpoints', 'm')} as target_key, 'crs_max_grade' as target_column,
                   'int_toxicity_max_grades' as upstream_table, {key_sql('int_toxicity_max_grades', 'm')} as upstream_key,
                   'max_grade' as upstream_column, null::varchar as source, null::varchar as delivery_sha256,
                   null::varchar as file_name, null::bigint as row_number, null::varchar as record_seq,
                   null::double as study_day
            from w.staging.int_toxicity_max_grades as m
            union all
            select study_id, 'int_toxicity_max_grades', {key_sql('int_toxicity_max_grades', 'm')}, 'max_grade',
                   'raw.toxicity_assessments', null, null, 'toxicity_assessments', '{CORRECTION}',
                   'toxicity_assessments/correction.csv', 1, null, 5.0
            from w.staging.int_toxicity_max_grades as m where subject_id = 'S-1'""")
        con.execute(f"""create table audit.superseded_rows as
                        select * from (values ('default', 'toxicity_assessments', '{FIRST}', 'toxicity_assessments/first.csv', 2, 2),
                                              ('default', 'toxicity_assessments', '{FIRST}', 'toxicity_assessments/first.csv', 1, 2))
                            as t(study_id, source, delivery_sha256, file_name, row_number, version_rank)""")
        con.execute("detach w")
    return serving, warehouse


def test_a_correction_on_a_lineage_path_names_the_row_it_replaced(small):
    serving, warehouse = small
    document = explain(serving, warehouse, "marts.fct_subject_endpoints", [("subject_id", "S-1")])
    (row,) = document["rows"]
    (grade,) = row["explained"]
    assert grade["column"] == "crs_max_grade" and grade["value"] == 3
    (max_grade,) = grade["upstream"]
    assert max_grade["table"] == "int_toxicity_max_grades" and max_grade["value"] == 3
    assert max_grade["row"] == {"subject_id": "S-1", "toxicity": "CRS", "criteria": "ASTCT2019"}
    (delivered,) = max_grade["upstream"]
    assert delivered["file_name"] == "toxicity_assessments/correction.csv" and delivered["in_force"]
    assert delivered["values"]["crs_grade"] == 3
    # the day-6 row it replaced (key equal after normalization), not the re-sent day 5
    (replaced,) = delivered["superseded_by_this"]
    assert (replaced["file_name"], replaced["row_number"], replaced["version_rank"]) == ("toxicity_assessments/first.csv", 2, 2)
    assert replaced["values"]["crs_grade"] == 2
    text = render_text(document)
    assert "toxicity_assessments/correction.csv row 1" in text
    assert "supersedes toxicity_assessments/first.csv row 2" in text
    for shown in (text, json.dumps(document)):
        assert "patient_name" not in shown and "Jane Planted" not in shown


def test_a_value_with_nothing_recorded_says_so(small):
    serving, warehouse = small
    document = explain(serving, warehouse, "marts.fct_subject_endpoints", [("subject_id", "S-2")], "crs_max_grade")
    (max_grade,) = document["rows"][0]["explained"][0]["upstream"]
    assert max_grade["upstream"] == [] and max_grade["note"] == "no delivered row: nothing recorded, 0 by rule"
    assert "no delivered row: nothing recorded, 0 by rule" in render_text(document)


def test_a_warehouse_file_locked_by_a_run_is_one_message(small):
    serving, warehouse = small
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(warehouse)!r})\nprint('held', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ExplainError, match="locked by a running pipeline"):
            explain(serving, warehouse, "marts.fct_subject_endpoints", [("subject_id", "S-1")])
    finally:
        holder.kill()
        holder.wait()


def test_where_values_compare_as_text():
    assert parse_where(["subject_id=P001", "grade_category=any", "note=a=b", "empty="]) == [
        ("subject_id", "P001"), ("grade_category", "any"), ("note", "a=b"), ("empty", "")]
    for bad in ("subject_id", "=P001"):
        with pytest.raises(ExplainError, match="expected COLUMN=VALUE"):
            parse_where([bad])
