"""Studies at ingest (studies-and-inputs.md): the landing layout, study.yml validation, relative
time and the three new contract sources, on real DuckDB files and the real ingest code.

Each test writes a small landing folder and loads it with lib/ingest (what the ingest assets
call); expectations are the spec's rules applied by hand to the rows written.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.ingest.load import load_source
from dagster_project.lib.ingest.store import record_studies
from dagster_project.lib.ingest.studies import read_landing
from dagster_project.settings import Settings
from schemas.contract import DATE_IN_RELATIVE_STUDY, DAY_IN_CALENDAR_STUDY, SOURCES

SUBJECTS_HEADER = "subject_id,site_id,enrolled_on,age_years,sex,weight_kg,disease,car_t_product,infused_on,not_infused_reason"
VITALS_HEADER = "subject_id,recorded_at,temperature_c,systolic_bp_mmhg,vasopressors,o2_device"


def _write(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _load_all(landing_dir: Path, db: Path, default_study: str = "default"):
    landing = read_landing(landing_dir, default_study)
    with duckdb.connect(str(db)) as con:
        record_studies(con, landing)
        for source in SOURCES.values():
            load_source(con, source, landing)
    return landing


def _calendar_subjects(folder: Path, *ids: str) -> None:
    _write(folder / "subjects" / "s.csv", SUBJECTS_HEADER,
           *(f"{i},site01,2021-01-01,60,F,70,LBCL,axi-cel,2021-01-10," for i in ids))


# ---- layout -------------------------------------------------------------------------------------

def test_same_subject_id_in_two_studies_is_two_subjects(tmp_path):
    landing = tmp_path / "landing"
    _calendar_subjects(landing, "S01", "S02")  # the default study
    _calendar_subjects(landing / "trial-b", "S01")
    _write(landing / "trial-b" / "vitals" / "v.csv", VITALS_HEADER,
           "S01,2021-01-11T08:00,38.5,120,,room_air", "S02,2021-01-11T08:00,38.5,120,,room_air")  # S02 is not trial-b's
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select _study_id, subject_id from raw.subjects order by 1, 2").fetchall() == [
            ("default", "S01"), ("default", "S02"), ("trial-b", "S01")]
        assert con.execute("select _study_id, subject_id from raw.vitals").fetchall() == [("trial-b", "S01")]
        assert con.execute("select study_id, file_name, rule, value from raw.quarantine").fetchall() == [
            ("trial-b", "trial-b/vitals/v.csv", "unknown_subject", "S02")]


def test_unknown_folders_and_files_are_reported_not_read(tmp_path):
    landing = tmp_path / "landing"
    _calendar_subjects(landing, "S01")
    _write(landing / "Not A Study" / "x.csv", "a")
    _write(landing / "notes.txt", "hello")
    _calendar_subjects(landing / "b1", "S01")
    _write(landing / "b1" / "labs" / "x.csv", "a")  # not a source or a format
    found = read_landing(landing, "default")
    assert [s.study_id for s in found.studies] == ["default", "b1"]
    assert set(found.unknown) == {"Not A Study/", "notes.txt", "b1/labs/"}


def test_default_study_id_is_a_setting():
    assert Settings.from_env({}).default_study == "default"
    assert Settings.from_env({"WAREHOUSE_DEFAULT_STUDY": "site-a"}).default_study == "site-a"
    for bad in ("Site A", "vitals", "x"):
        with pytest.raises(ValueError, match="WAREHOUSE_DEFAULT_STUDY"):
            Settings.from_env({"WAREHOUSE_DEFAULT_STUDY": bad})


# ---- study.yml ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key, words", [
    ("title: T\ntime_zone: UTC\n", "time_zone", "unknown key"),
    ("title: T\ntime_mode: days\n", "time_mode", "'calendar' or 'relative'"),
    ("title: T\ntoxicity_criteria: [ASTCT2019, Lee2015]\n", "toxicity_criteria[1]", "ASTCT2019"),
    ("title: T\nresponse_criteria: Lugano2014\n", "response_criteria", "tuple"),
    ("title: [1, 2]\n", "title", "string"),
    ("time_mode: relative\n", "title", "required"),
    ("title: T\nsite_timezone: Mars/Olympus\n", "site_timezone", "IANA"),
    ("title: T\nadapters: {mapped: {maping: m.yml}}\n", "adapters.mapped.maping", "unknown key"),
    ("title: T\n  bad: indent\n", None, "not valid YAML"),
])
def test_a_bad_study_file_is_one_error_naming_file_and_key_and_only_that_study_waits(tmp_path, text, key, words):
    landing = tmp_path / "landing"
    _calendar_subjects(landing / "good", "S01")
    _calendar_subjects(landing / "bad", "S01")
    _write(landing / "bad" / "study.yml", text.rstrip("\n"))
    found = _load_all(landing, tmp_path / "w.duckdb")
    [problem] = found.invalid
    assert problem.study_id == "bad"
    assert problem.message.startswith("bad/study.yml: "), problem.message
    if key:
        assert problem.message.startswith(f"bad/study.yml: {key}: "), problem.message
    assert words in problem.message and "\n" not in problem.message
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select distinct _study_id from raw.subjects order by 1").fetchall() == [("default",), ("good",)] \
            or con.execute("select distinct _study_id from raw.subjects order by 1").fetchall() == [("good",)]
        assert con.execute("select status, message from raw.studies where study_id = 'bad'").fetchone() == (
            "invalid", problem.message)


def test_declared_vocabularies_are_the_study_s_own(tmp_path):
    landing = tmp_path / "landing"
    _write(landing / "t1" / "study.yml", "title: T1", "products: [CD22 CAR T]", "diseases: [T-ALL]",
           "analytes: {MIP1A: [MIP-alpha], IL99: [IL-99]}")
    _write(landing / "t1" / "subjects" / "s.csv", SUBJECTS_HEADER,
           "S01,site01,2021-01-01,8,M,,T-ALL,CD22 CAR T,2021-01-10,")
    cytokines = ["sample_id,subject_id,collected_at,analyte,result,unit,lloq,uloq,plate_id,assay",
                 "A1,S01,2021-01-11T08:00,MIP-alpha,10,pg/mL,,,P1,x",
                 "A1,S01,2021-01-11T08:00,IL-99,10,pg/mL,,,P1,x"]
    _write(landing / "t1" / "serum_cytokines" / "c.csv", *cytokines)
    # the same rows in a study that declares nothing: product, disease and both analytes refused
    _write(landing / "subjects" / "s.csv", SUBJECTS_HEADER, "S01,site01,2021-01-01,8,M,,T-ALL,CD22 CAR T,2021-01-10,")
    _write(landing / "serum_cytokines" / "c.csv", *cytokines)
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select disease, car_t_product from raw.subjects where _study_id = 't1'").fetchall() == [
            ("T-ALL", "CD22 CAR T")]
        assert con.execute("select analyte, _analyte_as_delivered from raw.serum_cytokines order by 1").fetchall() == [
            ("IL99", "IL-99"), ("MIP1A", "MIP-alpha")]
        refused = con.execute("select source, column_name, value from raw.quarantine where study_id = 'default' "
                              "order by 1, 2").fetchall()
    assert ("subjects", "car_t_product", "CD22 CAR T") in refused and ("subjects", "disease", "T-ALL") in refused
    # an undeclared analyte is still quarantined, never guessed
    assert ("serum_cytokines", "analyte", "IL-99") in refused and ("serum_cytokines", "analyte", "MIP-alpha") in refused


# ---- relative time -------------------------------------------------------------------------------

def _relative_study(landing: Path) -> Path:
    folder = landing / "rel"
    _write(folder / "study.yml", "title: Relative", "time_mode: relative")
    _write(folder / "subjects" / "s.csv", "subject_id,site_id,age_years,sex,disease,car_t_product,infused",
           "S01,s1,,U,LBCL,axi-cel,true", "S02,s1,,U,LBCL,,false", "S03,s1,,U,LBCL,axi-cel,")
    return folder


def test_relative_time_takes_study_days_and_quarantines_dates_per_row(tmp_path):
    landing = tmp_path / "landing"
    folder = _relative_study(landing)
    _write(folder / "vitals" / "v.csv", VITALS_HEADER + ",study_day",
           "S01,,38.5,120,,room_air,1.25",                 # a study day: accepted
           "S01,2021-01-11T08:00,38.9,120,,room_air,",     # a date in a relative study
           "S01,2021-01-12T08:00,39.0,120,,room_air,2",    # both: the date is still a date
           "S01,,37.0,120,,room_air,")                     # neither
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select subject_id, infused from raw.subjects order by 1").fetchall() == [
            ("S01", "true"), ("S02", "false")]
        rules = con.execute("select source, row_number, column_name, rule from raw.quarantine order by 1, 2, 4").fetchall()
        assert con.execute("select study_day, recorded_at, temperature_c from raw.vitals").fetchall() == [(1.25, None, 38.5)]
    assert ("subjects", 3, "infused", "not_nullable") in rules  # relative subjects say whether infused
    assert ("vitals", 2, "recorded_at", DATE_IN_RELATIVE_STUDY) in rules
    assert ("vitals", 3, "recorded_at", DATE_IN_RELATIVE_STUDY) in rules
    assert ("vitals", 4, "study_day", "not_nullable") in rules


def test_a_calendar_study_quarantines_study_days(tmp_path):
    landing = tmp_path / "landing"
    _calendar_subjects(landing, "S01")
    _write(landing / "serum_labs" / "l.csv", "subject_id,collected_at,test,value,unit,study_day",
           "S01,2021-01-11T08:00,CRP,10,mg/L,", "S01,2021-01-12T08:00,CRP,12,mg/L,2")
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select value from raw.serum_labs").fetchall() == [(10.0,)]
        assert con.execute("select row_number, column_name, rule, value from raw.quarantine").fetchall() == [
            (2, "study_day", DAY_IN_CALENDAR_STUDY, "2")]


# ---- the new sources -------------------------------------------------------------------------------

def test_toxicity_summaries_rules(tmp_path):
    landing = tmp_path / "landing"
    folder = _relative_study(landing)
    _write(folder / "toxicity_summaries" / "t.csv", "subject_id,toxicity,criteria,present,max_grade,onset_day",
           "S01,CRS,ASTCT2019,true,2,3",
           "S01,CRS,Lee2014,yes,1,3",
           "S01,IEC-HS,ASTCT2019,1,,",        # presence only: no grade required
           "S02,CRS,ASTCT2019,false,2,",      # says absent with grade 2
           "S01,HLH,ASTCT2019,true,,",        # not a toxicity of the contract
           "S01,ICANS,ASTCT2019,maybe,,",     # not a yes/no
           "S01,ICANS,CTCAE5,false,6,")       # grade above 5
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        kept = con.execute("select subject_id, toxicity, criteria, present, max_grade from raw.toxicity_summaries "
                           "order by 2, 3").fetchall()
        rules = {(r, c) for r, c in con.execute(
            "select row_number, rule from raw.quarantine where source = 'toxicity_summaries'").fetchall()}
    assert kept == [("S01", "CRS", "ASTCT2019", "true", 2), ("S01", "CRS", "Lee2014", "yes", 1),
                    ("S01", "IEC-HS", "ASTCT2019", "1", None)]
    assert {r for r, _ in rules} == {4, 5, 6, 7}
    assert (4, "present_agrees_with_max_grade") in rules


def test_subject_attributes_and_samples(tmp_path):
    landing = tmp_path / "landing"
    folder = _relative_study(landing)
    _write(folder / "subject_attributes" / "a.csv", "subject_id,attribute,value",
           "S01,dose_level,2", "S01,prior_hct,yes", "S01,dose_level,3", "S09,dose_level,1")
    _write(folder / "samples" / "m.csv", "sample_label,subject_id,specimen,study_day",
           "L-001,S01,serum,0.5", "L-002,S01,urine,1", "L-003,S01,csf,")
    _load_all(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select attribute, value from raw.subject_attributes order by 1").fetchall() == [
            ("prior_hct", "yes")]
        assert con.execute("select sample_label, specimen, study_day from raw.samples").fetchall() == [
            ("L-001", "serum", 0.5)]
        rules = con.execute("select source, row_number, rule from raw.quarantine where source <> 'subjects' "
                            "order by 1, 2, 3").fetchall()
    assert rules == [
        ("samples", 2, "isin(['serum', 'csf', 'plasma'])"), ("samples", 3, "not_nullable"),
        ("subject_attributes", 1, "conflicting_duplicate"), ("subject_attributes", 3, "conflicting_duplicate"),
        ("subject_attributes", 4, "unknown_subject"),
    ]
