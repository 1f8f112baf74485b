"""The `mapped` adapter (dagster_project/lib/adapters/mapped.py): a trial team's CSV / Excel
export -> contract rows by a YAML mapping; every error path on small files, then the CD22 trial's
real exports read in place (skipped when /work/shared/realdata is absent)."""

from __future__ import annotations

import collections
import csv
import textwrap
from pathlib import Path

import openpyxl
import pytest

from dagster_project.lib.adapters.mapped import MappingError, load_mapping, read_mapped
from dagster_project.lib.ingest.reader import DeliveryRejected

REPO = Path(__file__).resolve().parents[1]
CD22_MAPPING = REPO / "examples" / "studies" / "cd22" / "mapping.yml"
CD22_DATA = REPO.parent / "shared" / "realdata" / "car22_lichtenstein2021"


def write_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sel Data", merges: tuple[str, ...] = ()) -> Path:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    for cells in merges:
        ws.merge_cells(cells)
    workbook.save(path)
    return path


def mapping(tmp_path: Path, text: str):
    path = tmp_path / "mapping.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_mapping(path)


def mapping_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(MappingError) as info:
        mapping(tmp_path, text)
    return str(info.value)


LABS = """
    files:
      - match: "labs*.csv"
        ignore: [note]
        outputs:
          - source: serum_labs
            skip_when_blank: [crp]
            columns:
              subject_id: {column: patient}
              test: {value: CRP}
              value: {column: crp}
              unit: {value: mg/L}
              study_day: {column: day}
"""


def labs_csv(tmp_path: Path, name: str = "labs_2020.csv") -> Path:
    return write_csv(tmp_path / name, [
        ["patient", "day", "crp", "note"],
        ["P01", "0", "4.5", "ok"],
        ["P01", "7", "", "not drawn"],
        ["", "", "", ""],            # fully blank: not a record, keeps its number
        ["P02", "7", "NA", ""],      # NA is missing
        ["P02", "14", "12", ""],
    ])


# ---- the mapping file ---------------------------------------------------------------------------

def test_unknown_key_names_the_file_and_the_key_path(tmp_path):
    message = mapping_error(tmp_path, LABS.replace("skip_when_blank:", "skip_if_blank:"))
    assert message == "mapping.yml: files[0].outputs[0].skip_if_blank: unknown key"


def test_wrong_type_names_the_key_path(tmp_path):
    message = mapping_error(tmp_path, LABS.replace('ignore: [note]', 'ignore: [note]\n        header_rows: two'))
    assert message.startswith("mapping.yml: files[0].header_rows: ")
    message = mapping_error(tmp_path, LABS.replace("{value: mg/L}", "{value: mg/L, codes: [a, b]}"))
    assert "files[0].outputs[0].columns.unit.codes" in message


def test_a_column_rule_gives_exactly_one_kind(tmp_path):
    message = mapping_error(tmp_path, LABS.replace("{value: CRP}", "{value: CRP, column: crp}"))
    assert message == "mapping.yml: files[0].outputs[0].columns.test: give exactly one of column, template, value"


def test_unknown_source(tmp_path):
    message = mapping_error(tmp_path, LABS.replace("source: serum_labs", "source: serum_lab"))
    assert message.startswith("mapping.yml: files[0].outputs[0].source: unknown contract source 'serum_lab'")


def test_unknown_contract_column(tmp_path):
    message = mapping_error(tmp_path, LABS.replace("study_day:", "study_dya:"))
    assert message.startswith("mapping.yml: files[0].outputs[0].columns.study_dya: not a column of serum_labs")


def test_a_key_given_twice_is_an_error(tmp_path):
    message = mapping_error(tmp_path, LABS.replace("unit: {value: mg/L}", "unit: {value: mg/L}\n              unit: {value: mg/dL}"))
    assert message.startswith("mapping.yml: line ") and "'unit' given twice" in message


def test_the_shipped_cd22_mapping_validates():
    loaded = load_mapping(CD22_MAPPING)
    assert [f.match for f in loaded.files] == [
        "day_after_infusion_data_export*.csv", "id_key_crs_grades_export*.csv", "clinical_data_*.xlsx"]


# ---- mapping against the file -------------------------------------------------------------------

def test_a_named_column_missing_from_the_file(tmp_path):
    m = mapping(tmp_path, LABS.replace("{column: day}", "{column: days}"))
    with pytest.raises(MappingError) as info:
        read_mapped(labs_csv(tmp_path), "s1/mapped/labs_2020.csv", m)
    assert str(info.value) == ("mapping.yml: files[0].outputs[0].columns.study_day.column: column 'days' is not "
                               "in s1/mapped/labs_2020.csv; did you mean 'day'?")


def test_a_column_neither_used_nor_ignored(tmp_path):
    m = mapping(tmp_path, LABS.replace("ignore: [note]", "ignore: []"))
    with pytest.raises(MappingError, match=r"files\[0\]: 1 column\(s\) of labs_2020.csv neither mapped nor ignored .*: 'note'$"):
        read_mapped(labs_csv(tmp_path), "labs_2020.csv", m)


def test_a_used_column_cannot_also_be_ignored(tmp_path):
    m = mapping(tmp_path, LABS.replace("ignore: [note]", "ignore: [note, 'c*']"))
    with pytest.raises(MappingError, match=r"files\[0\].ignore: 'c\*' matches column 'crp', which files\[0\].outputs\[0\].skip_when_blank uses$"):
        read_mapped(labs_csv(tmp_path), "labs_2020.csv", m)


def test_no_files_entry_matches(tmp_path):
    m = mapping(tmp_path, LABS)
    with pytest.raises(MappingError, match=r"^mapping.yml: files: no entry matches site/other.csv \(match patterns: 'labs\*.csv'\)"):
        read_mapped(labs_csv(tmp_path, "other.csv"), "site/other.csv", m)


def test_a_missing_sheet_and_a_sheet_for_a_csv(tmp_path):
    m = mapping(tmp_path, LABS.replace('"labs*.csv"', '"labs*"').replace("ignore:", "sheet: Labs\n        ignore:"))
    with pytest.raises(MappingError, match=r"files\[0\].sheet: labs.csv is a CSV file"):
        read_mapped(labs_csv(tmp_path, "labs.csv"), "labs.csv", m)
    xlsx = write_xlsx(tmp_path / "labs.xlsx", [["patient", "day", "crp", "note"]], sheet="Other")
    with pytest.raises(MappingError, match=r"files\[0\].sheet: no sheet 'Labs' in labs.xlsx \(sheets: \['Other'\]\)"):
        read_mapped(xlsx, "labs.xlsx", m)


def test_unreadable_files_are_rejected_deliveries(tmp_path):
    m = mapping(tmp_path, LABS.replace('"labs*.csv"', '"labs*"'))
    (tmp_path / "labs_latin1.csv").write_bytes("patient,day,crp,note\nP\xe9,0,1,\n".encode("latin-1"))
    with pytest.raises(DeliveryRejected, match="not UTF-8 text"):
        read_mapped(tmp_path / "labs_latin1.csv", "labs_latin1.csv", m)
    (tmp_path / "labs_broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DeliveryRejected, match="not a readable workbook"):
        read_mapped(tmp_path / "labs_broken.xlsx", "labs_broken.xlsx", m)
    (tmp_path / "labs_empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(DeliveryRejected, match="no header"):
        read_mapped(tmp_path / "labs_empty.csv", "labs_empty.csv", m)


# ---- records --------------------------------------------------------------------------------------

def test_skip_when_blank_na_and_the_records_equation(tmp_path):
    result = read_mapped(labs_csv(tmp_path), "s1/mapped/labs_2020.csv", mapping(tmp_path, LABS))
    assert result.data_rows == 4 and result.records == 4
    assert result.counts == {"records": 4, "mapped": 2, "out_of_scope": 2, "quarantined": 0}
    assert result.balanced
    labs = result.rows["serum_labs"]
    assert list(labs.columns[-2:]) == ["_row_number", "_locator"]
    assert labs[["subject_id", "test", "value", "unit", "study_day", "_row_number"]].values.tolist() == [
        ["P01", "CRP", "4.5", "mg/L", "0", 1], ["P02", "CRP", "12", "mg/L", "14", 5]]
    assert labs["_locator"].iloc[1] == "s1/mapped/labs_2020.csv, data row 5 (line 6), output 1 (serum_labs)"
    assert result.out_of_scope[["row_number", "reason"]].values.tolist() == [
        [2, "no value in crp"], [4, "no value in crp"]]


def test_an_unmapped_code_is_a_quarantine_row_with_file_sheet_and_row(tmp_path):
    xlsx = write_xlsx(tmp_path / "clinical.xlsx", [
        ["Randomized ID", "Response"],
        [101.0, 0.0],                 # Excel numbers: 0.0 must match the code "0"
        [102.0, "-"],
        [103.0, 7.0],                 # not in the table
        [104.0, None],                # blank stays blank
        [105.0, " 2 "],               # compared after trimming
    ])
    m = mapping(tmp_path, """
        files:
          - match: "*.xlsx"
            outputs:
              - source: response_assessments
                columns:
                  subject_id: {column: Randomized ID}
                  response: {column: Response, codes: {0: CR, "2": PR, "-": NE}}
                  criteria: {value: ALL-MRD}
    """)
    result = read_mapped(xlsx, "s1/mapped/clinical.xlsx", m)
    assert result.counts == {"records": 5, "mapped": 4, "out_of_scope": 0, "quarantined": 1}
    rows = result.rows["response_assessments"]
    assert rows[["subject_id", "response"]].values.tolist() == [["101", "CR"], ["102", "NE"], ["104", None], ["105", "PR"]]
    (q,) = result.quarantine.to_dict("records")
    assert q == {"source": "response_assessments", "row_number": 3, "column_name": "Response", "rule": "unmapped_code",
                 "value": "7", "locator": "s1/mapped/clinical.xlsx, sheet 'Sel Data', data row 3 (sheet row 4), "
                                          "output 1 (response_assessments)"}


def test_excel_numbers_become_text_without_loss(tmp_path):
    xlsx = write_xlsx(tmp_path / "labs.xlsx", [["patient", "day", "crp", "note"],
                                              [277.0, 0.2381944444423425, 0.4, True]])
    result = read_mapped(xlsx, "labs.xlsx", mapping(tmp_path, LABS.replace('"labs*.csv"', '"labs*"')))
    assert result.rows["serum_labs"][["subject_id", "study_day", "value"]].values.tolist() == [
        ["277", "0.2381944444423425", "0.4"]]


def test_multi_row_header_with_merged_upper_cells_and_for_each(tmp_path):
    # Section / timepoint / field, as the CD22 sheet: merged upper cells keep their text in the
    # first column only; "Other" starts a new section whose blank second row is not "Day 7".
    xlsx = write_xlsx(tmp_path / "wide.xlsx", [
        ["ID", "Labs", None, None, None, "Other"],
        [None, "Day 0", None, "Day 7", None, None],
        ["Subject", " CRP (mg/L) ", "true  date", "CRP (mg/L)", "true date", "Comment"],
        [1.0, 4.0, 0.25, 30.0, 7.5, "x"],
        [2.0, None, None, 12.5, 6.9, None],
    ], merges=("B1:E1", "B2:C2", "D2:E2"))
    m = mapping(tmp_path, """
        files:
          - match: "wide.xlsx"
            header_rows: 3
            ignore: ["Other / *"]
            outputs:
              - source: serum_labs
                for_each: {tp: ["Day 0", "Day 7"]}
                skip_when_blank: ["Labs / {tp} / CRP (mg/L)"]
                columns:
                  subject_id: {template: "S-{ID / Subject}"}
                  test: {value: CRP}
                  value: {column: "Labs / {tp} / CRP (mg/L)"}
                  study_day: {column: "Labs / {tp} / true date"}
    """)
    result = read_mapped(xlsx, "wide.xlsx", m)
    assert result.counts == {"records": 4, "mapped": 3, "out_of_scope": 1, "quarantined": 0}
    labs = result.rows["serum_labs"]
    assert labs[["subject_id", "value", "study_day", "_row_number"]].values.tolist() == [
        ["S-1", "4", "0.25", 1], ["S-1", "30", "7.5", 1], ["S-2", "12.5", "6.9", 2]]
    assert labs["_locator"].iloc[2] == "wide.xlsx, sheet 'Sel Data', data row 2 (sheet row 5), output 1 (serum_labs), tp=Day 7"
    assert result.out_of_scope["reason"].tolist() == ["no value in Labs / Day 0 / CRP (mg/L)"]
    # The names the header yields, shown by the error for a column left out:
    m = mapping(tmp_path, (tmp_path / "mapping.yml").read_text().replace('ignore: ["Other / *"]', "ignore: []"))
    with pytest.raises(MappingError, match=r"neither mapped nor ignored .*: 'Other / Comment'$"):
        read_mapped(xlsx, "wide.xlsx", m)


def test_a_csv_header_of_two_rows_fills_blank_upper_cells_from_the_left(tmp_path):
    path = write_csv(tmp_path / "two.csv", [["", "Day 0", "", "Day 7", ""], ["id", "IL6", "IL10", "IL6", "IL10"],
                                            ["P1", "5", "", "7", "1"]])
    m = mapping(tmp_path, """
        files:
          - match: "two.csv"
            header_rows: 2
            outputs:
              - source: serum_cytokines
                for_each: {day: ["0", "7"], analyte: [IL6, IL10]}
                skip_when_blank: ["Day {day} / {analyte}"]
                columns:
                  sample_id: {template: "{id}-d{day}"}
                  subject_id: {column: id}
                  study_day: {value: "{day}"}
                  analyte: {value: "{analyte}"}
                  result: {column: "Day {day} / {analyte}"}
    """)
    result = read_mapped(path, "two.csv", m)
    assert result.counts == {"records": 4, "mapped": 3, "out_of_scope": 1, "quarantined": 0}
    assert result.rows["serum_cytokines"][["sample_id", "analyte", "result"]].values.tolist() == [
        ["P1-d0", "IL6", "5"], ["P1-d7", "IL6", "7"], ["P1-d7", "IL10", "1"]]


def test_a_dropped_identifying_column_appears_nowhere(tmp_path):
    secret = "MRN-778899"
    path = write_csv(tmp_path / "key.csv", [["Protocol ID", "Randomized ID", "HLH", "extra"],
                                            [secret, "2142", "0", "a"], [secret + "1", "3030", "9", "b"]])
    text = """
        files:
          - match: "key.csv"
            drop: ["Protocol ID"]
            ignore: [extra]
            outputs:
              - source: toxicity_summaries
                columns:
                  subject_id: {column: Randomized ID}
                  toxicity: {value: IEC-HS}
                  criteria: {value: ASTCT2019}
                  present: {column: HLH, codes: {"0": "false", "1": "true"}}
    """
    result = read_mapped(path, "key.csv", mapping(tmp_path, text))
    assert result.counts == {"records": 2, "mapped": 1, "out_of_scope": 0, "quarantined": 1}
    frames = [*result.rows.values(), result.out_of_scope, result.quarantine]
    assert not any(secret in str(v) or "Protocol ID" in str(v) for f in frames for v in [*f.columns, *f.to_numpy().ravel()])
    # ... nor in a message about the file ...
    with pytest.raises(MappingError) as info:
        read_mapped(path, "key.csv", mapping(tmp_path, text.replace("ignore: [extra]", "ignore: []")))
    assert secret not in str(info.value) and "Protocol ID" not in str(info.value)
    # ... and an output cannot use it.
    with pytest.raises(MappingError, match=r"columns.subject_id.column: column 'Protocol ID' is listed in drop"):
        read_mapped(path, "key.csv", mapping(tmp_path, text.replace("{column: Randomized ID}", "{column: Protocol ID}")))


# ---- the CD22 trial's real exports ----------------------------------------------------------------

@pytest.fixture(scope="module")
def cd22():
    if not CD22_DATA.is_dir():
        pytest.skip(f"CD22 real data not present at {CD22_DATA} (licensed test data, not in the repo)")
    m = load_mapping(CD22_MAPPING, "cd22/mapping.yml")
    return {name: read_mapped(CD22_DATA / name, f"cd22/mapped/{name}", m) for name in (
        "day_after_infusion_data_export.csv", "id_key_crs_grades_export.csv", "clinical_data_05-12-20_v1.xlsx")}


def test_cd22_cytokines(cd22):
    with (CD22_DATA / "day_after_infusion_data_export.csv").open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    measured = [r for r in lines if r["cytokine_levels"].strip()]
    result = cd22["day_after_infusion_data_export.csv"]
    assert result.counts == {"records": len(lines), "mapped": len(measured),
                             "out_of_scope": len(lines) - len(measured), "quarantined": 0}
    assert (len(lines), len(measured)) == (15686, 11037)
    rows = result.rows["serum_cytokines"]
    assert collections.Counter(rows["analyte"]) == collections.Counter(r["cytokines"] for r in measured)
    assert rows["result"].tolist() == [r["cytokine_levels"] for r in measured]
    assert set(rows["unit"]) == {"pg/mL"} and rows["sample_id"].iloc[0] == f"{measured[0]['patient_id']}-d{measured[0]['days']}"


def test_cd22_toxicity_summaries(cd22):
    with (CD22_DATA / "id_key_crs_grades_export.csv").open(encoding="utf-8-sig", newline="") as handle:
        key = list(csv.DictReader(handle))
    result = cd22["id_key_crs_grades_export.csv"]
    assert result.counts == {"records": 3 * len(key), "mapped": 3 * len(key), "out_of_scope": 0, "quarantined": 0}
    rows = result.rows["toxicity_summaries"]
    grades = rows[rows.toxicity == "CRS"].groupby("criteria")["max_grade"].value_counts().to_dict()
    # The README's (the paper's) distributions, and the file's own columns:
    assert {g: n for (c, g), n in grades.items() if c == "ASTCT2019"} == {"0": 7, "1": 21, "2": 19, "3": 10, "4": 2}
    assert {g: n for (c, g), n in grades.items() if c == "Lee2014"} == {"0": 7, "1": 26, "2": 21, "3": 3, "4": 2}
    present = rows.groupby(["toxicity", "criteria"])["present"].apply(lambda s: (s == "true").sum()).to_dict()
    assert present == {("CRS", "ASTCT2019"): sum(r["Max Grade CRS_ASBMT"] != "0" for r in key),
                       ("CRS", "Lee2014"): sum(r["Max Grade CRS_Lee"] != "0" for r in key),
                       ("IEC-HS", "ASTCT2019"): sum(r["HLH"] == "1" for r in key)} == {
        ("CRS", "ASTCT2019"): 52, ("CRS", "Lee2014"): 52, ("IEC-HS", "ASTCT2019"): 21}
    assert rows.loc[rows.toxicity == "IEC-HS", "max_grade"].isna().all()
    protocol_ids = {r["Protocol ID"] for r in key}
    assert not protocol_ids & {str(v) for f in (rows, result.out_of_scope, result.quarantine) for v in f.to_numpy().ravel()}


def test_cd22_clinical_sheet(cd22):
    from python_calamine import CalamineWorkbook

    grid = CalamineWorkbook.from_path(str(CD22_DATA / "clinical_data_05-12-20_v1.xlsx")).get_sheet_by_index(0).to_python()
    fields, body = [str(c).strip() for c in grid[2]], grid[3:]

    def cells(label: str) -> list:
        (c,) = [i for i, f in enumerate(fields) if f.startswith(label)]
        return [row[c] for row in body]

    result = cd22["clinical_data_05-12-20_v1.xlsx"]
    assert result.data_rows == len(body) == 59 and result.balanced
    assert result.quarantine.empty
    subjects = result.rows["subjects"]
    assert subjects["subject_id"].tolist() == [str(int(v)) for v in cells("Randomized ID")]
    assert set(subjects["infused"]) == {"true"} and set(subjects["disease"]) == {"B-ALL"}

    codes = collections.Counter(str(int(v)) if isinstance(v, float) else v for v in cells("Response ("))
    assert codes == {"0": 37, "1": 5, "2": 1, "3": 10, "4": 5, "-": 1}
    responses = result.rows["response_assessments"]
    assert responses["response"].value_counts().to_dict() == {"CR": 42, "SD": 10, "PD": 5, "PR": 1, "NE": 1}
    assert responses["mrd"].value_counts(dropna=False).to_dict() == {"negative": 37, None: 17, "positive": 5}
    assert set(responses["study_day"]) == {"28"} and set(responses["criteria"]) == {"ALL-MRD"}

    labs = result.rows["serum_labs"]
    for test, label in (("CRP", "CRP (mg/L)"), ("FERRITIN", "Ferritin (ug/L)"), ("LDH", "LDH (U/L)")):
        columns = [c for c, f in enumerate(fields) if f == label]
        assert len(columns) == 5  # the five timepoints
        assert (labs.test == test).sum() == sum(row[c] != "" for row in body for c in columns)
    assert labs["study_day"].notna().all()

    attributes = result.rows["subject_attributes"]
    labels = ("Dose Level", "Prior HCT", "Prior Blina", "Prior Ino", "Prior CAR", "TCS", "Toci", "Steroids", "Anakinra")
    given = sum(v not in ("", "N/A") for label in labels for v in cells(label))
    assert len(attributes) == given == 9 * 59 - 2
    assert attributes.groupby("attribute").size().to_dict()["dose_level"] == 59
    # Out of scope: the lab draws without a value, and the two N/A cells (toci, steroids).
    assert result.counts["out_of_scope"] == (5 * 3 * 59 - len(labs)) + (9 * 59 - len(attributes))
