"""The `bioplex` adapter (dagster_project/lib/adapters/bioplex.py): Bio-Plex Manager exports ->
serum / CSF cytokine rows through the study's sample manifest. Each rule on small workbooks the
test writes, then the real 27-plex export read in place (skipped when /work/shared/realdata is
absent), with its expectations computed here from the file independently of the adapter."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from dagster_project.lib.adapters.bioplex import BIOPLEX_SPELLINGS, BioplexFile, read_bioplex
from dagster_project.lib.adapters.mapped import MappedFile
from dagster_project.lib.ingest.reader import DeliveryRejected
from dagster_project.lib.ingest.validation import validate
from schemas.contract import SOURCES
from schemas.study import BioplexAdapter, read_study_file

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "studies" / "bioplex_demo"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "bioplex_labkey"
REAL_FILE = REAL / "10JAN07_plate_1.xls"

HEADER = ["Analyte", "Type", "Well", "Outlier", "Description", "FI", "FI - Bkgd", "Std Dev", "%CV", "Obs Conc",
          "Exp Conc", "(Obs/Exp) * 100", "Conc in Range", "Group", "Ratio", "Dilution", "Sampling Errors"]
LEGEND = ["***Value not available / --- = Designated as an outlier", "*Value extrapolated beyond standard range",
          "Regression Type: Logistic - 5PL"]


def well(kind: str, wells: str, label: str | None = None, obs=None, exp=None, dilution=1, fi=100.0, outlier=0,
         analyte: str = "Hu IL-6 (19)") -> list:
    row = [None] * len(HEADER)
    for name, value in (("Analyte", analyte), ("Type", kind), ("Well", wells), ("Outlier", outlier),
                        ("Description", label), ("FI", fi), ("Obs Conc", obs), ("Exp Conc", exp),
                        ("Dilution", dilution)):
        row[HEADER.index(name)] = value
    return row


STANDARDS = [well("S1", "A1,A2", exp=10000.0, fi=9000.0), well("S2", "B1,B2", exp=1000.0, fi=900.0),
             well("S3", "C1,C2", exp=100.0, fi=90.0), well("S4", "D1,D2", exp=2.5, fi=5.0)]


def analyte_sheet(label: str, wells: list[list], plate_id: str = "",
                  instrument: str = r"Z:\Luminex data\Dr Jane Doe\P7 plate.rbx") -> list[list]:
    return [[f"File Name: {instrument}"], [f"Analyte: {label}"], ["Acquisition Date: 11-Jan-2007, 01:20 PM"],
            ["Reader Serial Number: LX10001088010"], [f"Plate ID: {plate_id}"], ["RP1 PMT (Volts): 670.33"], [],
            HEADER, *wells, [], *([text] for text in LEGEND)]


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        ws = workbook.create_sheet(name)
        for row in rows:
            ws.append(row)
    workbook.save(path)
    return path


def manifest(*rows: tuple) -> pd.DataFrame:
    """(label, subject, specimen, study_day[, collected_at])."""
    return pd.DataFrame([(r[0], r[1], r[2], r[4] if len(r) > 4 else None, r[3]) for r in rows],
                        columns=["sample_label", "subject_id", "specimen", "collected_at", "study_day"])


def serum_manifest(*labels: str) -> pd.DataFrame:
    return manifest(*((label, "S01", "serum", 7) for label in labels))


def read(tmp_path: Path, sheets: dict[str, list[list]], man: pd.DataFrame, config: BioplexAdapter | None = None,
         **kwargs) -> BioplexFile:
    path = write_workbook(tmp_path / "plate.xlsx", sheets)
    result = read_bioplex(path, "demo/bioplex/plate.xlsx", config or BioplexAdapter(), man, **kwargs)
    assert result.balanced, result.counts
    return result


def reasons(result: BioplexFile) -> dict[int, str]:
    return dict(zip(result.out_of_scope["row_number"], result.out_of_scope["reason"]))


def quarantined(result: BioplexFile) -> dict[int, tuple[str, str]]:
    q = result.quarantine
    return {n: (rule, value) for n, rule, value in zip(q["row_number"], q["rule"], q["value"])}


# ---- results, censoring, no-result wells ---------------------------------------------------------

def test_each_result_form_and_the_wells_that_are_not_results(tmp_path):
    wells = [well("B", "H3,H4", fi=8.5), *STANDARDS, well("C1", "E1,E2", obs=55.0),
             well("X1", "A3,A4", "L-01", obs=73.01, dilution=4),     # sheet row 15
             well("X2", "B3,B4", "L-02", obs="*3.42", dilution=4),
             well("X3", "C3,C4", "L-03", obs="OOR <", dilution=4),
             well("X4", "D3,D4", "L-04", obs="OOR >", dilution=2),
             well("X5", "E3,E4", "L-05", obs="***", dilution=4),
             well("X6", "F3,F4", "L-06", obs="---", dilution=4),
             well("X7", "G3,G4", "L-07", obs=None, dilution=4)]     # sheet row 21
    result = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)},
                  serum_manifest(*(f"L-0{i}" for i in range(1, 8))))
    assert isinstance(result, MappedFile)
    rows = result.rows["serum_cytokines"]
    assert list(rows.columns) == [*SOURCES["serum_cytokines"].columns, "_row_number", "_locator"]
    by_label = rows.set_index("sample_id")
    assert by_label["result"].to_dict() == {"L-01": "73.01", "L-02": "*3.42", "L-03": "<10", "L-04": ">20000"}
    # The range is the standards' (2.5 .. 10000) times the row's dilution, on every result row.
    assert by_label.loc["L-03", ["lloq", "uloq"]].tolist() == ["10", "40000"]
    assert by_label.loc["L-04", ["lloq", "uloq"]].tolist() == ["5", "20000"]
    assert set(rows["analyte"]) == {"IL6"} and set(rows["unit"]) == {"pg/mL"} and set(rows["assay"]) == {"Bio-Plex"}
    assert set(rows["plate_id"]) == {"P7 plate"}  # no Plate ID: the instrument file's name
    assert set(rows["subject_id"]) == {"S01"} and set(rows["study_day"]) == {"7"}
    assert rows["collected_at"].isna().all()
    assert by_label.loc["L-01", "_locator"] == "demo/bioplex/plate.xlsx, sheet 'Hu IL-6 (19)', row 15 (well A3,A4)"
    assert by_label.loc["L-01", "_row_number"] == 15

    why = reasons(result)
    assert why[9] == "blank well (B): not a result"
    assert [why[n] for n in (10, 11, 12, 13)] == [f"standard well (S{i}): not a result" for i in (1, 2, 3, 4)]
    assert why[14] == "control well (C1): not a result"
    assert why[19] == "no result: *** (value not available)"
    assert why[20] == "no result: --- (designated an outlier)"
    assert why[21] == "no result: Obs Conc empty"
    assert why[1].startswith("plate metadata")   # rows 1-6: one record
    assert why[23].startswith("legend")           # rows 23-25: one record
    assert result.counts == {"records": 1 + 1 + 4 + 1 + 7 + 1, "mapped": 4, "out_of_scope": 11, "quarantined": 0}
    assert result.data_rows == 13
    # Every result row passes the contract (relative time: study_day, no collected_at).
    source = SOURCES["serum_cytokines"]
    frame = rows[source.columns].astype("string").assign(_extra=None, _row_number=np.arange(1, len(rows) + 1))
    assert validate(frame, source, source.schema_for("relative")).quarantine.empty


def test_the_range_leaves_out_standards_designated_outliers(tmp_path):
    standards = [well("S1", "A1,A2", exp=10000.0, fi="---", outlier=1), well("S2", "B1,B2", exp=1000.0, fi=900.0),
                 well("S3", "C1,C2", exp=100.0, fi=90.0), well("S4", "D1,D2", exp=2.5, fi="---", obs="---")]
    wells = [*standards, well("X1", "A3,A4", "L-01", obs="OOR >", dilution=4),
             well("X2", "B3,B4", "L-02", obs="OOR <", dilution=4)]
    rows = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)},
                serum_manifest("L-01", "L-02")).rows["serum_cytokines"].set_index("sample_id")
    assert rows["result"].to_dict() == {"L-01": ">4000", "L-02": "<400"}


def test_oor_without_a_usable_standard_keeps_the_bare_form_for_the_contract_to_quarantine(tmp_path):
    wells = [well("X1", "A3,A4", "L-01", obs="OOR <"), well("X2", "B3,B4", "L-02", obs="OOR >"),
             well("X3", "C3,C4", "L-03", obs="n/a")]
    rows = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)},
                serum_manifest("L-01", "L-02", "L-03")).rows["serum_cytokines"]
    assert rows["result"].tolist() == ["OOR <", "OOR >", "n/a"] and rows["lloq"].isna().all()
    source = SOURCES["serum_cytokines"]
    frame = rows[source.columns].astype("string").assign(_extra=None, _row_number=[1, 2, 3])
    rules = validate(frame, source, source.schema_for("relative")).quarantine
    assert dict(zip(rules["row_number"], rules["rule"])) == {
        1: "oor_below_needs_lloq", 2: "oor_above_needs_uloq", 3: "assay_result"}


# ---- replicate wells -----------------------------------------------------------------------------

def test_an_averaged_row_is_the_result_and_its_wells_are_replicates(tmp_path):
    wells = [*STANDARDS,
             well("X1", "A3", "L-01", obs=70.0, dilution=4),       # row 13
             well("X1", "A4", "L-01", obs=76.0, dilution=4),       # row 14
             well("X1", "A3,A4", "L-01", obs=73.01, dilution=4)]   # row 15
    result = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)}, serum_manifest("L-01"))
    rows = result.rows["serum_cytokines"]
    assert rows[["sample_id", "result", "_row_number"]].values.tolist() == [["L-01", "73.01", 15]]
    why = reasons(result)
    assert why[13] == why[14] == "replicate well of L-01: the averaged row (row 15) is the result"


def test_per_well_rows_are_combined_into_one_result(tmp_path):
    wells = [*STANDARDS,
             well("X1", "A3", "L-01", obs=10.0), well("X1", "A4", "L-01", obs=12.5),               # mean
             well("X2", "B3", "L-02", obs="*3"), well("X2", "B4", "L-02", obs=5.0),                # extrapolated
             well("X3", "C3", "L-03", obs="OOR <", dilution=4), well("X3", "C4", "L-03", obs="OOR <", dilution=4),
             well("X4", "D3", "L-04", obs=10.0), well("X4", "D4", "L-04", obs="OOR <"),            # disagree
             well("X5", "E3", "L-05", obs="***"), well("X5", "E4", "L-05", obs="---"),             # no result
             well("X6", "F3", "L-06", obs=10.0), well("X6", "F4", "L-06", obs="***"),              # one usable well
             well("X7", "G3", "L-07", obs=10.0, dilution=2), well("X7", "G4", "L-07", obs=11.0, dilution=4)]
    result = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)},
                  serum_manifest(*(f"L-0{i}" for i in range(1, 8))))
    rows = result.rows["serum_cytokines"].set_index("sample_id")
    assert rows["result"].to_dict() == {"L-01": "11.25", "L-02": "*4", "L-03": "<10", "L-06": "10"}
    assert rows.loc["L-01", "_locator"] == "demo/bioplex/plate.xlsx, sheet 'Hu IL-6 (19)', row 13 (wells A3 + A4)"
    assert quarantined(result) == {19: ("replicate_wells_disagree", "10; OOR <"),
                                   25: ("replicate_dilutions_differ", "2; 4")}
    why = reasons(result)
    assert why[21] == "no result in any replicate well (***, ---)"
    assert why[14] == "replicate well of L-01: combined into row 13"
    # One record per specimen x analyte carries the result; every other well is a replicate.
    assert result.counts == {"records": 1 + 1 + 4 + 14, "mapped": 4, "out_of_scope": 2 + 4 + 7 + 1, "quarantined": 2}


# ---- the manifest --------------------------------------------------------------------------------

def test_a_label_missing_from_the_manifest_is_quarantined_never_dropped(tmp_path):
    wells = [*STANDARDS, well("X1", "A3,A4", "L-01", obs=5.0), well("X2", "B3,B4", "l-02 ", obs=6.0),
             well("X3", "C3,C4", "L-99", obs=7.0), well("X4", "D3,D4", "L-98", obs="***"),
             well("X5", "E3,E4", None, obs=8.0)]
    result = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)},
                  serum_manifest("L-01", "L-02"), BioplexAdapter(specimen="csf"))
    rows = result.rows["serum_cytokines"]
    assert rows["sample_id"].tolist() == ["L-01", "L-02"]  # trimmed, case-insensitive; the manifest's label
    assert quarantined(result) == {15: ("sample_not_in_manifest", "L-99"), 17: ("sample_label_missing", "X5")}
    assert set(result.quarantine["source"]) == {"csf_cytokines"}  # the plate's compartment (study.yml)
    assert reasons(result)[16] == "no result: *** (value not available)"  # no result: not looked up
    empty = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)}, None)
    assert empty.rows == {} and empty.counts["quarantined"] == 4


def test_the_manifest_specimen_routes_the_result(tmp_path):
    wells = [*STANDARDS, well("X1", "A3,A4", "SER-1", obs=5.0), well("X2", "B3,B4", "CSF-1", obs=6.0),
             well("X3", "C3,C4", "PLA-1", obs=7.0), well("X4", "D3,D4", "URI-1", obs=8.0),
             well("X5", "E3,E4", "TWO-1", obs=9.0)]
    sheets = {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)}
    at = "2021-01-15T07:00"  # a calendar study's manifest: collected_at, no study day
    man = manifest(("SER-1", "S01", "serum", None, at), ("CSF-1", "S01", "csf", None, "2021-01-14T11:00"),
                   ("PLA-1", "S02", "plasma", None, at), ("URI-1", "S02", "urine", None, at),
                   ("TWO-1", "S02", "serum", None, at), ("TWO-1", "S03", "serum", None, at))
    result = read(tmp_path, sheets, man)
    serum = result.rows["serum_cytokines"]
    assert serum[["sample_id", "collected_at"]].values.tolist() == [["SER-1", at]] and serum["study_day"].isna().all()
    assert result.rows["csf_cytokines"][["sample_id", "subject_id"]].values.tolist() == [["CSF-1", "S01"]]
    assert reasons(result)[15].startswith("plasma specimen: the study does not map plasma")
    assert quarantined(result) == {16: ("unknown_specimen", "urine"), 17: ("sample_ambiguous_in_manifest", "TWO-1")}
    plasma = read(tmp_path, sheets, man, BioplexAdapter(plasma_as_serum=True))
    assert plasma.rows["serum_cytokines"]["sample_id"].tolist() == ["SER-1", "PLA-1"]


# ---- sheets, analytes, metadata ------------------------------------------------------------------

def test_a_sheet_that_is_not_an_analyte_sheet_is_set_aside_whole(tmp_path):
    template = [["Row #", "Field", "SCHARP Field Name", "VALUE"], [2, "Network", "NETWORK", "CHAVI"],
                [28, "Participant ID", "PTID", "123456789"]]
    sheets = {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", [*STANDARDS, well("X1", "A3,A4", "L-01", obs=5.0)]),
              "Project Template": template, "Empty": []}
    result = read(tmp_path, sheets, serum_manifest("L-01"))
    out = result.out_of_scope
    row = out[out["locator"].str.contains("Project Template")]
    assert row["locator"].tolist() == ["demo/bioplex/plate.xlsx, sheet 'Project Template' (not an analyte sheet)"]
    assert row["reason"].str.startswith("not an analyte sheet").all()
    assert result.metadata["sheets_set_aside"] == ["Project Template"]  # an empty sheet is nothing
    assert "123456789" not in out.to_string() + result.quarantine.to_string()
    assert result.counts["records"] == 1 + 1 + 4 + 1 + 1
    with pytest.raises(DeliveryRejected, match="no analyte sheet"):
        read(tmp_path, {"Project Template": template}, serum_manifest("L-01"))


@pytest.mark.parametrize(("label", "code"), [
    ("Hu IL-6 (19)", "IL6"), ("Hu IL-17 (76)", "IL17A"), ("Hu IL-17", "IL17A"), ("Hu IL-12(p70) (75)", "IL12P70"),
    ("Hu MCP-1(MCAF) (53)", "MCP1"), ("Hu IFN-g (21)", "IFNG"), ("Hu FGF basic (44)", "FGFB"),
    ("Hu PDGF bb (47)", "PDGFBB"), ("Hu TNF-a (36)", "TNFA"), ("Hu IL-1ra (25)", "IL1RA"),
    ("Hu IL-99 (12)", "IL-99"),  # unmapped: written as the lab spells it, for the validation to quarantine
])
def test_the_analyte_is_read_from_the_sheet_label(tmp_path, label, code):
    result = read(tmp_path, {"Sheet1": analyte_sheet(label, [*STANDARDS, well("X1", "A3,A4", "L-01", obs=5.0)])},
                  serum_manifest("L-01"))
    assert result.rows["serum_cytokines"]["analyte"].tolist() == [code]
    assert result.metadata["analytes"] == {"Sheet1": code}


def test_study_spellings_win_and_the_table_column_stands_in_for_a_missing_label(tmp_path):
    sheet = analyte_sheet("Hu IL-99 (12)", [*STANDARDS, well("X1", "A3,A4", "L-01", obs=5.0)])
    rows = read(tmp_path, {"S": sheet}, serum_manifest("L-01"), analyte_synonyms={"IL99": "IL18"}).rows
    assert rows["serum_cytokines"]["analyte"].tolist() == ["IL18"]
    assert BIOPLEX_SPELLINGS["IL17"] == "IL17A"
    no_label = [r for r in analyte_sheet("x", []) if not (r and str(r[0]).startswith("Analyte:"))]
    no_label[7:7] = [well("X1", "A3,A4", "L-01", obs=5.0, analyte="Hu IL-17 (76)"),
                     well("X2", "B3,B4", "L-02", obs=5.0, analyte=None)]
    result = read(tmp_path, {"S": no_label}, serum_manifest("L-01", "L-02"))
    assert result.rows["serum_cytokines"]["analyte"].tolist() == ["IL17A"]
    assert [r for r, _ in quarantined(result).values()] == ["analyte_label_missing"]


def test_unknown_well_types_are_quarantined(tmp_path):
    wells = [*STANDARDS, well("E1", "A3,A4", "L-01", obs=5.0), well("X1", "B3,B4", "L-01", obs=5.0)]
    result = read(tmp_path, {"Hu IL-6 (19)": analyte_sheet("Hu IL-6 (19)", wells)}, serum_manifest("L-01"))
    assert quarantined(result) == {13: ("unknown_well_type", "E1")}
    assert len(result.rows["serum_cytokines"]) == 1


def test_plate_metadata_is_file_metadata_never_a_sample_date(tmp_path):
    sheets = {name: analyte_sheet(name, [*STANDARDS, well("X1", "A3,A4", "L-01", obs=5.0, analyte=name)],
                                  plate_id="PLATE-07")
              for name in ("Hu IL-6 (19)", "Hu IL-8 (54)")}
    result = read(tmp_path, sheets, serum_manifest("L-01"))
    assert result.metadata == {
        "file_name": "demo/bioplex/plate.xlsx", "instrument_file": "P7 plate.rbx",  # folders (a name) dropped
        "plate_id": "PLATE-07", "acquired_at": "2007-01-11T13:20:00", "acquisition_date": "11-Jan-2007, 01:20 PM",
        "reader_serial": "LX10001088010", "analytes": {"Hu IL-6 (19)": "IL6", "Hu IL-8 (54)": "IL8"},
        "sheets_set_aside": []}
    rows = result.rows["serum_cytokines"]
    assert set(rows["plate_id"]) == {"PLATE-07"}
    assert "2007" not in rows.drop(columns="_locator").to_string()
    assert "Jane Doe" not in repr(result.metadata) + result.out_of_scope.to_string()


def test_a_file_that_is_not_a_workbook_is_rejected(tmp_path):
    (tmp_path / "plate.xls").write_bytes(b"not a workbook")
    with pytest.raises(DeliveryRejected, match="not a readable workbook"):
        read_bioplex(tmp_path / "plate.xls", "demo/bioplex/plate.xls", BioplexAdapter(), None)
    (tmp_path / "plate.csv").write_text("Type,Well\n")
    with pytest.raises(DeliveryRejected, match="unsupported file type"):
        read_bioplex(tmp_path / "plate.csv", "demo/bioplex/plate.csv", BioplexAdapter(), None)


# ---- the demo study ------------------------------------------------------------------------------

def _demo_frame(name: str, source: str) -> pd.DataFrame:
    frame = pd.read_csv(DEMO / name, dtype=str, keep_default_na=False).replace("", None)
    columns = SOURCES[source].columns
    return frame.reindex(columns=columns).astype("string").assign(_extra=None, _row_number=np.arange(1, len(frame) + 1))


def test_the_demo_study_files_validate():
    config = read_study_file(DEMO / "study.yml", "bioplex_demo/study.yml")
    assert config.time_mode == "relative" and config.adapters.bioplex == BioplexAdapter(plasma_as_serum=True)
    for name, source in (("subjects/subjects.csv", "subjects"), ("samples/manifest.csv", "samples")):
        frame = _demo_frame(name, source)
        checked = validate(frame, SOURCES[source], SOURCES[source].schema_for("relative"))
        assert checked.quarantine.empty and len(checked.accepted) == len(frame), name
    subjects = set(_demo_frame("subjects/subjects.csv", "subjects")["subject_id"])
    assert set(_demo_frame("samples/manifest.csv", "samples")["subject_id"]) == subjects


# ---- the real export -----------------------------------------------------------------------------

def _independent_reading(path: Path) -> dict:
    """What the real file holds, read here without the adapter: per analyte sheet its unknown wells'
    Obs Conc, its standards and its other rows."""
    from python_calamine import CalamineWorkbook

    sheets = {}
    with CalamineWorkbook.from_path(str(path)) as workbook:
        for name in workbook.sheet_names:
            grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            header = next((i for i, row in enumerate(grid) if "Obs Conc" in row and "Type" in row), None)
            if header is None:
                sheets[name] = None
                continue
            col = {c: grid[header].index(c) for c in ("Type", "Description", "FI", "Obs Conc", "Exp Conc", "Dilution")}
            wells = [row for row in grid[header + 1:] if row[col["Type"]] not in ("", None)]
            sheets[name] = {"col": col, "wells": wells, "analyte": grid[1][0]}
    return sheets


def _kind(value) -> str:
    if isinstance(value, float):
        return "number"
    if value == "***":
        return "***"
    if value == "OOR <":
        return "OOR <"
    if re.fullmatch(r"\*\d+(\.\d+)?", value):
        return "*x"
    return value


@pytest.fixture(scope="module")
def real_file():
    if not REAL_FILE.is_file():
        print(f"skipped: the real Bio-Plex export is absent ({REAL_FILE})")
        pytest.skip(f"real Bio-Plex export absent: {REAL_FILE}")
    return REAL_FILE


def test_the_real_export(real_file):
    sheets = _independent_reading(real_file)
    analyte_sheets = {n: s for n, s in sheets.items() if s is not None}
    assert len(analyte_sheets) == 27 and [n for n, s in sheets.items() if s is None] == ["Project Template"]
    kinds, labels, expected = collections.Counter(), set(), {}
    n_standards = n_blanks = 0
    for name, sheet in analyte_sheets.items():
        col = sheet["col"]
        standards = [r for r in sheet["wells"] if r[col["Type"]].startswith("S")]
        usable = [r[col["Exp Conc"]] for r in standards if r[col["FI"]] != "---"]
        n_standards += len(standards)
        n_blanks += sum(r[col["Type"]] == "B" for r in sheet["wells"])
        for r in sheet["wells"]:
            if not r[col["Type"]].startswith("X"):
                continue
            obs, label = r[col["Obs Conc"]], r[col["Description"]]
            kinds[_kind(obs)] += 1
            labels.add(label)
            if _kind(obs) == "OOR <":
                expected[(name, label)] = f"<{min(usable) * r[col['Dilution']]:.12g}"
            elif _kind(obs) == "number":
                expected[(name, label)] = f"{obs:.12g}"
            elif _kind(obs) == "*x":
                expected[(name, label)] = obs
    assert len(labels) == 39
    assert dict(kinds) == {"number": 441, "*x": 227, "OOR <": 115, "***": 270}  # 1,053 = 27 x 39
    assert (n_standards, n_blanks) == (27 * 8, 27)

    config = read_study_file(DEMO / "study.yml", "bioplex_demo/study.yml").adapters.bioplex
    man = pd.read_csv(DEMO / "samples" / "manifest.csv", dtype=str)
    assert set(man["sample_label"]) == labels  # the demo manifest covers the plate
    result = read_bioplex(real_file, "bioplex_demo/bioplex/10JAN07_plate_1.xls", config, man)
    assert result.balanced and result.quarantine.empty
    rows = result.rows["serum_cytokines"]
    assert list(result.rows) == ["serum_cytokines"] and len(rows) == 783
    sheet_of = rows["_locator"].str.extract(r"sheet '([^']+)'")[0]
    got = dict(zip(zip(sheet_of, rows["sample_id"]), rows["result"]))
    assert {k: (v[0] + f"{float(v[1:]):.12g}" if v.startswith("<") else v) for k, v in got.items()} == expected
    assert rows["result"].str.startswith("*").sum() == 227 and rows["result"].str.startswith("<").sum() == 115
    assert rows.groupby("analyte").size().to_dict() == {a: 29 for a in rows["analyte"].unique()}
    assert rows["analyte"].nunique() == 27 and {"IL17A", "MCP1", "IL12P70"} <= set(rows["analyte"])
    why = result.out_of_scope["reason"]
    assert why.str.startswith("no result: ***").sum() == 270
    assert why.str.startswith("standard well").sum() == 27 * 8 and why.str.startswith("blank well").sum() == 27
    assert why.str.startswith("plate metadata").sum() == 27 and why.str.startswith("legend").sum() == 27
    assert why.str.startswith("not an analyte sheet").sum() == 1
    assert result.counts == {"records": 27 * (1 + 48 + 1) + 1, "mapped": 783, "out_of_scope": 568, "quarantined": 0}
    assert result.data_rows == 27 * 48
    assert result.metadata["acquired_at"] == "2007-01-11T13:20:00"
    assert result.metadata["reader_serial"] == "LX10001088010"
    assert result.metadata["instrument_file"] == "10JAN07 plate 1.rbx"
    assert set(rows["plate_id"]) == {"10JAN07 plate 1"} and rows["collected_at"].isna().all()
    # The rows pass the contract of a relative-time study.
    source = SOURCES["serum_cytokines"]
    frame = rows[source.columns].astype("string").assign(_extra=None, _row_number=np.arange(1, len(rows) + 1))
    assert validate(frame, source, source.schema_for("relative")).quarantine.empty

    # A specimen the manifest lacks: its 27 results are quarantined, none dropped.
    missing = read_bioplex(real_file, "bioplex_demo/bioplex/10JAN07_plate_1.xls", config,
                           man[man["sample_label"] != "11027-01"])
    assert missing.balanced and len(missing.rows["serum_cytokines"]) == 783 - 27
    assert missing.quarantine["rule"].tolist() == ["sample_not_in_manifest"] * 27
