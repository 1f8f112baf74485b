"""The `sdtm` adapter (dagster_project/lib/adapters/sdtm.py): one CDISC SDTM domain file (SAS
transport or Dataset-JSON 1.1) -> contract rows. Every rule on small files the tests write, each
in both formats (the XPT and the JSON of one domain must give identical contract rows), then the
CDISC SDTM-MSG example package read in place (skipped, with the reason printed, when
../shared/realdata is absent; the files are licensed and never copied into the repo), its numbers
computed independently with pandas.read_sas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from dagster_project.lib.adapters.sdtm import SdtmError, infusion_dates, read_dataset, read_sdtm
from dagster_project.lib.ingest.reader import DeliveryRejected
from schemas.contract import SOURCES
from schemas.study import SdtmAdapter, StudyFileError, read_study_file

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "studies" / "cdisc_msg" / "study.yml"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "realdata" / "sdtm_cdisc_msg"

CONFIG = SdtmAdapter(infusion_treatment="KYMRIAH", product="tisa-cel", disease="LBCL")


# ---- writing small SDTM files ---------------------------------------------------------------------

NUMERIC_SUFFIXES = ("SEQ", "STRESN", "DOSE", "AGE", "DY")


def _numeric(name: str) -> bool:
    return name == "AGE" or name.endswith(NUMERIC_SUFFIXES)


def write_xpt(path: Path, name: str, records: list[dict]) -> Path:
    columns = list(dict.fromkeys(k for r in records for k in r))
    data = {}
    for c in columns:
        values = [r.get(c) for r in records]
        data[c] = [math.nan if v is None else float(v) for v in values] if _numeric(c) else \
            ["" if v is None else str(v) for v in values]
    pyreadstat.write_xport(pd.DataFrame(data, columns=columns), str(path), table_name=name, file_format_version=5)
    return path


def _json_doc(name: str, records: list[dict]) -> tuple[dict, list[list]]:
    columns = list(dict.fromkeys(k for r in records for k in r))
    meta = {
        "datasetJSONCreationDateTime": "2025-01-01T00:00:00", "datasetJSONVersion": "1.1.0",
        "itemGroupOID": f"IG.{name}", "records": len(records), "name": name, "label": name,
        "columns": [{"itemOID": f"IT.{name}.{c}", "name": c, "label": c,
                     "dataType": ("integer" if c.endswith("SEQ") else "float") if _numeric(c) else "string"}
                    for c in columns],
    }
    rows = [[r.get(c) if _numeric(c) or r.get(c) is not None else "" for c in columns] for r in records]
    return meta, rows


def write_json(path: Path, name: str, records: list[dict]) -> Path:
    meta, rows = _json_doc(name, records)
    path.write_text(json.dumps({**meta, "rows": rows}), encoding="utf-8")
    return path


def write_ndjson(path: Path, name: str, records: list[dict]) -> Path:
    meta, rows = _json_doc(name, records)
    path.write_text("\n".join(json.dumps(x) for x in (meta, *rows)) + "\n", encoding="utf-8")
    return path


def rows_without_locator(result) -> dict[str, list[dict]]:
    return {source: frame.drop(columns="_locator").to_dict("records") for source, frame in result.rows.items()}


def accounting(result) -> tuple:
    """Everything but the file name in locators: what XPT and JSON must share."""
    return (rows_without_locator(result),
            result.out_of_scope.drop(columns="locator").to_dict("records"),
            result.quarantine.drop(columns="locator").to_dict("records"),
            result.records, result.data_rows)


def read_both(tmp_path: Path, name: str, records: list[dict], config: SdtmAdapter = CONFIG, **kwargs):
    """Write the records as XPT and as Dataset-JSON, read both; they must agree. Returns the XPT's."""
    stem = name.lower()
    xpt = read_sdtm(write_xpt(tmp_path / f"{stem}.xpt", name, records), f"s1/sdtm/{stem}.xpt", config, **kwargs)
    js = read_sdtm(write_json(tmp_path / f"{stem}.json", name, records), f"s1/sdtm/{stem}.json", config, **kwargs)
    assert accounting(xpt) == accounting(js)
    assert xpt.balanced and js.balanced
    return xpt


def rec(domain: str, seq: int | None, **values) -> dict:
    base = {"STUDYID": "S1", "DOMAIN": domain, "USUBJID": values.pop("USUBJID", "S1-001")}
    if seq is not None:
        base[f"{domain}SEQ"] = seq
    return {**base, **values}


def frame_rows(result, source: str) -> list[dict]:
    return result.rows[source].to_dict("records") if source in result.rows else []


def quarantine(result) -> list[tuple]:
    return [(q.source, q.row_number, q.column_name, q.rule, q.value) for q in result.quarantine.itertuples()]


def reasons(result) -> list[tuple]:
    return [(o.source, o.row_number, o.reason) for o in result.out_of_scope.itertuples()]


# ---- VS: temperature units, the key ---------------------------------------------------------------

def vs(seq, code, orres, oru, stresn=None, stru=None, dtc="2024-03-01T08:00", **more):
    return rec("VS", seq, VSTESTCD=code, VSORRES=orres, VSORRESU=oru, VSSTRESC=None if stresn is None else str(stresn),
               VSSTRESN=stresn, VSSTRESU=stru, VSDTC=dtc, **more)


def test_vitals_temperature_units_and_tests(tmp_path):
    result = read_both(tmp_path, "VS", [
        vs(1, "TEMP", "98.6", "F"),                       # Fahrenheit, converted
        vs(2, "TEMP", "37.2", "C"),                       # Celsius as delivered
        vs(3, "TEMP", "100.4", "F", 38.1, "C"),           # the standardised result in C wins
        vs(4, "TEMP", "310", "K"),                        # a unit the adapter cannot convert
        vs(5, "TEMP", "warm", "C"),
        vs(6, "SYSBP", "120", "mmHg", VSPOS="SUPINE"),
        vs(7, "SYSBP", "118", "mmHg", VSPOS="STANDING"),  # same time: the SEQ keeps them apart
        vs(8, "OXYSAT", "97", "%"),
        vs(9, "DIABP", "80", "mmHg"),
        vs(10, "WEIGHT", "154", "LB"),
        vs(11, "TEMP", None, None, VSSTAT="NOT DONE"),
        vs(12, "TEMP", None, "C"),
    ])
    vitals = frame_rows(result, "vitals")
    assert [(r["_seq"], r["temperature_c"], r["systolic_bp_mmhg"], r["spo2_pct"]) for r in vitals] == [
        ("1", "37", None, None), ("2", "37.2", None, None), ("3", "38.1", None, None),
        ("6", None, "120", None), ("7", None, "118", None), ("8", None, None, "97")]
    assert {r["recorded_at"] for r in vitals} == {"2024-03-01T08:00"}
    assert list(result.rows["vitals"].columns) == [
        "subject_id", "recorded_at", "temperature_c", "systolic_bp_mmhg", "spo2_pct", "_seq", "_row_number", "_locator"]
    assert vitals[0]["_locator"] == "s1/sdtm/vs.xpt, VS record 1 (VSSEQ 1)"
    assert quarantine(result) == [("vitals", 4, "VSORRESU", "unit_not_allowed", "K"),
                                  ("vitals", 5, "VSORRES", "not_a_number", "warm"),
                                  ("vitals", 12, "VSORRES", "missing_result", None)]
    assert reasons(result) == [("vitals", 9, "VSTESTCD DIABP not mapped"), ("vitals", 10, "VSTESTCD WEIGHT not mapped"),
                               ("vitals", 11, "VSSTAT NOT DONE: no result")]
    assert result.counts == {"records": 12, "mapped": 6, "out_of_scope": 3, "quarantined": 3}


def test_fahrenheit_is_rounded_to_a_hundredth(tmp_path):
    result = read_both(tmp_path, "VS", [vs(1, "TEMP", "97.4", "F"), vs(2, "TEMP", "101.3", "[degF]")])
    assert [r["temperature_c"] for r in frame_rows(result, "vitals")] == ["36.33", "38.5"]


# ---- dates ---------------------------------------------------------------------------------------

def lb(seq, code, orres, oru, dtc="2024-03-01T08:00", stresc=None, stresn=None, stru=None, **more):
    return rec("LB", seq, LBTESTCD=code, LBORRES=orres, LBORRESU=oru, LBSTRESC=stresc, LBSTRESN=stresn,
               LBSTRESU=stru, LBDTC=dtc, **more)


def test_dates_full_day_only_and_partial(tmp_path):
    result = read_both(tmp_path, "LB", [
        lb(1, "WBC", "5.1", "10^9/L", dtc="2024-03-01T08:15:30"),
        lb(2, "WBC", "5.2", "10^9/L", dtc="2024-03-01T08:15+02:00"),
        lb(3, "WBC", "5.3", "10^9/L", dtc="2024-03-02"),        # a reading of that day
        lb(4, "WBC", "5.4", "10^9/L", dtc="2024-03-03T09"),     # hour only: the day, time not completed
        lb(5, "WBC", "5.5", "10^9/L", dtc="2024-03"),           # partial: quarantined, kept as given
        lb(6, "WBC", "5.6", "10^9/L", dtc="2024"),
        lb(7, "WBC", "5.7", "10^9/L", dtc="2024---05"),
        lb(8, "WBC", "5.8", "10^9/L", dtc=None),                # missing: the contract's validation says so
    ])
    assert [(r["_seq"], r["collected_at"]) for r in frame_rows(result, "serum_labs")] == [
        ("1", "2024-03-01T08:15:30"), ("2", "2024-03-01T08:15+02:00"), ("3", "2024-03-02"), ("4", "2024-03-03"),
        ("8", None)]
    assert quarantine(result) == [("serum_labs", n, "LBDTC", "partial_date", v)
                                  for n, v in ((5, "2024-03"), (6, "2024"), (7, "2024---05"))]


def test_partial_dates_where_the_contract_needs_the_day(tmp_path):
    config = CONFIG.model_copy(update={"infusion_from": "dm"})
    dm = read_both(tmp_path, "DM", [
        rec("DM", None, USUBJID="S1-001", SITEID="01", RFICDTC="2024-02", RFXSTDTC="2024-03-01", AGE=50, SEX="F",
            RFPENDTC="2024-09-01"),
        rec("DM", None, USUBJID="S1-002", SITEID="01", RFICDTC="2024-02-01", RFXSTDTC="2024-03", AGE=50, SEX="M",
            RFPENDTC="2024", DTHDTC="2024-08", DTHFL="Y"),
    ], config)
    assert quarantine(dm) == [("subjects", 1, "RFICDTC", "partial_date", "2024-02"),
                              ("subjects", 2, "RFXSTDTC", "partial_date", "2024-03"),
                              ("outcomes", 2, "DTHDTC", "partial_date", "2024-08")]
    assert frame_rows(dm, "outcomes")[0]["last_known_alive_on"] == "2024-09-01"
    cm = read_both(tmp_path, "CM", [rec("CM", 1, CMTRT="TOCILIZUMAB", CMSTDTC="2024-03", CMDOSE=8, CMDOSU="mg/kg")])
    assert quarantine(cm) == [("medications", 1, "CMSTDTC", "partial_date", "2024-03")]


# ---- LB: codes, units, censored texts -------------------------------------------------------------

def test_lab_codes_units_and_censored_texts(tmp_path):
    result = read_both(tmp_path, "LB", [
        lb(1, "WBC", "5.1", "10^9/L", stresc="5.1", stresn=5.1, stru="10^9/L"),
        lb(2, "PLAT", "150", "10^3/uL"),                              # an allowed unit, as delivered
        lb(3, "WBC", "4.2", "GI/L"),                                  # a spelling of 10^9/L
        lb(4, "LDH", "4", "ukat/L"),                                  # converted: x 60 U/L
        lb(5, "CRP", "<5", "mg/L", stresc="<5", stru="mg/L"),         # serum_labs has no censored value
        lb(6, "FERRITIN", "900", "pmol/L"),                           # no allowed unit
        lb(7, "CRP", "pending", "mg/L"),
        lb(8, "IL6", "<5", "pg/mL", stresc="<5", stru="pg/mL"),        # a cytokine: censored kept
        lb(9, "IL6", "1250.5", "ng/L"),                               # ng/L is pg/mL
        lb(10, "IL6", "12", "U/mL"),
        lb(11, "ALB", "4.1", "g/dL"),
        lb(12, "WBC", "3", "10^9/L", LBSPEC="URINE"),
        lb(13, "WBC", None, None, LBSTAT="NOT DONE"),
        lb(14, "NEUT", "2.9", "10^9/L", stresc="2900", stresn=2900, stru="/uL"),  # the standardised result wins
    ])
    labs = frame_rows(result, "serum_labs")
    assert [(r["_seq"], r["test"], r["value"], r["unit"]) for r in labs] == [
        ("1", "WBC", "5.1", "10^9/L"), ("2", "PLT", "150", "10^3/uL"), ("3", "WBC", "4.2", "10^9/L"),
        ("4", "LDH", "240", "U/L"), ("14", "ANC", "2900", "/uL")]
    cytokines = frame_rows(result, "serum_cytokines")
    assert [(r["sample_id"], r["analyte"], r["result"], r["unit"]) for r in cytokines] == [
        ("S1-001-LB8", "IL6", "<5", "pg/mL"), ("S1-001-LB9", "IL6", "1250.5", "pg/mL")]
    assert quarantine(result) == [("serum_labs", 5, "LBSTRESC", "censored_value", "<5"),
                                  ("serum_labs", 6, "LBORRESU", "unit_not_allowed", "pmol/L"),
                                  ("serum_labs", 7, "LBORRES", "not_a_number", "pending"),
                                  ("serum_cytokines", 10, "LBORRESU", "unit_not_allowed", "U/mL")]
    assert reasons(result) == [("serum_labs", 11, "LBTESTCD ALB not mapped"),
                               ("serum_labs", 12, "LBSPEC URINE: not a blood specimen"),
                               ("serum_labs", 13, "LBSTAT NOT DONE: no result")]
    assert result.counts == {"records": 14, "mapped": 7, "out_of_scope": 3, "quarantined": 4}


def test_study_lab_codes_replace_the_defaults(tmp_path):
    config = CONFIG.model_copy(update={"lab_codes": {"WBC": "WBC", "CXCL10": "IP10"}})
    result = read_both(tmp_path, "LB", [lb(1, "WBC", "5", "10^9/L"), lb(2, "CRP", "10", "mg/L"),
                                        lb(3, "CXCL10", "88", "pg/mL")], config)
    assert [r["test"] for r in frame_rows(result, "serum_labs")] == ["WBC"]
    assert [r["analyte"] for r in frame_rows(result, "serum_cytokines")] == ["IP10"]
    assert reasons(result) == [("serum_labs", 2, "LBTESTCD CRP not mapped")]


# ---- AE ------------------------------------------------------------------------------------------

def ae(seq, decod, grade=None, subject="S1-001", **more):
    return rec("AE", seq, USUBJID=subject, AETERM=(decod or "something").upper(), AEDECOD=decod, AETOXGR=grade,
               AESTDTC="2024-03-02", **more)


def test_ae_grades_to_toxicity_summaries(tmp_path):
    result = read_both(tmp_path, "AE", [
        ae(1, "Cytokine release syndrome", "2"),
        ae(2, "CYTOKINE RELEASE SYNDROME", "3"),          # the subject's highest: feeds the summary
        ae(3, "Immune effector cell-associated neurotoxicity syndrome", None),
        ae(4, "Headache", "1"),
        ae(5, "Cytokine release syndrome", "grade 2", subject="S1-002"),
        ae(6, "Cytokine release syndrome", None, subject="S1-003", AEOCCUR="N"),
        ae(7, None, "1"),
    ])
    summaries = frame_rows(result, "toxicity_summaries")
    assert [(r["subject_id"], r["toxicity"], r["criteria"], r["present"], r["max_grade"], r["_seq"])
            for r in summaries] == [
        ("S1-001", "CRS", "ASTCT2019", "true", "3", "2"),
        ("S1-001", "ICANS", "ASTCT2019", "true", None, "3"),
        ("S1-003", "CRS", "ASTCT2019", "false", None, "6")]
    assert reasons(result) == [("toxicity_summaries", 1, "another CRS record of S1-001: the summary is AESEQ 2"),
                               ("toxicity_summaries", 4, "AEDECOD 'Headache' not mapped"),
                               ("toxicity_summaries", 7, "AEDECOD blank and AETERM not a mapped term")]
    assert quarantine(result) == [("toxicity_summaries", 5, "AETOXGR", "invalid_grade", "grade 2")]


def test_ae_terms_and_criteria_from_the_study(tmp_path):
    config = CONFIG.model_copy(update={"ae_terms": {"Haemophagocytic lymphohistiocytosis": "IEC-HS"},
                                       "aetoxgr_criteria": "CTCAE5"})
    result = read_both(tmp_path, "AE", [ae(1, "haemophagocytic lymphohistiocytosis"), ae(2, "Cytokine release syndrome", "1")],
                       config)
    assert [(r["toxicity"], r["criteria"]) for r in frame_rows(result, "toxicity_summaries")] == [
        ("IEC-HS", "CTCAE5"), ("CRS", "CTCAE5")]


# ---- CM ------------------------------------------------------------------------------------------

def test_concomitant_medications(tmp_path):
    result = read_both(tmp_path, "CM", [
        rec("CM", 1, CMTRT="ACTEMRA", CMDECOD="TOCILIZUMAB", CMDOSE=8, CMDOSU="MG/KG", CMROUTE="INTRAVENOUS",
            CMINDC="CYTOKINE RELEASE SYNDROME", CMSTDTC="2024-03-02T10:00"),
        rec("CM", 2, CMTRT="DEXAMETHASONE SODIUM PHOSPHATE", CMDOSE=10, CMDOSU="MG", CMROUTE="INTRAVENOUS",
            CMINDC="ICANS", CMSTDTC="2024-03-03"),
        rec("CM", 3, CMTRT="KEPPRA", CMDOSE=500, CMDOSU="mg", CMROUTE="ORAL", CMINDC="SEIZURE PROPHYLAXIS",
            CMSTDTC="2024-03-01"),
        rec("CM", 4, CMTRT="ASPIRIN", CMDOSE=81, CMDOSU="mg", CMROUTE="ORAL", CMSTDTC="2024-03-01"),
        rec("CM", 5, CMTRT="SILTUXIMAB", CMOCCUR="N", CMSTDTC="2024-03-01"),
        rec("CM", 6, CMTRT="ANAKINRA", CMDOSE=100, CMDOSU="mg", CMROUTE="SUBCUTANEOUS", CMINDC="HLH",
            CMSTDTC="2024-03-04"),
    ])
    assert [(r["drug"], r["administered_at"], r["dose"], r["dose_unit"], r["route"], r["indication"])
            for r in frame_rows(result, "medications")] == [
        ("tocilizumab", "2024-03-02T10:00", "8", "mg/kg", "IV", "crs"),
        ("dexamethasone", "2024-03-03", "10", "mg", "IV", "icans"),
        ("levetiracetam", "2024-03-01", "500", "mg", "PO", "prophylaxis"),
        ("anakinra", "2024-03-04", "100", "mg", "SC", "other")]
    assert reasons(result) == [("medications", 4, "CMTRT 'ASPIRIN' not mapped"),
                               ("medications", 5, "CMOCCUR N: not given")]


# ---- RS: the trap --------------------------------------------------------------------------------

def rs_records():
    return [rec("RS", 1, RSTESTCD="HAMD101", RSSTRESC="1", RSDTC="2024-04-01"),
            rec("RS", 2, RSTESTCD="OVRLRESP", RSSTRESC="CR", RSDTC="2024-04-01"),
            rec("RS", 3, RSTESTCD="OVRLRESP", RSSTRESC="pr", RSDTC="2024-05-01T09:00"),
            rec("RS", 4, RSTESTCD="OVRLRESP", RSSTRESC="PD", RSDTC="2024-06")]


def test_rs_is_not_a_response_unless_the_study_names_the_test(tmp_path):
    default = read_both(tmp_path, "RS", rs_records())
    assert default.rows == {}
    assert [r for _, _, r in reasons(default)] == [
        "RSTESTCD HAMD101 not mapped (the study names no overall_response_test)",
        *["RSTESTCD OVRLRESP not mapped (the study names no overall_response_test)"] * 3]
    config = CONFIG.model_copy(update={"overall_response_test": "OVRLRESP"})
    named = read_both(tmp_path, "RS", rs_records(), config)
    assert [(r["assessed_on"], r["response"], r["criteria"]) for r in frame_rows(named, "response_assessments")] == [
        ("2024-04-01", "CR", "Lugano2014"), ("2024-05-01", "PR", "Lugano2014")]
    assert reasons(named) == [("response_assessments", 1, "RSTESTCD HAMD101 not mapped")]
    assert quarantine(named) == [("response_assessments", 4, "RSDTC", "partial_date", "2024-06")]


# ---- domains not used ----------------------------------------------------------------------------

def test_an_unused_domain_is_out_of_scope_record_by_record(tmp_path):
    result = read_both(tmp_path, "MH", [rec("MH", 1, MHTERM="HYPERTENSION"), rec("MH", 2, MHTERM="ASTHMA")])
    assert result.rows == {}
    assert reasons(result) == [("subjects", 1, "domain MH not used"), ("subjects", 2, "domain MH not used")]
    assert result.out_of_scope.locator.tolist() == ["s1/sdtm/mh.xpt, MH record 1 (MHSEQ 1)",
                                                    "s1/sdtm/mh.xpt, MH record 2 (MHSEQ 2)"]
    # A SUPPQUAL dataset has no DOMAIN column: its dataset name says what it is.
    supp = [{"STUDYID": "S1", "RDOMAIN": "LB", "USUBJID": "S1-001", "IDVAR": "LBSEQ", "IDVARVAL": "1",
             "QNAM": "LBFAST", "QVAL": "Y"}]
    result = read_both(tmp_path, "SUPPLB", supp)
    assert reasons(result) == [("subjects", 1, "domain SUPPLB not used")]


def test_domain_from_the_domain_column_over_the_dataset_name(tmp_path):
    # A split dataset (LBCH) is its DOMAIN.
    result = read_both(tmp_path, "LBCH", [lb(1, "CRP", "12", "mg/L")])
    assert [r["test"] for r in frame_rows(result, "serum_labs")] == ["CRP"]
    path = write_json(tmp_path / "mixed.json", "LB", [lb(1, "CRP", "1", "mg/L"), {**lb(2, "CRP", "1", "mg/L"), "DOMAIN": "VS"}])
    with pytest.raises(DeliveryRejected, match="several domains in one file"):
        read_sdtm(path, "s1/sdtm/mixed.json", CONFIG)


# ---- DM and EX: subjects, infusion, outcomes ------------------------------------------------------

def dm(subject, **more):
    values = {"USUBJID": subject, "SUBJID": subject[-3:], "SITEID": "01", "RFICDTC": "2024-02-01",
              "RFSTDTC": "2024-03-01", "RFXSTDTC": "2024-02-25", "RFPENDTC": "2024-09-01", "BRTHDTC": "1961-07-14",
              "AGE": 62, "AGEU": "YEARS", "SEX": "F", "ARMNRS": None, "DTHDTC": None, "DTHFL": None}
    return rec("DM", None, **{**values, **more})


def ex(seq, subject, treatment, start):
    return rec("EX", seq, USUBJID=subject, EXTRT=treatment, EXDOSE=1, EXSTDTC=start)


EX_RECORDS = [ex(1, "S1-001", "FLUDARABINE", "2024-02-25"), ex(2, "S1-001", "Kymriah", "2024-03-01T10:30"),
              ex(3, "S1-001", "KYMRIAH", "2024-03-15"), ex(4, "S1-003", "KYMRIAH", "2024-03")]


def test_subjects_with_the_infusion_from_ex(tmp_path):
    xpt = write_xpt(tmp_path / "ex.xpt", "EX", EX_RECORDS)
    infusions = infusion_dates(xpt, "s1/sdtm/ex.xpt", CONFIG)
    assert infusions == infusion_dates(write_json(tmp_path / "ex.json", "EX", EX_RECORDS), "ex.json", CONFIG)
    assert infusions == {"S1-001": "2024-03-01T10:30", "S1-003": "2024-03"}
    ex_file = read_both(tmp_path, "EX", EX_RECORDS)
    assert ex_file.rows == {}
    assert reasons(ex_file) == [
        ("subjects", 1, "EXTRT FLUDARABINE is not the infusion (KYMRIAH)"),
        ("subjects", 2, "the infusion: DM reads its date into subjects.infused_on"),
        ("subjects", 3, "a later EX record of KYMRIAH: the infusion is the subject's first"),
        ("subjects", 4, "the infusion: DM reads its date into subjects.infused_on")]

    result = read_both(tmp_path, "DM", [
        dm("S1-001"), dm("S1-002", ARMNRS="SCREEN FAILURE", RFXSTDTC=None), dm("S1-003"),
        dm("S1-004", AGE=30, AGEU="MONTHS", DTHDTC="2024-06-01", DTHFL="Y", RFPENDTC="2024-06-01"),
        dm("S1-005", DTHFL="Y", AGEU="DECADES"),
    ], infusions=infusions)
    assert [(r["subject_id"], r["site_id"], r["enrolled_on"], r["age_years"], r["sex"], r["disease"],
             r["car_t_product"], r["infused_on"], r["not_infused_reason"]) for r in frame_rows(result, "subjects")] == [
        ("S1-001", "01", "2024-02-01", "62", "F", "LBCL", "tisa-cel", "2024-03-01", None),
        ("S1-002", "01", "2024-02-01", "62", "F", "LBCL", None, None, "SCREEN FAILURE"),
        ("S1-004", "01", "2024-02-01", "2", "F", "LBCL", None, None, "no EX record of KYMRIAH")]
    assert [(r["subject_id"], r["died_on"], r["last_known_alive_on"]) for r in frame_rows(result, "outcomes")] == [
        ("S1-001", None, "2024-09-01"), ("S1-002", None, "2024-09-01"), ("S1-003", None, "2024-09-01"),
        ("S1-004", "2024-06-01", "2024-06-01")]
    assert quarantine(result) == [("subjects", 3, "EXSTDTC", "partial_date", "2024-03"),
                                  ("subjects", 5, "AGEU", "unit_not_convertible", "DECADES"),
                                  ("outcomes", 5, "DTHDTC", "death_without_date", None)]
    assert result.records == 10 and result.data_rows == 5
    assert frame_rows(result, "outcomes")[0]["_locator"] == "s1/sdtm/dm.xpt, DM record 1 (USUBJID S1-001), outcomes"
    # What the contract's validation then says of the subjects: all valid.
    frame = result.rows["subjects"]
    SOURCES["subjects"].schema_for().validate(
        pd.DataFrame({c: frame[c] if c in frame else None for c in SOURCES["subjects"].columns}), lazy=True)


def test_an_infusion_record_without_a_date(tmp_path):
    records = [ex(1, "S1-001", "KYMRIAH", None)]
    infusions = infusion_dates(write_xpt(tmp_path / "ex.xpt", "EX", records), "ex.xpt", CONFIG)
    assert infusions == {"S1-001": None}
    result = read_both(tmp_path, "DM", [dm("S1-001")], infusions=infusions)
    assert quarantine(result) == [("subjects", 1, "EXSTDTC", "infusion_without_date", None)]


def test_subjects_with_the_infusion_from_dm(tmp_path):
    config = CONFIG.model_copy(update={"infusion_from": "dm", "infusion_treatment": None})
    result = read_both(tmp_path, "DM", [dm("S1-001"), dm("S1-002", RFXSTDTC=None)], config)
    assert [(r["infused_on"], r["car_t_product"], r["not_infused_reason"]) for r in frame_rows(result, "subjects")] == [
        ("2024-02-25", "tisa-cel", None), (None, None, "no RFXSTDTC")]
    assert {r for _, _, r in reasons(read_both(tmp_path, "EX", EX_RECORDS, config))} == {
        "EX not used: the infusion date is DM RFXSTDTC (infusion_from: dm)"}


def test_settings_dm_and_ex_need(tmp_path):
    path = write_xpt(tmp_path / "dm.xpt", "DM", [dm("S1-001")])
    with pytest.raises(SdtmError, match="DM needs the infusion dates of the study's EX file"):
        read_sdtm(path, "s1/sdtm/dm.xpt", CONFIG)
    for key in ("disease", "product"):
        with pytest.raises(SdtmError, match=rf"adapters.sdtm.{key}: DM needs"):
            read_sdtm(path, "s1/sdtm/dm.xpt", CONFIG.model_copy(update={key: None}), infusions={})
    no_treatment = CONFIG.model_copy(update={"infusion_treatment": None})
    with pytest.raises(SdtmError, match="adapters.sdtm.infusion_treatment: name the EXTRT"):
        read_sdtm(write_xpt(tmp_path / "ex.xpt", "EX", EX_RECORDS), "s1/sdtm/ex.xpt", no_treatment)
    with pytest.raises(SdtmError, match="calendar studies only"):
        read_sdtm(path, "s1/sdtm/dm.xpt", CONFIG, time_mode="relative", infusions={})
    with pytest.raises(SdtmError, match="domain LB, not EX"):
        infusion_dates(write_xpt(tmp_path / "lb.xpt", "LB", [lb(1, "WBC", "1", "10^9/L")]), "lb.xpt", CONFIG)


# ---- identifying variables -----------------------------------------------------------------------

def test_identifying_variables_are_dropped_on_read(tmp_path):
    secrets = ("1961-07-14", "ACC-99812", "DR WHO")
    records = [dm("S1-001", BRTHDTC="1961-07-14", INVNAM="DR WHO")]
    for path in (write_xpt(tmp_path / "dm.xpt", "DM", records), write_json(tmp_path / "dm.json", "DM", records)):
        data = read_dataset(path, path.name)
        assert "BRTHDTC" not in data.columns and "INVNAM" not in data.columns
        result = read_sdtm(path, path.name, CONFIG, infusions={})
        text = repr(accounting(result)) + repr(data.rows)
        assert not any(s in text for s in secrets)
    labs = [lb(1, "WBC", "5", "10^9/L", LBREFID="ACC-99812"), lb(2, "WBC", "x", "10^9/L", LBREFID="ACC-99812")]
    for path in (write_xpt(tmp_path / "lb.xpt", "LB", labs), write_json(tmp_path / "lb.json", "LB", labs)):
        result = read_sdtm(path, path.name, CONFIG)
        text = repr(accounting(result)) + repr(result.rows) + repr(read_dataset(path, path.name).rows)
        assert "ACC-99812" not in text and "LBREFID" not in text


# ---- the records equation, formats, rejections ----------------------------------------------------

def test_the_records_equation_over_every_outcome(tmp_path):
    records = [lb(1, "WBC", "5", "10^9/L"), lb(2, "ALB", "4", "g/dL"), lb(3, "CRP", "<1", "mg/L"),
               lb(4, "PLAT", "200", "10^9/L", dtc="2024"), lb(5, "IL6", "7", "pg/mL")]
    result = read_both(tmp_path, "LB", records)
    c = result.counts
    assert c == {"records": 5, "mapped": 2, "out_of_scope": 1, "quarantined": 2}
    assert c["records"] == c["mapped"] + c["out_of_scope"] + c["quarantined"]
    # Every record is in exactly one place, under its own locator.
    places = [*(loc for f in result.rows.values() for loc in f["_locator"]), *result.out_of_scope["locator"],
              *result.quarantine["locator"]]
    assert sorted(places) == sorted(f"s1/sdtm/lb.xpt, LB record {n} (LBSEQ {n})" for n in range(1, 6))


def test_ndjson_reads_as_json(tmp_path):
    records = [vs(1, "TEMP", "98.6", "F"), vs(2, "SYSBP", "120", "mmHg")]
    a = read_sdtm(write_json(tmp_path / "vs.json", "VS", records), "vs.json", CONFIG)
    b = read_sdtm(write_ndjson(tmp_path / "vs.ndjson", "VS", records), "vs.ndjson", CONFIG)
    assert accounting(a) == accounting(b)


def test_json_decimals_as_strings_read_as_numbers(tmp_path):
    meta, rows = _json_doc("VS", [vs(1, "TEMP", "37", "C", 37.0, "C")])
    for column, row in zip(meta["columns"], zip(*rows)):
        if column["name"] == "VSSTRESN":
            column["dataType"] = "decimal"
    rows = [[("37.00" if c["name"] == "VSSTRESN" else v) for c, v in zip(meta["columns"], r)] for r in rows]
    path = tmp_path / "vs.json"
    path.write_text(json.dumps({**meta, "rows": rows}), encoding="utf-8")
    assert frame_rows(read_sdtm(path, "vs.json", CONFIG), "vitals")[0]["temperature_c"] == "37"


@pytest.mark.parametrize("name, content, message", [
    ("lb.csv", "a,b\n", "unsupported file type '.csv'"),
    ("lb.json", "{not json", "not valid JSON"),
    ("lb.json", json.dumps({"datasetJSONVersion": "1.0.0", "columns": [], "rows": []}), "not Dataset-JSON 1.1"),
    ("lb.json", json.dumps({"datasetJSONVersion": "1.1.0", "name": "LB", "columns": [{"name": "A"}],
                            "rows": [[1, 2]]}), "row 1 has 2 values for 1 columns"),
    ("lb.json", json.dumps({"datasetJSONVersion": "1.1.0", "name": "LB", "records": 3, "columns": [{"name": "A"}],
                            "rows": [[1]]}), "says 3 records but holds 1 rows"),
    ("lb.xpt", "not a transport file", "not a readable SAS transport file"),
])
def test_unreadable_files_are_rejected(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DeliveryRejected, match=message):
        read_sdtm(path, f"s1/sdtm/{name}", CONFIG)


# ---- study.yml -----------------------------------------------------------------------------------

def test_the_example_study_file_and_its_sdtm_keys(tmp_path):
    config = read_study_file(EXAMPLE, "cdisc_msg/study.yml")
    sdtm = config.adapters.sdtm
    assert config.time_mode == "calendar" and "zanomaline" in config.products
    assert (sdtm.infusion_treatment, sdtm.infusion_from, sdtm.product, sdtm.disease) == (
        "ZANOMALINE", "ex", "zanomaline", "other")
    assert sdtm.lab_codes == {"WBC": "WBC", "PLAT": "PLT"} and sdtm.overall_response_test is None
    bad = tmp_path / "study.yml"
    bad.write_text("title: x\nadapters:\n  sdtm:\n    ae_terms: {Fever: FEVER}\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"x/study.yml: adapters.sdtm.ae_terms.Fever: Input should be 'CRS'"):
        read_study_file(bad, "x/study.yml")
    bad.write_text("title: x\nadapters:\n  sdtm:\n    lab_codes: {WBC: wbc}\n", encoding="utf-8")
    with pytest.raises(StudyFileError, match=r"adapters.sdtm.lab_codes: Value error, WBC: 'wbc' must be"):
        read_study_file(bad, "x/study.yml")


# ---- the CDISC SDTM-MSG package, read in place ----------------------------------------------------

def _real(stem: str) -> Path:
    if not REAL.is_dir():
        print(f"\nCDISC SDTM-MSG files not present at {REAL}: real-data tests skipped")
        pytest.skip(f"{REAL} is not present (licensed test data, read in place, never in the repo)")
    return REAL / stem


def _sas(stem: str) -> pd.DataFrame:
    """The XPT read independently of the adapter (pandas' own SAS reader, not pyreadstat)."""
    frame = pd.read_sas(_real(f"{stem}.xpt"), format="xport", encoding="utf-8")
    return frame.apply(lambda s: s.str.strip() if s.dtype == object else s)


@pytest.fixture(scope="module")
def real_config():
    return read_study_file(EXAMPLE, "cdisc_msg/study.yml").adapters.sdtm


@pytest.fixture(scope="module")
def real_results(real_config):
    """Every domain present in both formats, read from each: {stem: {suffix: MappedFile}}."""
    if not REAL.is_dir():
        return {}
    stems = sorted({p.stem for p in REAL.glob("*.xpt")} & {p.stem for p in REAL.glob("*.json")})
    infusions = {s: infusion_dates(REAL / f"ex.{s}", f"cdisc_msg/sdtm/ex.{s}", real_config) for s in ("xpt", "json")}
    return {stem: {s: read_sdtm(REAL / f"{stem}.{s}", f"cdisc_msg/sdtm/{stem}.{s}", real_config,
                                infusions=infusions[s]) for s in ("xpt", "json")} for stem in stems}


def test_real_xpt_and_json_give_identical_rows_on_every_domain(real_results):
    _real("dm")
    assert {"dm", "ex", "vs", "lb", "ae", "cm", "rs"} <= set(real_results)
    for stem, both in real_results.items():
        assert accounting(both["xpt"]) == accounting(both["json"]), stem
        for result in both.values():
            assert result.balanced, stem
            assert result.records == result.data_rows * (2 if stem == "dm" else 1)


def test_real_dm_gives_its_18_subjects(real_results, real_config):
    sas = _sas("dm")
    result = real_results["dm"]["xpt"]
    subjects = result.rows["subjects"]
    assert len(subjects) == sas["USUBJID"].nunique() == 18
    assert subjects["subject_id"].tolist() == sas["USUBJID"].tolist()
    assert subjects["enrolled_on"].tolist() == sas["RFICDTC"].tolist()
    assert subjects["age_years"].tolist() == [str(int(a)) for a in sas["AGE"]]
    # Infused: the subjects with a ZANOMALINE exposure (placebo and the screen failure are not).
    ex_sas = _sas("ex")
    first = ex_sas[ex_sas["EXTRT"] == "ZANOMALINE"].groupby("USUBJID")["EXSTDTC"].min()
    infused = subjects.dropna(subset=["infused_on"])
    assert dict(zip(infused["subject_id"], infused["infused_on"])) == first.to_dict()
    assert set(infused["car_t_product"]) == {"zanomaline"}
    assert len(result.quarantine) == 0
    outcomes = result.rows["outcomes"]
    assert sorted(outcomes.dropna(subset=["died_on"])["subject_id"]) == sorted(sas.loc[sas["DTHFL"] == "Y", "USUBJID"])
    # Birth dates were never read.
    births = set(sas["BRTHDTC"].dropna()) - {""}
    assert births and not any(v in births for f in result.rows.values() for v in f.drop(columns="_locator").values.ravel())
    config = read_study_file(EXAMPLE, "x").products
    frame = pd.DataFrame({c: subjects[c] if c in subjects else None for c in SOURCES["subjects"].columns})
    SOURCES["subjects"].schema_for(products=config).validate(frame, lazy=True)


def test_real_vs_all_temperatures_in_celsius(real_results):
    sas = _sas("vs")
    temp = sas[sas["VSTESTCD"] == "TEMP"]
    assert len(temp) == 144 and set(temp["VSORRESU"]) == {"F"}
    for result in real_results["vs"].values():
        vitals = result.rows["vitals"]
        taken = vitals.dropna(subset=["temperature_c"])
        assert len(taken) == len(temp)
        celsius = taken["temperature_c"].astype(float)
        assert celsius.between(30, 45).all()
        expected = ((temp["VSORRES"].astype(float) - 32) * 5 / 9).to_numpy()
        assert (abs(celsius.to_numpy() - expected) <= 0.006).all()
        assert taken["_seq"].astype(int).tolist() == temp["VSSEQ"].astype(int).tolist()
        sysbp = sas[sas["VSTESTCD"] == "SYSBP"]
        assert vitals["systolic_bp_mmhg"].notna().sum() == len(sysbp)
        others = sas[~sas["VSTESTCD"].isin(["TEMP", "SYSBP", "OXYSAT"])]
        assert sorted(result.out_of_scope["reason"]) == sorted(f"VSTESTCD {c} not mapped" for c in others["VSTESTCD"])


def test_real_lb_wbc_and_platelets_in_10e9_per_litre(real_results):
    sas = _sas("lb")
    cells = sas[sas["LBTESTCD"].isin(["WBC", "PLAT"])]
    assert len(cells) == 212
    for result in real_results["lb"].values():
        labs = result.rows.get("serum_labs", pd.DataFrame(columns=["test", "unit", "value", "_seq"]))
        held = result.quarantine
        assert len(labs) + len(held) == len(cells)
        assert set(labs["unit"]) == {"10^9/L"} and set(labs["test"]) == {"WBC", "PLT"}
        # --SEQ is unique within a subject: (USUBJID, LBSEQ) names a record.
        by_seq = dict(zip(zip(cells["USUBJID"], cells["LBSEQ"].astype(int)), cells["LBSTRESN"]))
        assert len(by_seq) == len(cells)
        assert all(math.isclose(float(v), by_seq[(u, int(s))], rel_tol=1e-12)
                   for u, s, v in zip(labs["subject_id"], labs["_seq"], labs["value"]))
        others = sas[~sas["LBTESTCD"].isin(["WBC", "PLAT"])]
        assert sorted(result.out_of_scope["reason"]) == sorted(f"LBTESTCD {c} not mapped" for c in others["LBTESTCD"])
        assert "serum_cytokines" not in result.rows


def test_real_rs_is_not_taken_as_response(real_results):
    sas = _sas("rs")
    for result in real_results["rs"].values():
        assert result.rows == {}
        assert len(result.out_of_scope) == len(sas) == 375
        assert set(result.out_of_scope["source"]) == {"response_assessments"}


def test_real_unused_domains_and_ex_are_accounted(real_results):
    for stem in ("ds", "dd", "mh", "sv", "ts", "ie"):
        if stem in real_results:
            result = real_results[stem]["xpt"]
            assert set(result.out_of_scope["reason"]) == {f"domain {stem.upper()} not used"}
            assert len(result.out_of_scope) == len(_sas(stem))
    ex_result = real_results["ex"]["xpt"]
    assert ex_result.rows == {} and len(ex_result.out_of_scope) == len(_sas("ex"))
