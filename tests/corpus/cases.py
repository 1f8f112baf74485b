"""The malformed-delivery corpus: one small delivery per case, with the outcome it must get.

Each `Case` is a file dropped into `<landing>/<source>/` next to a good delivery of the same
source (the "companion", which must still load whole) and run through the real ingest
(`dagster_project.lib.ingest.load.load_source`) by `tests/test_ingest_corpus.py`.

Expectations:
- `status`: `loaded`, `rejected`, `duplicate`, or `ignored` (the file is not a delivery at all);
- `quarantined`: {row_number: Q(rule prefix, column, value)} -- every quarantine row of the file
  must match one expectation of its row, and every expectation must be met; a list of Q when a
  row breaks several rules. `column=None` means a row-level rule (no column); `value=ANY` skips
  the value;
- `accepted`: how many rows land in raw.<source>;
- `message`: a substring of the delivery-log message (for `rejected`: the cause);
- `check`: extra assertions `check(con, file_name)` on the warehouse after the load.

Row numbers: 1 is the first data row after the header; blank lines are not rows.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq

ANY = object()


@dataclass(frozen=True)
class Q:
    rule: str  # prefix of raw.quarantine.rule, e.g. "isin(" or "coerce_dtype('float64')"
    column: str | None = None  # None: a row-level rule (malformed_row, duplicates, frame checks)
    value: object = ANY  # raw.quarantine.value, exactly; ANY: not checked


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    file_name: str  # inside <landing>/<source>/
    content: bytes | Callable[[], bytes]  # a callable builds binary deliveries (parquet)
    status: str  # loaded | rejected | duplicate | ignored
    accepted: int
    quarantined: dict[int, Q | list[Q]] = field(default_factory=dict)
    message: str | None = None  # substring of raw.deliveries.message
    # Deliveries put in the same folder before the case file (name, bytes), e.g. the original of
    # a byte-identical duplicate. They are loaded in the same run and only checked for accounting.
    before: tuple[tuple[str, bytes], ...] = ()
    # Writes the case file instead of a plain write (symlinks); gets (path, bytes, scratch dir).
    place: Callable[[Path, bytes, Path], None] | None = None
    check: Callable[..., None] | None = None
    note: str = ""  # why the expectation is what it is, when the contract leaves it open

    def data(self) -> bytes:
        return self.content() if callable(self.content) else self.content


# ----------------------------------------------------------------------------- the contract's headers
HEADERS = {
    "subjects": "subject_id,site_id,enrolled_on,age_years,sex,weight_kg,disease,car_t_product,infused_on,not_infused_reason",
    "vitals": "subject_id,recorded_at,temperature_c,systolic_bp_mmhg,vasopressors,o2_device,o2_flow_l_min,spo2_pct",
    "neuro_assessments": "subject_id,assessed_at,ice_score,consciousness,seizure,motor_weakness,cerebral_edema",
    "toxicity_assessments": "subject_id,assessed_on,crs_grade,icans_grade,criteria",
    "medications": "subject_id,drug,administered_at,dose,dose_unit,route,indication",
    "response_assessments": "subject_id,assessed_on,response,criteria",
    "outcomes": "subject_id,progressed_on,died_on,death_cause,last_known_alive_on",
    "serum_cytokines": "sample_id,subject_id,collected_at,analyte,result,unit,lloq,uloq,plate_id,assay",
    "serum_labs": "subject_id,collected_at,test,value,unit",
    "csf_samples": "sample_id,subject_id,collected_at,wbc_per_ul,rbc_per_ul,protein_mg_dl,glucose_mg_dl",
    "csf_cytokines": "sample_id,subject_id,collected_at,analyte,result,unit,lloq,uloq,plate_id,assay",
}

# The subjects every run knows (loaded first); enrolled 2021-01-04..06, infused 2021-01-12/14.
SUBJECT_ROWS = (
    "S01,site01,2021-01-04,54,F,70.5,LBCL,axi-cel,2021-01-12,",
    "S02,site01,2021-01-05,67,M,82,MCL,brexu-cel,2021-01-14,",
    "S03,site02,2021-01-06,45,U,,FL,,,manufacturing failure",
)

# A good delivery per source: the companion that shares the landing folder with every case.
GOOD_ROWS = {
    "subjects": SUBJECT_ROWS,
    "vitals": (
        "S01,2021-01-13T08:00,38.9,112,,room_air,,97",
        "S02,2021-01-15T08:00:30+01:00,39.4,88,norepinephrine;vasopressin,nasal_cannula,4,93",
    ),
    "neuro_assessments": (
        "S01,2021-01-13T09:00,10,normal,none,none,none",
        "S02,2021-01-16T09:00,6,awakens_to_voice,none,none,none",
    ),
    "toxicity_assessments": ("S01,2021-01-13,1,0,ASTCT2019", "S02,2021-01-16,2,1,ASTCT2019"),
    "medications": (
        "S01,tocilizumab,2021-01-13T10:00,8,mg/kg,IV,crs",
        "S02,dexamethasone,2021-01-16T10:00,10,mg,IV,icans",
    ),
    "response_assessments": ("S01,2021-02-11,CR,Lugano2014", "S02,2021-02-13,PR,Lugano2014"),
    "outcomes": ("S01,,,,2021-12-01", "S02,2021-06-01,2021-09-01,progression,2021-09-01"),
    "serum_cytokines": (
        "P1-S01-D1,S01,2021-01-13T07:00,IL6,152.3,pg/mL,1.2,5000,P1,BioPlex27",
        "P1-S01-D1,S01,2021-01-13T07:00,IFNG,<1.5,pg/mL,1.5,8000,P1,BioPlex27",
        "P1-S02-D1,S02,2021-01-15T07:00,IL6,>5000,pg/mL,1.2,5000,P1,BioPlex27",
    ),
    "serum_labs": ("S01,2021-01-13T07:00,CRP,85.2,mg/L", "S02,2021-01-15T07:00,FERRITIN,2400,ng/mL"),
    "csf_samples": ("CSF-S01-1,S01,2021-01-16T11:00,4,0,52,61", "CSF-S02-1,S02,2021-01-18T11:00,12,,80,"),
    "csf_cytokines": (
        "CSF-S01-1,S01,2021-01-16T11:00,IL6,45.1,pg/mL,1.2,5000,P9,BioPlex27",
        "CSF-S02-1,S02,2021-01-18T11:00,IL6,OOR <,pg/mL,1.2,5000,P9,BioPlex27",
    ),
}


def csv_text(source: str, *rows: str, header: str | None = None, newline: str = "\n") -> bytes:
    """A CSV delivery: the contract header of `source` (or `header`) and rows, UTF-8."""
    lines = [HEADERS[source] if header is None else header, *rows]
    return (newline.join(lines) + newline).encode("utf-8")


def good(source: str) -> bytes:
    return csv_text(source, *GOOD_ROWS[source])


def companion(source: str) -> bytes:
    """The good delivery loaded in the same run as a case, after it (different bytes from `good`)."""
    if source == "subjects":
        return csv_text("subjects", "S04,site02,2021-01-07,38,M,77,LBCL,tisa-cel,2021-01-15,")
    return good(source)


def parquet_of(columns: dict[str, pa.Array]) -> Callable[[], bytes]:
    def build() -> bytes:
        sink = io.BytesIO()
        pq.write_table(pa.table(columns), sink)
        return sink.getvalue()

    return build


def rejected(n_rows: int) -> dict[int, Q]:
    """A rejected delivery: each of its rows is in quarantine as `delivery_rejected`."""
    return {n: Q("delivery_rejected", None) for n in range(1, n_rows + 1)}


# ----------------------------------------------------------------------------- case-specific checks
def _rows(con, sql: str, params=()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _all_raw_tables(con) -> set[str]:
    return {r[0] for r in _rows(con, "select table_name from information_schema.tables where table_schema = 'raw'")}


def _tables_intact(*names: str):
    def check(con, file_name):
        assert set(names) <= _all_raw_tables(con), "a raw table disappeared"
        assert _rows(con, "select count(*) from raw.subjects")[0][0] >= 3

    return check


def _stored(source: str, column: str, expected: list):
    """The accepted rows of the case file have exactly these values in `column`, by row number."""

    def check(con, file_name):
        got = [r[0] for r in _rows(con, f'select "{column}" from raw."{source}" where _file_name = ? order by _row_number', [file_name])]
        assert got == expected, f"{column}: {got} != {expected}"

    return check


def _extra_kept(con, file_name):
    extras = [json.loads(r[0]) for r in _rows(con, "select _extra from raw.vitals where _file_name = ? order by _row_number", [file_name])]
    assert extras == [{"nurse_note": "febrile, cultures sent", "ward": "7B"}, {"nurse_note": None, "ward": "7B"}]
    cols = {r[0] for r in _rows(con, "select column_name from information_schema.columns where table_name = 'vitals'")}
    assert "nurse_note" not in cols and "ward" not in cols


def _no_identifying_data(con, file_name):
    """The identifying values appear in no column of any table of the warehouse."""
    needles = ("Jane Doe", "MRN-0042", "1969-07-20", "patient_name", "date_of_birth")
    for (schema, table) in _rows(con, "select table_schema, table_name from information_schema.tables"):
        for (column,) in _rows(con, "select column_name from information_schema.columns where table_schema = ? and table_name = ?", [schema, table]):
            assert column not in ("patient_name", "mrn", "date_of_birth")
            for needle in needles:
                hits = _rows(con, f'select count(*) from "{schema}"."{table}" where cast("{column}" as varchar) like ?', [f"%{needle}%"])
                assert hits[0][0] == 0, f"{needle} stored in {schema}.{table}.{column}"


def _analytes_mapped(con, file_name):
    got = _rows(con, "select _analyte_as_delivered, analyte from raw.serum_cytokines where _file_name = ? order by _row_number", [file_name])
    assert got == [("IL-6", "IL6"), ("il6", "IL6"), ("IFN-γ", "IFNG"), ("IFNg", "IFNG"), ("IL 6 ", "IL6"), ("TNF-α", "TNFA"), ("CXCL10", "IP10")]


def _missing_optional_null(con, file_name):
    got = _rows(con, "select o2_flow_l_min, spo2_pct from raw.vitals where _file_name = ?", [file_name])
    assert got == [(None, None), (None, None)]


def _duplicate_loaded_once(con, file_name):
    n = _rows(con, "select count(*) from raw.vitals where _file_name = ?", [file_name])[0][0]
    assert n == 0, "a byte-identical duplicate must load nothing"
    assert _rows(con, "select count(*) from raw.vitals where _file_name = 'vitals/2021-01-20_site01.csv'")[0][0] == 2
    assert _rows(con, "select count(*) from raw.quarantine where file_name = ?", [file_name])[0][0] == 0
    msg = _rows(con, "select message from raw.deliveries where file_name = ?", [file_name])[0][0]
    assert "vitals/2021-01-20_site01.csv" in msg


def _not_recorded(con, file_name):
    assert _rows(con, "select count(*) from raw.deliveries where file_name = ?", [file_name])[0][0] == 0


def _symlink(path: Path, data: bytes, scratch: Path) -> None:
    outside = scratch / "outside_landing" / "elsewhere.csv"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, path)


# ----------------------------------------------------------------------------- the corpus
V = "vitals"
SC = "serum_cytokines"

CASES: list[Case] = [
    # --- wrong types
    Case("text_in_float_column", V, "text_in_float.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "S01,2021-01-13T12:00,hot,118,,room_air,,97"),
         "loaded", 1, {2: Q("coerce_dtype('float64')", "temperature_c", "hot")}),
    Case("float_in_int_column", V, "float_in_int.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120.5,,room_air,,98", "S01,2021-01-13T09:00,38.2,120.0,,room_air,,98",
                  "S01,2021-01-13T10:00,38.2,121,,room_air,,98"),
         "loaded", 1, {1: Q("coerce_dtype('Int64')", "systolic_bp_mmhg", "120.5"),
                       2: Q("coerce_dtype('Int64')", "systolic_bp_mmhg", "120.0")},
         note="an int column takes integers as written: 120.0 is quarantined like 120.5"),
    Case("text_in_int_column_subjects", "subjects", "age_text.csv",
         csv_text("subjects", "S10,site01,2021-02-01,fifty,F,,LBCL,axi-cel,2021-02-09,"),
         "loaded", 0, {1: Q("coerce_dtype('Int64')", "age_years", "fifty")}),
    Case("nan_and_inf_in_float_column", "csf_samples", "nan_inf.csv",
         csv_text("csf_samples", "CSF-S01-11,S01,2021-01-20T10:00,nan,,40,", "CSF-S01-12,S01,2021-01-21T10:00,Infinity,,40,",
                  "CSF-S01-13,S01,2021-01-22T10:00,3,1e400,40,", "CSF-S01-14,S01,2021-01-23T10:00,3,NA,40,"),
         "loaded", 1, {1: Q("coerce_dtype('float64')", "wbc_per_ul", "nan"), 2: Q("coerce_dtype('float64')", "wbc_per_ul", "Infinity"),
                       3: Q("coerce_dtype('float64')", "rbc_per_ul", "1e400")},
         note="only empty and NA mean missing: `nan` is text, and infinity is no measurement (it would pass `>= 0`)"),
    Case("two_type_errors_one_row", "csf_samples", "two_type_errors.csv",
         csv_text("csf_samples", "CSF-S01-9,S01,2021-01-20T10:00,many,,lots,", "CSF-S01-10,S01,2021-01-21T10:00,3,,40,"),
         "loaded", 1, {1: [Q("coerce_dtype('float64')", "wbc_per_ul", "many"), Q("coerce_dtype('float64')", "protein_mg_dl", "lots")]}),

    # --- columns
    Case("missing_required_column", V, "no_temperature.csv",
         csv_text(V, "S01,2021-01-13T08:00,120,,room_air,,98", "S01,2021-01-13T09:00,121,,room_air,,98",
                  header="subject_id,recorded_at,systolic_bp_mmhg,vasopressors,o2_device,o2_flow_l_min,spo2_pct"),
         "rejected", 0, rejected(2), message="missing required column(s) temperature_c"),
    Case("missing_key_column_subjects", "subjects", "no_subject_id.csv",
         csv_text("subjects", "site01,2021-02-01,50,F,,LBCL,axi-cel,2021-02-09,",
                  header="site_id,enrolled_on,age_years,sex,weight_kg,disease,car_t_product,infused_on,not_infused_reason"),
         "rejected", 0, rejected(1), message="missing required column(s) subject_id"),
    Case("missing_required_column_and_malformed_row", V, "no_temperature_truncated.csv",
         csv_text(V, "S01,2021-01-13T08:00,120,,room_air,,98", "S01,2021-01-13T09:00,121",
                  header="subject_id,recorded_at,systolic_bp_mmhg,vasopressors,o2_device,o2_flow_l_min,spo2_pct"),
         "rejected", 0, rejected(2), message="missing required column(s) temperature_c",
         note="every line of a rejected file is counted as delivered, the malformed one too"),
    Case("missing_optional_columns", V, "no_o2_flow_no_spo2.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air", "S02,2021-01-15T09:00,37.9,101,,room_air",
                  header="subject_id,recorded_at,temperature_c,systolic_bp_mmhg,vasopressors,o2_device"),
         "loaded", 2, check=_missing_optional_null),
    Case("extra_columns_kept_aside", V, "extra_columns.csv",
         csv_text(V, 'S01,2021-01-13T08:00,38.2,120,,room_air,,98,"febrile, cultures sent",7B', "S01,2021-01-13T09:00,38.0,118,,room_air,,98,,7B",
                  header=HEADERS[V] + ",nurse_note,ward"),
         "loaded", 2, message="extra columns ignored: nurse_note, ward", check=_extra_kept),
    Case("identifying_columns_dropped", "subjects", "site_export_with_names.csv",
         csv_text("subjects", "S11,site03,2021-03-01,61,M,90,LBCL,liso-cel,2021-03-09,,Jane Doe,MRN-0042,1969-07-20",
                  header=HEADERS["subjects"] + ",patient_name,mrn,date_of_birth"),
         "loaded", 1, check=_no_identifying_data,
         note="identifying columns are dropped on read: not even named in the message or _extra"),
    Case("column_names_case_and_spaces", V, "shouty_header.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98",
                  header="Subject_ID, RECORDED_AT ,Temperature_C,systolic_bp_mmhg,vasopressors,O2_Device,o2_flow_l_min,spo2_pct"),
         "loaded", 1),
    Case("columns_reordered", "toxicity_assessments", "reordered.csv",
         csv_text("toxicity_assessments", "ASTCT2019,0,2,2021-01-14,S01", header="criteria,icans_grade,crs_grade,assessed_on,subject_id"),
         "loaded", 1, check=_stored("toxicity_assessments", "crs_grade", [2])),
    Case("duplicate_column_name", V, "temperature_twice.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98,38.3",
                  header=HEADERS[V] + ",Temperature_C"),
         "rejected", 0, rejected(1), message="duplicate column(s) temperature_c"),

    # --- empty, truncated, malformed rows
    Case("header_only", V, "header_only.csv", csv_text(V), "loaded", 0),
    Case("header_only_no_newline_with_extra_column", V, "header_only_extra.csv",
         (HEADERS[V] + ",note").encode(), "loaded", 0, message="extra columns ignored: note"),
    Case("empty_file", V, "empty.csv", b"", "rejected", 0, {}, message="empty file"),
    Case("blank_lines_only", V, "blank.csv", b"\n\r\n  \n", "rejected", 0, {}, message="empty file"),
    Case("truncated_last_line", V, "truncated.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "S02,2021-01-15T08:00,37.1,110,,room_air,,99")
         + b"S01,2021-01-13T12:00,38.", "loaded", 2, {3: Q("malformed_row", None, "3 fields, header has 8")}),
    Case("truncated_inside_quotes", "outcomes", "truncated_quoted.csv",
         csv_text("outcomes", "S01,,,,2021-12-01") + b'S02,2021-06-01,2021-09-01,"progres', "loaded", 1,
         {2: Q("malformed_row", None, "4 fields, header has 5")}),
    Case("row_with_extra_field", "response_assessments", "stray_comma.csv",
         csv_text("response_assessments", "S01,2021-02-11,CR,Lugano2014", "S02,2021-02-13,PR,Lugano2014,", "S03,2021-02-13,NE,Lugano2014"),
         "loaded", 2, {2: Q("malformed_row", None, "5 fields, header has 4")}),
    Case("blank_line_between_rows_and_malformed_row", V, "blank_and_truncated.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "", "S01,2021-01-13T09:00,hot,120,,room_air,,98")
         + b"S01,2021-01-13T10:00,38", "loaded", 1,
         {2: Q("coerce_dtype('float64')", "temperature_c", "hot"), 3: Q("malformed_row", None)},
         note="row numbers do not depend on which reader path the file takes: a blank line is not a row"),

    # --- encodings and line endings
    Case("latin1_bytes", "outcomes", "latin1.csv",
         csv_text("outcomes", "S01,,,,2021-12-01") + "S02,2021-06-01,2021-09-01,progression (rechute précoce),2021-09-01\n".encode("latin-1"),
         "rejected", 0, rejected(2), message="not UTF-8 text"),
    Case("latin1_in_header", "outcomes", "latin1_header.csv",
         ("subject_id,progressed_on,died_on,death_cause,last_known_alive_on,commentaire_é\nS01,,,,2021-12-01,\n").encode("latin-1"),
         "rejected", 0, rejected(1), message="not UTF-8 text"),
    Case("utf8_bom", V, "bom.csv", b"\xef\xbb\xbf" + good(V).replace(b"08:00,", b"08:05,"), "loaded", 2),
    Case("crlf_line_endings", "neuro_assessments", "crlf.csv",
         csv_text("neuro_assessments", "S01,2021-01-13T21:00,9,normal,none,none,none", "S01,2021-01-14T09:00,8,normal,none,none,swollen", newline="\r\n"),
         "loaded", 1, {2: Q("isin(", "cerebral_edema", "swollen")},
         note="the last cell of a CRLF line carries no \\r"),
    Case("crlf_bom_and_truncated", "neuro_assessments", "crlf_truncated.csv",
         b"\xef\xbb\xbf" + csv_text("neuro_assessments", "S01,2021-01-13T21:00,9,normal,none,none,diffuse", "S01,2021-01-14T09:00,8,normal,none,none,swollen", newline="\r\n")
         + b"S01,2021-01-14T21:00,7,nor", "loaded", 1,
         {2: Q("isin(", "cerebral_edema", "swollen"), 3: Q("malformed_row", None)}),
    Case("cr_only_line_endings", V, "old_mac.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "S01,2021-01-13T09:00,38.2,120,,room_air,,98", newline="\r"),
         "rejected", 0, rejected(2), message="bare CR line break"),
    Case("utf8_non_ascii_text", "outcomes", "utf8_text.csv",
         csv_text("outcomes", "S02,2021-06-01,2021-09-01,progression (rechute précoce),2021-09-01"),
         "loaded", 1, check=_stored("outcomes", "death_cause", ["progression (rechute précoce)"])),

    # --- quotes
    Case("unclosed_quote", V, "stray_quote.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", 'S01,"2021-01-13T09:00,38.4,121,,room_air,,98',
                  "S01,2021-01-13T10:00,38.6,122,,room_air,,98", "S02,2021-01-15T10:00,38.6,122,,room_air,,98"),
         "loaded", 3, {2: Q("malformed_row", None)},
         note="a stray quote breaks its own line only; it does not swallow the rest of the file"),
    Case("quoted_commas", "outcomes", "quoted_commas.csv",
         csv_text("outcomes", 'S02,2021-06-01,2021-09-01,"progression, then sepsis",2021-09-01'),
         "loaded", 1, check=_stored("outcomes", "death_cause", ["progression, then sepsis"])),
    Case("quoted_newline_in_value", "outcomes", "quoted_newline.csv",
         csv_text("outcomes", "S01,,,,2021-12-01", 'S02,2021-06-01,2021-09-01,"progression\nthen sepsis",2021-09-01', "S03,,,,2021-11-01"),
         "loaded", 3, check=_stored("outcomes", "death_cause", [None, "progression\nthen sepsis", None]),
         note="RFC 4180: a quoted value may span lines; it is one row"),

    # --- duplicates inside one delivery
    Case("identical_rows", V, "identical_rows.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "S01,2021-01-13T08:00,38.2,120,,room_air,,98",
                  "S02,2021-01-15T08:00,37.2,110,,room_air,,99", "S01,2021-01-13T08:00,38.2,120,,room_air,,98"),
         "loaded", 2, {2: Q("identical_duplicate", None, "subject_id=S01, recorded_at=2021-01-13T08:00"),
                       4: Q("identical_duplicate", None)}),
    Case("same_key_different_values", V, "conflicting_rows.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98", "S02,2021-01-15T08:00,37.2,110,,room_air,,99",
                  "S01,2021-01-13T08:00,39.2,120,,room_air,,98"),
         "loaded", 1, {1: Q("conflicting_duplicate", None, "subject_id=S01, recorded_at=2021-01-13T08:00"),
                       3: Q("conflicting_duplicate", None)}),
    Case("same_key_after_normalization", "medications", "conflicting_normalized.csv",
         csv_text("medications", "S01,tocilizumab,2021-01-13T10:00,8,mg/kg,IV,crs", "S01,tocilizumab,2021-01-13 10:00,4,mg/kg,IV,crs",
                  "S01,tocilizumab,2021-01-13 10:00,4,mg/kg,IV,crs"),
         "loaded", 0, {1: Q("conflicting_duplicate", None), 2: Q("conflicting_duplicate", None), 3: Q("conflicting_duplicate", None)},
         note="`T` and space separators are the same key; a conflict quarantines every copy"),
    Case("analyte_spellings_duplicate", SC, "analyte_spelling_dupes.csv",
         csv_text(SC, "P2-S01-D3,S01,2021-01-15T07:00,IL-6,88.1,pg/mL,1.2,5000,P2,BioPlex27",
                  "P2-S01-D3,S01,2021-01-15T07:00,il6,88.1,pg/mL,1.2,5000,P2,BioPlex27",
                  "P2-S01-D3,S01,2021-01-15T07:00,IFN-γ,3.1,pg/mL,1.5,8000,P2,BioPlex27",
                  "P2-S01-D3,S01,2021-01-15T07:00,IFNG,3.4,pg/mL,1.5,8000,P2,BioPlex27"),
         "loaded", 1, {2: Q("identical_duplicate", None, "sample_id=P2-S01-D3, analyte=IL6"),
                       3: Q("conflicting_duplicate", None, "sample_id=P2-S01-D3, analyte=IFNG"),
                       4: Q("conflicting_duplicate", None)}),

    # --- codes not in the contract
    Case("unknown_sex", "subjects", "sex_x.csv",
         csv_text("subjects", "S12,site01,2021-02-01,50,X,,LBCL,axi-cel,2021-02-09,", "S13,site01,2021-02-01,51,F,,LBCL,axi-cel,2021-02-09,"),
         "loaded", 1, {1: Q("isin(['M', 'F', 'U'])", "sex", "X")}),
    Case("unknown_o2_device", V, "helmet.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,helmet,10,92", "S01,2021-01-13T09:00,38.2,120,,facemask,10,95"),
         "loaded", 1, {1: Q("isin(", "o2_device", "helmet")}),
    Case("unknown_vasopressor", V, "caffeine.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,80,norepinephrine;caffeine,room_air,,95"),
         "loaded", 0, {1: Q("agent_list(", "vasopressors", "norepinephrine;caffeine")}),
    Case("unknown_drug", "medications", "aspirin.csv",
         csv_text("medications", "S01,aspirin,2021-01-13T10:00,100,mg,PO,other", "S01,anakinra,2021-01-14T10:00,100,mg,SC,crs"),
         "loaded", 1, {1: Q("isin(", "drug", "aspirin")}),
    Case("unknown_analyte", SC, "il99.csv",
         csv_text(SC, "P3-S01-D1,S01,2021-01-13T07:00,IL99,12,pg/mL,1,5000,P3,BioPlex27",
                  "P3-S01-D1,S01,2021-01-13T07:00,IL10,12,pg/mL,1,5000,P3,BioPlex27"),
         "loaded", 1, {1: Q("isin(", "analyte", "IL99")}),
    Case("unknown_criteria", "toxicity_assessments", "ctcae4.csv",
         csv_text("toxicity_assessments", "S01,2021-01-14,1,0,CTCAE4", "S01,2021-01-15,1,0,Lee2014"), "loaded", 1,
         {1: Q("isin(['ASTCT2019', 'Lee2014', 'CTCAE5'])", "criteria", "CTCAE4")},
         note="contract v2 opens the criteria to ASTCT2019, Lee2014, CTCAE5"),

    # --- impossible values
    Case("negative_concentration", SC, "negative.csv",
         csv_text(SC, "P4-S01-D1,S01,2021-01-13T07:00,IL6,-5,pg/mL,1.2,5000,P4,BioPlex27"), "loaded", 0,
         {1: Q("assay_result", "result", "-5")}),
    Case("temperature_55", V, "temp_55.csv",
         csv_text(V, "S01,2021-01-13T08:00,55,120,,room_air,,98", "S01,2021-01-13T09:00,45,120,,room_air,,98",
                  "S01,2021-01-13T10:00,29.9,120,,room_air,,98"),
         "loaded", 1, {1: Q("less_than_or_equal_to(45)", "temperature_c", "55"),
                       3: Q("greater_than_or_equal_to(30)", "temperature_c", "29.9")}),
    Case("ice_11", "neuro_assessments", "ice_11.csv",
         csv_text("neuro_assessments", "S01,2021-01-13T21:00,11,normal,none,none,none", "S01,2021-01-14T09:00,,unarousable,none,none,none"),
         "loaded", 1, {1: Q("less_than_or_equal_to(10)", "ice_score", "11")}),
    Case("age_121", "subjects", "age_121.csv",
         csv_text("subjects", "S14,site01,2021-02-01,121,F,,LBCL,axi-cel,2021-02-09,", "S15,site01,2021-02-01,4,F,,B-ALL,axi-cel,2021-02-09,"),
         "loaded", 1, {1: Q("less_than_or_equal_to(120)", "age_years", "121")},
         note="contract v2: ages 0..120 (CAR T trials treat children), B-ALL a disease"),
    Case("zero_dose", "medications", "zero_dose.csv",
         csv_text("medications", "S01,tocilizumab,2021-01-13T10:00,0,mg/kg,IV,crs"), "loaded", 0,
         {1: Q("greater_than(0)", "dose", "0")}),
    Case("crs_grade_6_and_many_errors", "toxicity_assessments", "crs_6.csv",
         csv_text("toxicity_assessments", "S01,2021-01-14,6,-1,ASTCT2019", "S01,2021-01-15,5,5,ASTCT2019"), "loaded", 1,
         {1: [Q("less_than_or_equal_to(5)", "crs_grade", "6"), Q("greater_than_or_equal_to(0)", "icans_grade", "-1")]}),
    Case("required_value_missing", "medications", "dose_na.csv",
         csv_text("medications", "S01,tocilizumab,2021-01-13T10:00,NA,mg/kg,IV,crs", "S01,tocilizumab,2021-01-14T10:00,,mg/kg,IV,crs"),
         "loaded", 0, {1: Q("not_nullable", "dose", None), 2: Q("not_nullable", "dose", None)},
         note="`NA` and empty both mean missing"),
    Case("infused_without_product", "subjects", "infused_no_product.csv",
         csv_text("subjects", "S16,site01,2021-02-01,50,F,,LBCL,,2021-02-09,"), "loaded", 0,
         {1: Q("infused_on_and_product_together", None, "subject_id=S16")}),

    # --- dates and times
    Case("date_feb_30", "toxicity_assessments", "feb30.csv",
         csv_text("toxicity_assessments", "S01,2021-02-30,0,0,ASTCT2019", "S01,2021-02-28,0,0,ASTCT2019"),
         "loaded", 1, {1: Q("iso_date", "assessed_on", "2021-02-30")}),
    Case("date_us_format", "toxicity_assessments", "us_dates.csv",
         csv_text("toxicity_assessments", "S01,03/01/2021,0,0,ASTCT2019", "S01,2021-3-1,0,0,ASTCT2019"),
         "loaded", 0, {1: Q("iso_date", "assessed_on", "03/01/2021"), 2: Q("iso_date", "assessed_on", "2021-3-1")}),
    Case("datetime_malformed", V, "bad_datetimes.csv",
         csv_text(V, "S01,2021-02-30T08:00,38.2,120,,room_air,,98", "S01,03/01/2021 08:00,38.2,120,,room_air,,98",
                  "S01,2021-01-13T24:00,38.2,120,,room_air,,98", "S01,2021-01-13T08:00:60,38.2,120,,room_air,,98",
                  "S01,2021-01-13,38.2,120,,room_air,,98", "S01,2021-01-13T08:00:59.5Z,38.2,120,,room_air,,98"),
         "loaded", 1, {1: Q("iso_datetime", "recorded_at", "2021-02-30T08:00"), 2: Q("iso_datetime", "recorded_at", "03/01/2021 08:00"),
                       3: Q("iso_datetime", "recorded_at", "2021-01-13T24:00"), 4: Q("iso_datetime", "recorded_at", "2021-01-13T08:00:60"),
                       5: Q("iso_datetime", "recorded_at", "2021-01-13")},
         note="second 60 is not an instant DuckDB can cast: it would break staging, so it is quarantined here"),
    Case("time_in_future", V, "future.csv",
         csv_text(V, "S01,2099-01-01T08:00,38.2,120,,room_air,,98"), "loaded", 0,
         {1: Q("not_in_future", "recorded_at", "2099-01-01T08:00")},
         note="our rule, contract silent: a measurement cannot come from the future (one day of slack)"),
    Case("time_before_enrollment", V, "before_enrollment.csv",
         csv_text(V, "S01,2020-06-01T08:00,36.8,120,,room_air,,98", "S01,1900-01-01T08:00,36.8,120,,room_air,,98"), "loaded", 0,
         {1: Q("before_enrollment", "recorded_at", "2020-06-01T08:00"), 2: Q("before_enrollment", "recorded_at", "1900-01-01T08:00")},
         note="our rule, contract silent: a record dated before the subject's enrolled_on is quarantined"),
    Case("infused_before_enrolled", "subjects", "infused_before_enrolled.csv",
         csv_text("subjects", "S17,site01,2021-02-10,50,F,,LBCL,axi-cel,2021-02-01,"), "loaded", 0,
         {1: Q("infused_not_before_enrolled", None)},
         note="our rule, contract silent: infusion cannot precede enrollment"),

    # --- subjects
    Case("unknown_subject", V, "unknown_subject.csv",
         csv_text(V, "S99,2021-01-13T08:00,38.2,120,,room_air,,98", "S01,2021-01-13T08:00,38.2,120,,room_air,,98"),
         "loaded", 1, {1: Q("unknown_subject", "subject_id", "S99")}),
    Case("subject_id_other_case", "serum_labs", "lowercase_subject.csv",
         csv_text("serum_labs", "s01,2021-01-13T07:00,CRP,85.2,mg/L", "S01,2021-01-14T07:00,CRP,90,mg/L"),
         "loaded", 1, {1: Q("unknown_subject", "subject_id", "s01")}, note="subject ids are case-sensitive"),
    Case("subject_id_bad_pattern", "csf_samples", "bad_subject_ids.csv",
         csv_text("csf_samples", "CSF-1,S 01,2021-01-16T11:00,4,0,52,61", "CSF-2,S,2021-01-16T11:00,4,0,52,61", "CSF-3, S01,2021-01-16T11:00,4,0,52,61"),
         "loaded", 0, {1: Q("str_matches(", "subject_id", "S 01"), 2: Q("str_matches(", "subject_id", "S"),
                       3: Q("str_matches(", "subject_id", " S01")},
         note="cells are not trimmed: a leading space breaks the id pattern"),

    # --- units
    Case("cytokine_unit_mg_per_l", SC, "unit_mg_l.csv",
         csv_text(SC, "P5-S01-D1,S01,2021-01-13T07:00,IL6,0.1,mg/L,,,P5,BioPlex27"), "loaded", 0,
         {1: Q("isin(['pg/mL', 'ng/mL'])", "unit", "mg/L")}),
    Case("crp_unit_mmol_per_l", "serum_labs", "crp_mmol.csv",
         csv_text("serum_labs", "S01,2021-01-14T07:00,CRP,12,mmol/L", "S01,2021-01-15T07:00,CRP,12,mg/dL"), "loaded", 1,
         {1: Q("unit_allowed_for_test", None, "subject_id=S01, collected_at=2021-01-14T07:00, test=CRP")}),
    Case("unknown_lab_test", "serum_labs", "esr.csv",
         csv_text("serum_labs", "S01,2021-01-14T07:00,ESR,40,mm/h"), "loaded", 0,
         {1: [Q("isin(", "test", "ESR"), Q("unit_allowed_for_test", None)]}),

    # --- cytokine result texts
    Case("result_texts_not_in_contract", SC, "result_texts.csv",
         csv_text(SC, "P6-S01-D1,S01,2021-01-13T07:00,IL6,n/a,pg/mL,1.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,IL10,ND,pg/mL,1.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,IL2,<<5,pg/mL,1.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,IL8,< 3.2,pg/mL,3.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,IL15,> 5000,pg/mL,1.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,TNFA,*12.5,pg/mL,1.2,5000,P6,BioPlex27",
                  "P6-S01-D1,S01,2021-01-13T07:00,IFNG,OOR >,pg/mL,1.2,5000,P6,BioPlex27"),
         "loaded", 4, {1: Q("assay_result", "result", "n/a"), 2: Q("assay_result", "result", "ND"),
                       3: Q("assay_result", "result", "<<5")}),
    Case("oor_without_limit", SC, "oor_no_limit.csv",
         csv_text(SC, "P7-S01-D1,S01,2021-01-13T07:00,IL6,OOR <,pg/mL,,5000,P7,BioPlex27",
                  "P7-S01-D1,S01,2021-01-13T07:00,IL10,OOR <,pg/mL,0.8,5000,P7,BioPlex27",
                  "P7-S01-D1,S01,2021-01-13T07:00,IL2,OOR >,pg/mL,0.8,,P7,BioPlex27"),
         "loaded", 1, {1: Q("oor_below_needs_lloq", None, "sample_id=P7-S01-D1, analyte=IL6"),
                       3: Q("oor_above_needs_uloq", None, "sample_id=P7-S01-D1, analyte=IL2")}),
    Case("csf_result_text", "csf_cytokines", "csf_nd.csv",
         csv_text("csf_cytokines", "CSF-S01-1,S01,2021-01-16T11:00,IL10,ND,pg/mL,1.2,5000,P9,BioPlex27",
                  "CSF-S01-1,S01,2021-01-16T11:00,IL8,12,pg/mL,1.2,5000,P9,BioPlex27"),
         "loaded", 1, {1: Q("assay_result", "result", "ND")}),

    # --- analyte spellings
    Case("analyte_spellings", SC, "analyte_spellings.csv",
         csv_text(SC, "A1,S01,2021-01-13T07:00,IL-6,1,pg/mL,,,P8,BioPlex27", "A2,S01,2021-01-13T07:00,il6,1,pg/mL,,,P8,BioPlex27",
                  "A1,S01,2021-01-13T07:00,IFN-γ,1,pg/mL,,,P8,BioPlex27", "A2,S01,2021-01-13T07:00,IFNg,1,pg/mL,,,P8,BioPlex27",
                  "A3,S01,2021-01-13T07:00,IL 6 ,1,pg/mL,,,P8,BioPlex27", "A3,S01,2021-01-13T07:00,TNF-α,1,pg/mL,,,P8,BioPlex27",
                  "A3,S01,2021-01-13T07:00,CXCL10,1,pg/mL,,,P8,BioPlex27", "A4,S01,2021-01-13T07:00,IL-66,1,pg/mL,,,P8,BioPlex27",
                  "A4,S01,2021-01-13T07:00,IL6R,1,pg/mL,,,P8,BioPlex27"),
         "loaded", 7, {8: Q("isin(", "analyte", "IL-66"), 9: Q("isin(", "analyte", "IL6R")}, check=_analytes_mapped),

    # --- parquet
    Case("parquet_wrong_types", V, "hot.parquet",
         parquet_of({"subject_id": pa.array(["S01", "S01"]), "recorded_at": pa.array(["2021-01-13T08:00", "2021-01-13T09:00"]),
                     "temperature_c": pa.array(["hot", "38.1"]), "systolic_bp_mmhg": pa.array([120.5, 118.0]),
                     "vasopressors": pa.array([None, None], pa.string()), "o2_device": pa.array(["room_air", "room_air"])}),
         "loaded", 1, {1: [Q("coerce_dtype('float64')", "temperature_c", "hot"), Q("coerce_dtype('Int64')", "systolic_bp_mmhg", "120.5")]},
         check=_stored(V, "systolic_bp_mmhg", [118]),
         note="a parquet double 118.0 reaches validation as the text '118' and passes the int column "
              "(a CSV's '120.0' does not: see float_in_int_column)"),
    Case("parquet_native_types", V, "typed.parquet",
         parquet_of({"Subject_ID": pa.array(["S01", "S02"]), "recorded_at": pa.array(["2021-01-13T08:00", "2021-01-15T08:00+01:00"]),
                     "temperature_c": pa.array([38.25, None], pa.float64()), "systolic_bp_mmhg": pa.array([120, 95], pa.int64()),
                     "vasopressors": pa.array(["", "dopamine"]), "o2_device": pa.array(["room_air", "NA"]),
                     "spo2_pct": pa.array([97, 91], pa.int32())}),
         "loaded", 2, check=_stored(V, "temperature_c", [38.25, None])),
    Case("parquet_timestamp_columns", V, "timestamps.parquet",
         parquet_of({"subject_id": pa.array(["S01", "S02"]),
                     "recorded_at": pa.array([1610524800_000000, 1610697600_000500], pa.timestamp("us", tz="UTC")),
                     "temperature_c": pa.array([38.0, 38.5]), "systolic_bp_mmhg": pa.array([120, 110]),
                     "vasopressors": pa.array([None, None], pa.string()), "o2_device": pa.array(["room_air", "room_air"])}),
         "loaded", 2, check=_stored(V, "recorded_at", ["2021-01-13 08:00:00.000000Z", "2021-01-15 08:00:00.000500Z"]),
         note="a parquet timestamp arrives as its ISO text (UTC with Z when the type has a zone)"),
    Case("parquet_nested_column", V, "nested.parquet",
         parquet_of({"subject_id": pa.array(["S01"]), "recorded_at": pa.array(["2021-01-13T08:00"]),
                     "temperature_c": pa.array([38.0]), "systolic_bp_mmhg": pa.array([120]),
                     "vasopressors": pa.array([["dopamine"]]), "o2_device": pa.array(["room_air"])}),
         "rejected", 0, {}, message="Unsupported cast from list",
         note="CURRENT BEHAVIOUR: a nested column (even an extra one) rejects the whole file, rows counted as 0"),
    Case("parquet_missing_required_column", V, "no_bp.parquet",
         parquet_of({"subject_id": pa.array(["S01"]), "recorded_at": pa.array(["2021-01-13T08:00"]),
                     "temperature_c": pa.array([38.0]), "vasopressors": pa.array([""]), "o2_device": pa.array(["room_air"])}),
         "rejected", 0, rejected(1), message="missing required column(s) systolic_bp_mmhg"),
    Case("not_parquet", V, "random.parquet", bytes(range(256)) * 4, "rejected", 0, {}, message="not a readable parquet file"),
    Case("xlsx_unsupported", V, "vitals.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary\nworkbook\n", "rejected", 0, {},
         message="unsupported file type '.xlsx'"),
    Case("no_suffix", V, "README", b"please find attached\n", "rejected", 0, {}, message="unsupported file type ''"),
    Case("upper_case_suffix", V, "SITE01.CSV", csv_text(V, "S01,2021-01-13T08:10,38.2,120,,room_air,,98"), "loaded", 1),

    # --- file names
    Case("file_name_with_spaces", V, "site 02 march delivery.csv", csv_text(V, "S01,2021-01-13T08:20,38.2,120,,room_air,,98"), "loaded", 1),
    Case("file_name_with_quotes", V, "it's the \"final\" one.csv", csv_text(V, "S01,2021-01-13T08:30,38.2,120,,room_air,,98"), "loaded", 1),
    Case("file_name_with_dots", V, "2021..01..13..csv", csv_text(V, "S01,2021-01-13T08:40,38.2,120,,room_air,,98"), "loaded", 1),
    Case("file_name_sql", V, "x'; drop table raw.deliveries; --.csv", csv_text(V, "S01,2021-01-13T08:50,38.2,120,,room_air,,98"),
         "loaded", 1, check=_tables_intact("deliveries", "quarantine", "vitals")),
    Case("file_name_unicode", V, "résumé – site 2.csv", csv_text(V, "S01,2021-01-13T08:55,38.2,120,,room_air,,98"), "loaded", 1),
    Case("hidden_file_ignored", V, "..hidden.csv", csv_text(V, "S01,2021-01-13T09:10,38.2,120,,room_air,,98"), "ignored", 0,
         check=_not_recorded, note="names starting with '.' are uploads in progress (rsync/scp temp files): not yet a delivery"),
    Case("symlink_to_outside", V, "linked.csv", csv_text(V, "S01,2021-01-13T09:20,38.2,120,,room_air,,98"), "rejected", 0,
         message="symbolic link", place=_symlink,
         note="a symlink could point outside the landing folder: never followed, rejected with a message"),

    # --- identifiers that look like SQL
    Case("sql_in_subject_id", V, "sql_subject.csv",
         csv_text(V, "S01'; drop table raw.vitals; --,2021-01-13T08:00,38.2,120,,room_air,,98", "S01,2021-01-13T08:00,38.2,120,,room_air,,98"),
         "loaded", 1, {1: Q("str_matches(", "subject_id", "S01'; drop table raw.vitals; --")},
         check=_tables_intact("vitals", "subjects", "deliveries", "quarantine")),
    Case("sql_in_analyte", SC, "sql_analyte.csv",
         csv_text(SC, 'P1,S01,2021-01-13T07:00,"IL6\'); drop table raw.serum_cytokines; --",12,pg/mL,,,P1,BioPlex27'),
         "loaded", 0, {1: Q("isin(", "analyte", "IL6'); drop table raw.serum_cytokines; --")},
         check=_tables_intact("serum_cytokines", "deliveries", "quarantine")),
    Case("sql_in_free_text", "outcomes", "sql_text.csv",
         csv_text("outcomes", "S02,2021-06-01,2021-09-01,\"x'); drop table raw.outcomes; --\",2021-09-01"),
         "loaded", 1, check=lambda con, f: (_tables_intact("outcomes")(con, f),
                                             _stored("outcomes", "death_cause", ["x'); drop table raw.outcomes; --"])(con, f))),
    Case("sql_in_column_name", V, "sql_column.csv",
         csv_text(V, "S01,2021-01-13T08:00,38.2,120,,room_air,,98,1", header=HEADERS[V] + ',"x"" varchar); drop table raw.vitals; --"'),
         "loaded", 1, message="extra columns ignored: x\" varchar); drop table raw.vitals; --",
         check=_tables_intact("vitals")),

    # --- whole-delivery duplicates
    Case("byte_identical_duplicate", V, "2021-01-20_site01_resent.csv",
         csv_text(V, "S01,2021-01-20T08:00,37.0,120,,room_air,,98", "S02,2021-01-20T08:00,37.5,110,,room_air,,99"),
         "duplicate", 0,
         before=(("2021-01-20_site01.csv", csv_text(V, "S01,2021-01-20T08:00,37.0,120,,room_air,,98", "S02,2021-01-20T08:00,37.5,110,,room_air,,99")),),
         message="same bytes as vitals/2021-01-20_site01.csv", check=_duplicate_loaded_once),
    Case("duplicate_of_rejected", V, "empty_again.csv", b"", "duplicate", 0, before=(("empty_first.csv", b""),),
         message="same bytes as vitals/empty_first.csv"),
]
