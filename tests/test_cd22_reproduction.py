"""The CD22 CAR T trial (Lichtenstein et al., Blood 2021), reproduced from the authors' own exports.

The README's steps exactly: `examples/studies/cd22` copied to `<landing>/cd22`, the three files of
`../shared/realdata/car22_lichtenstein2021/` copied unchanged into `<landing>/cd22/mapped/`, one
`warehouse run`. Expected numbers are the paper's (README of the data folder) and what the files
say, read here independently with the csv module and python-calamine, never the warehouse's
own output. Skipped, with the reason printed, when ../shared/realdata is absent.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED, run_landing

DATA = SHARED / "realdata" / "car22_lichtenstein2021"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "studies" / "cd22"
FILES = ("day_after_infusion_data_export.csv", "id_key_crs_grades_export.csv", "clinical_data_05-12-20_v1.xlsx")

if not DATA.is_dir():
    print(f"\nCD22 reproduction skipped: {DATA} is not present (the realdata folder of ../shared)")
    pytest.skip(f"{DATA} is not present: the CD22 reproduction needs ../shared/realdata", allow_module_level=True)

# The paper's figures (Lichtenstein 2021; README of the data folder).
PAPER_INFUSED, PAPER_CRS, PAPER_CARHLH = 59, 52, 21
PAPER_ASTCT = {0: 7, 1: 21, 2: 19, 3: 10, 4: 2}
PAPER_LEE = {0: 7, 1: 26, 2: 21, 3: 3, 4: 2}


@pytest.fixture(scope="module")
def cd22(tmp_path_factory):
    root = tmp_path_factory.mktemp("cd22")
    study = root / "landing" / "cd22"
    shutil.copytree(EXAMPLE, study)
    (study / "mapped").mkdir()
    for name in FILES:
        shutil.copy2(DATA / name, study / "mapped" / name)
    code, output = run_landing(root)
    assert code == 0, output[-4000:]
    return root


def _query(root: Path, sql: str, params=()):
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _id_key() -> list[dict]:
    with (DATA / "id_key_crs_grades_export.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _sheet() -> tuple[list[str], list[list]]:
    """The clinical sheet's bottom header row and data rows, as python-calamine reads them."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(DATA / FILES[2]))
    rows = book.get_sheet_by_index(0).to_python()
    return [str(c).strip() for c in rows[2]], [r for r in rows[3:] if any(c != "" for c in r)]


# ---- subjects and toxicity -----------------------------------------------------------------------

def test_59_subjects_infused_with_relative_time(cd22):
    assert _query(cd22, "select time_mode, n_subjects from marts.dim_studies where study_id = 'cd22'") == [
        ("relative", PAPER_INFUSED)]
    assert _query(cd22, "select count(*), count(*) filter (where is_infused), count(infused_on) "
                        "from marts.dim_subjects where study_id = 'cd22'") == [(PAPER_INFUSED, PAPER_INFUSED, 0)]
    consort = dict(_query(cd22, "select step, n_subjects from marts.agg_consort where study_id = 'cd22'"))
    assert consort["infused"] == PAPER_INFUSED


def _grades(root: Path, criteria: str) -> dict[int, int]:
    rows = _query(root, """select grade_category, n_subjects from marts.agg_toxicity_rates
        where study_id = 'cd22' and toxicity = 'CRS' and criteria = ? and group_by = 'overall'""", [criteria])
    return {int(c.split("_")[1]): n for c, n in rows if c.startswith("grade_") and n}


def test_crs_rates_and_grade_distributions_by_both_criteria(cd22):
    key = _id_key()
    from_file = {
        "ASTCT2019": Counter(int(r["Max Grade CRS_ASBMT"]) for r in key),
        "Lee2014": Counter(int(r["Max Grade CRS_Lee"]) for r in key),
    }
    assert dict(from_file["ASTCT2019"]) == PAPER_ASTCT and dict(from_file["Lee2014"]) == PAPER_LEE
    for criteria, paper in (("ASTCT2019", PAPER_ASTCT), ("Lee2014", PAPER_LEE)):
        assert _grades(cd22, criteria) == paper, criteria
        [(n, total, pct)] = _query(cd22, """select n_subjects, n_total, pct from marts.agg_toxicity_rates
            where study_id = 'cd22' and toxicity = 'CRS' and criteria = ? and group_by = 'overall'
              and grade_category = 'any'""", [criteria])
        assert (n, total) == (PAPER_CRS, PAPER_INFUSED)
        assert pct == pytest.approx(100 * PAPER_CRS / PAPER_INFUSED)


def test_carhlh_in_21_subjects_all_with_crs(cd22):
    [(n, total)] = _query(cd22, """select n_subjects, n_total from marts.agg_toxicity_rates
        where study_id = 'cd22' and toxicity = 'IEC-HS' and group_by = 'overall' and grade_category = 'any'""")
    assert (n, total) == (PAPER_CARHLH, PAPER_INFUSED)
    # IEC-HS is presence only: no grade categories
    assert _query(cd22, """select distinct grade_category from marts.agg_toxicity_rates
        where study_id = 'cd22' and toxicity = 'IEC-HS'""") == [("any",)]
    [(with_hlh, with_crs)] = _query(cd22, """select count(*) filter (where iec_hs_present),
            count(*) filter (where iec_hs_present and crs_max_grade >= 1)
        from marts.fct_subject_endpoints where study_id = 'cd22'""")
    assert with_hlh == with_crs == PAPER_CARHLH
    assert round(100 * with_hlh / PAPER_CRS, 1) == 40.4  # the paper's 21/52


def test_lee_vs_astct_cross_table(cd22):
    expected = Counter((int(r["Max Grade CRS_ASBMT"]), int(r["Max Grade CRS_Lee"])) for r in _id_key())
    rows = _query(cd22, """select grade_a, grade_b, n_subjects from marts.fct_toxicity_criteria_shift
        where study_id = 'cd22' and toxicity = 'CRS' and criteria_a = 'ASTCT2019' and criteria_b = 'Lee2014'""")
    assert {(a, b): n for a, b, n in rows if n} == dict(expected)
    assert sum(n for *_, n in rows) == PAPER_INFUSED


# ---- response ---------------------------------------------------------------------------------------

def test_best_response_from_the_clinical_sheet(cd22):
    header, rows = _sheet()
    column = next(i for i, name in enumerate(header) if name.startswith("Response (0 = MRD- CR"))
    codes = Counter("-" if r[column] == "-" else int(r[column]) for r in rows)
    expected = {"CR": codes[0] + codes[1], "PR": codes[2], "SD": codes[3], "PD": codes[4], "NE": codes["-"],
                "CR_MRD_NEG": codes[0], "CR_MRD_POS": codes[1], "ORR": codes[0] + codes[1] + codes[2]}
    got = dict(_query(cd22, """select measure, n_subjects from marts.agg_response_rates
        where study_id = 'cd22' and group_by = 'overall'"""))
    assert {m: got.get(m) for m in expected} == expected
    assert expected["CR"] == 42 and expected["NE"] == 1


# ---- biomarkers ---------------------------------------------------------------------------------------

def test_every_cytokine_value_with_its_study_day_and_no_date(cd22):
    with (DATA / FILES[0]).open(newline="") as handle:
        values = [r for r in csv.DictReader(handle) if r["cytokine_levels"].strip()]
    assert len(values) == 11037
    rows = _query(cd22, """select count(*), count(distinct analyte), min(study_day), max(study_day), count(collected_at),
            sum(value) from marts.fct_biomarker_results where study_id = 'cd22' and specimen = 'serum'
            and analyte not in ('CRP', 'FERRITIN', 'LDH')""")
    [(n, n_analytes, first, last, n_dated, total)] = rows
    assert (n, n_analytes, first, last, n_dated) == (11037, 14, 0, 28, 0)
    assert total == pytest.approx(sum(float(r["cytokine_levels"]) for r in values))


def test_crp_ferritin_ldh_with_fractional_days(cd22):
    header, rows = _sheet()
    expected = Counter()
    days = set()
    for i, name in enumerate(header):
        test = {"CRP (mg/L)": "CRP", "Ferritin (ug/L)": "FERRITIN", "LDH (U/L)": "LDH"}.get(name)
        if test is None or i > 60:
            continue
        for r in rows:
            if isinstance(r[i], float) and r[i + 1] != "":
                expected[test] += 1
                days.add(round(float(r[i + 1]), 6))
    got = dict(_query(cd22, """select analyte, count(*) from marts.fct_biomarker_results
        where study_id = 'cd22' and analyte in ('CRP', 'FERRITIN', 'LDH') group by 1"""))
    assert got == dict(expected)
    stored = {round(d, 6) for (d,) in _query(cd22, """select study_day from marts.fct_biomarker_results
        where study_id = 'cd22' and analyte in ('CRP', 'FERRITIN', 'LDH')""")}
    assert stored == days and any(d != int(d) for d in stored)


def test_cytokine_curves_by_carhlh_and_the_figure(cd22):
    rows = _query(cd22, """select group_by, "group", count(distinct analyte) from analysis.cytokine_curves
        where study_id = 'cd22' group by 1, 2 order by 2""")
    assert rows == [("IEC-HS", "IEC-HS absent", 14), ("IEC-HS", "IEC-HS present", 14), ("IEC-HS", "all", 14)]
    figures = list((cd22 / "figures").rglob("*.png"))
    assert any("cd22" in str(p) and "cytokine" in p.name for p in figures), figures


# ---- accounting and data safety -------------------------------------------------------------------------

def test_every_record_of_the_three_files_is_accounted_for(cd22):
    rows = _query(cd22, """select file_name, source, rows_delivered, rows_accepted, rows_quarantined,
            rows_out_of_scope, data_rows from audit.deliveries where study_id = 'cd22' order by 1""")
    assert [r[0] for r in rows] == sorted(f"cd22/mapped/{f}" for f in FILES)
    for file_name, source, records, accepted, quarantined, out, data_rows in rows:
        assert source == "mapped"
        assert records == accepted + quarantined + out, file_name
    by_file = {r[0].split("/")[-1]: r for r in rows}
    assert by_file[FILES[0]][2:] == (15686, 11037, 0, 15686 - 11037, 15686)
    assert by_file[FILES[1]][6] == len(_id_key()) == PAPER_INFUSED
    assert by_file[FILES[2]][6] == PAPER_INFUSED
    # a quarantined record names the original file, sheet and row
    for locator, file_name in _query(cd22, "select locator, file_name from audit.quarantine where study_id = 'cd22'"):
        assert file_name.startswith("cd22/mapped/") and "row" in locator


def test_no_calendar_date_and_no_protocol_id_anywhere(cd22):
    protocol_ids = {r["Protocol ID"] for r in _id_key()}
    with duckdb.connect(str(cd22 / "serving.duckdb"), read_only=True) as con:
        columns = con.execute("""select table_schema, table_name, column_name, data_type
            from information_schema.columns where table_schema in ('marts', 'analysis', 'audit')""").fetchall()
        tables = {(s, t) for s, t, *_ in columns}
        for schema, table in tables:
            names = [c for s, t, c, _ in columns if (s, t) == (schema, table)]
            text = con.execute(f'select * from {schema}."{table}"').df().astype(str).to_string()
            assert not any(p in text for p in protocol_ids), f"{schema}.{table}"
            # clinical dates: none for a relative study (file and load times of audit are not clinical)
            for s, t, c, kind in columns:
                if (s, t) != (schema, table) or not kind.startswith(("DATE", "TIMESTAMP")) or "study_id" not in names:
                    continue
                if c in ("received_at", "loaded_at", "quarantined_at", "last_delivery_at"):
                    continue
                [(n,)] = con.execute(f'select count("{c}") from {schema}."{table}" where study_id = ?', ["cd22"]).fetchall()
                assert n == 0, f"{schema}.{table}.{c} holds a date the export did not have"
    for path in (cd22 / "warehouse.duckdb", cd22 / "serving.duckdb"):
        data = path.read_bytes()
        assert not any(p.encode() in data for p in protocol_ids), path
