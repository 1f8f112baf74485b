"""Biomarker staging and marts on a real warehouse file built by a real `dbt build`.

A tiny hand-written raw dataset (inserted the way the ingest step stores rows: delivered text,
delivery sha256, file name, row number, received time) goes through the biomarker models;
every expected number below is computed by hand from it. Rules checked:
- sources.md, "Cytokine analytes and results": the censored forms and their limits;
- marts.md, "Harmonized units" (dbt/seeds/unit_conversions.csv);
- sources.md, "Where files land": a later delivery of the same natural key wins;
- sources.md, "Times" / "Study time": UTC conversion and study day from the local date;
- derivations.md, "Cytokine kinetics": substitution rule, baseline, fold change, peak, AUC;
- studies-and-inputs.md, "Studies" / "Relative time": a subject is (study, subject_id), a study's
  own site time zone, a relative study's study days (fraction kept, windows on whole days).
The dbt `unit_tests:` in the model ymls cover the mart logic on mocked inputs; this file covers
what they cannot (staging reads sources through the versioned_rows macro). Rows belong to the
default study (`_study_id`), which raw.studies does not describe: its time zone is
WAREHOUSE_SITE_TIMEZONE.
"""

from __future__ import annotations

import datetime
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.ingest.store import create_all_tables
from dagster_project.lib.transform.project import dbt_cli_vars

REPO = Path(__file__).resolve().parents[1]
DBT_DIR = REPO / "dbt"
# audit_lineage is downstream of the kinetics but also of the toxicity models, which this slice
# does not build (tests/test_explain.py covers it)
SELECT = ["--select", "+fct_cytokine_kinetics+", "unit_conversions", "--exclude", "audit_lineage+",
          "--indirect-selection", "cautious"]
SITE_TZ = "America/New_York"

D1 = ("d1", "2024-02-01.csv", "2024-02-01 00:00:00")  # first delivery of each source
D2 = ("d2", "2024-03-01.csv", "2024-03-01 00:00:00")  # a later correcting delivery

SUBJECTS = [
    # subject_id, infused_on
    ("P01", "2024-01-10"),
    ("P02", "2024-02-01"),
    ("P03", None),  # not infused
]

# sample_id, subject_id, collected_at (as delivered), analyte, result, unit, lloq, uloq, delivery
SERUM_CYTOKINES = [
    ("S0", "P01", "2024-01-08T09:00:00", "IL6", "<2.0", "pg/mL", 2.3, 10000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IL6", "12.5", "pg/mL", 2.3, 10000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IL10", "<1.6", "pg/mL", 1.5, 10000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IL1B", "< 0.8", "pg/mL", 0.7, 8000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IFNG", "OOR <", "ng/mL", 0.005, 10, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IL2", "> 10", "ng/mL", 0.005, 10, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "TNFA", ">9000", "pg/mL", 2.8, 10000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "MCP1", "OOR >", "pg/mL", 2.5, 20000, D1),
    ("S1", "P01", "2024-01-10T22:30:00", "IL8", "*4.56", "ng/mL", 0.002, 15, D1),
    ("S2", "P01", "2024-01-11T01:00:00+02:00", "IL6", "100", "pg/mL", 2.3, 10000, D1),  # superseded
    ("S2", "P01", "2024-01-11T01:00:00+02:00", "IL6", "0.2", "ng/mL", 0.0023, 10, D2),
    ("S3", "P01", "2024-01-13T08:00:00", "IL6", "OOR >", "pg/mL", 2.3, 10000, D1),
    ("S9", "P02", "2024-02-04T08:00:00", "IL6", "50", "pg/mL", 2.3, 10000, D1),
    ("S8", "P03", "2024-02-04T08:00:00", "IL6", "7", "pg/mL", 2.3, 10000, D1),
]

# subject_id, collected_at, test, value, unit, delivery
SERUM_LABS = [
    ("P01", "2024-01-12T08:00:00", "CRP", 9.9, "mg/L", D1),  # superseded (key normalised: T vs space)
    ("P01", "2024-01-12 08:00:00", "CRP", 1.5, "mg/dL", D2),
    ("P01", "2024-01-12T08:00:00", "FERRITIN", 500, "ug/L", D1),
    ("P01", "2024-01-12T08:00:00", "ANC", 1500, "/uL", D1),
    ("P01", "2024-01-12T08:00:00", "PLT", 120, "10^3/uL", D1),
    ("P01", "2024-01-12T08:00:00", "WBC", 4.2, "10^9/L", D1),
    ("P01", "2024-01-12T08:00:00", "FIBRINOGEN", 3.5, "g/L", D1),
    ("P01", "2024-01-12T08:00:00", "DDIMER", 850, "ng/mL FEU", D1),
    ("P01", "2024-01-12T08:00:00", "LDH", 250, "U/L", D1),
]

# sample_id, subject_id, collected_at, wbc, rbc, protein, glucose
CSF_SAMPLES = [
    ("L0", "P01", "2024-01-05T10:00:00", 1, None, 30.5, 60),
    ("L1", "P01", "2024-01-09T10:00:00", 0, 10, 35, None),
    ("L2", "P01", "2024-01-15T10:00:00", 12, None, 50, None),
    ("L3", "P01", "2024-01-16T10:00:00", None, None, None, None),  # every measurement empty
]

CSF_CYTOKINES = [
    ("C1", "P01", "2024-01-15T10:00:00Z", "IL6", "< 0.5", "pg/mL", 0.4, 1000, D1),
    ("C1", "P01", "2024-01-15T10:00:00Z", "IL8", "OOR >", "ng/mL", 0.002, 15, D1),
    ("C1", "P01", "2024-01-15T10:00:00Z", "MCP1", "0.25", "ng/mL", 0.0025, 20, D1),
]


def _insert(con, table: str, columns: list[str], rows: list[tuple], study: str = "default") -> None:
    cols = columns + ["_study_id", "_delivery_sha256", "_file_name", "_row_number", "_received_at", "_loaded_at"]
    marks = ", ".join("?" for _ in cols)
    for n, row in enumerate(rows, start=1):
        *values, (sha, name, received) = row
        con.execute(
            f'insert into raw."{table}" ({", ".join(cols)}) values ({marks})',
            [*values, study, sha, name, n, received, received],
        )


def _write_raw(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        create_all_tables(con)
        _insert(
            con, "subjects",
            ["subject_id", "site_id", "enrolled_on", "age_years", "sex", "disease", "car_t_product", "infused_on"],
            [(s, "site01", "2023-12-01", 60, "F", "LBCL", "axi-cel" if d else None, d, D1) for s, d in SUBJECTS],
        )
        cyto_cols = ["sample_id", "subject_id", "collected_at", "analyte", "result", "unit", "lloq", "uloq"]
        _insert(con, "serum_cytokines", cyto_cols, SERUM_CYTOKINES)
        _insert(con, "csf_cytokines", cyto_cols, CSF_CYTOKINES)
        _insert(con, "serum_labs", ["subject_id", "collected_at", "test", "value", "unit"], SERUM_LABS)
        _insert(
            con, "csf_samples",
            ["sample_id", "subject_id", "collected_at", "wbc_per_ul", "rbc_per_ul", "protein_mg_dl", "glucose_mg_dl"],
            [(*r, D1) for r in CSF_SAMPLES],
        )


def _dbt(args: list[str], db: Path, work: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("dbt")
    env = {
        **os.environ,
        "WAREHOUSE_DB_PATH": str(db),
        "WAREHOUSE_SITE_TIMEZONE": SITE_TZ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [str(exe), *args, *([] if "--vars" in args else dbt_cli_vars()), "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        cwd=DBT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("dbt_biomarkers")
    db = work / "warehouse.duckdb"
    _write_raw(db)
    proc = _dbt(["build", *SELECT], db, work)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return db


def _query(db: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _rows_by(db: Path, sql: str, key: str) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        frame = con.execute(sql).df()
    return {k: rec for k, rec in zip(frame[key], frame.to_dict("records"))}


# ---- staging: censoring, limits, units, corrections, time --------------------------------------

EXPECTED_SERUM_S1 = {
    # analyte: (censoring, value pg/mL, lloq pg/mL, uloq pg/mL) -- sources.md censored forms
    "IL6": ("none", 12.5, 2.3, 10000.0),
    "IL10": ("below_lloq", 1.6, 1.5, 10000.0),       # "<1.6": the number written is the limit
    "IL1B": ("below_lloq", 0.8, 0.7, 8000.0),        # "< 0.8"
    "IFNG": ("below_lloq", 5.0, 5.0, 10000.0),       # "OOR <": lloq 0.005 ng/mL x 1000
    "IL2": ("above_uloq", 10000.0, 5.0, 10000.0),    # "> 10" ng/mL x 1000
    "TNFA": ("above_uloq", 9000.0, 2.8, 10000.0),    # ">9000"
    "MCP1": ("above_uloq", 20000.0, 2.5, 20000.0),   # "OOR >": the row's uloq
    "IL8": ("extrapolated", 4560.0, 2.0, 15000.0),   # "*4.56" ng/mL x 1000
}


def test_cytokine_censoring_limits_and_units(built):
    got = _rows_by(built, "select * from staging.stg_serum__cytokines where sample_id = 'S1'", "analyte")
    assert set(got) == set(EXPECTED_SERUM_S1)
    for analyte, (censoring, value, lloq, uloq) in EXPECTED_SERUM_S1.items():
        row = got[analyte]
        assert row["censoring"] == censoring, analyte
        assert row["value"] == pytest.approx(value, rel=1e-12), analyte
        assert row["lloq"] == pytest.approx(lloq, rel=1e-12), analyte
        assert row["uloq"] == pytest.approx(uloq, rel=1e-12), analyte
        assert row["unit"] == "pg/mL"


def test_cytokine_time_zone_and_study_day(built):
    rows = _query(
        built,
        "select sample_id, cast(collected_at as varchar), cast(local_date as varchar), study_day"
        " from staging.stg_serum__cytokines where analyte = 'IL6' and subject_id = 'P01' order by sample_id",
    )
    assert rows == [
        ("S0", "2024-01-08 14:00:00", "2024-01-08", -2),  # naive = New York (EST, UTC-5)
        ("S1", "2024-01-11 03:30:00", "2024-01-10", 0),
        ("S2", "2024-01-10 23:00:00", "2024-01-11", 1),  # offset +02:00; day from the date as written
        ("S3", "2024-01-13 13:00:00", "2024-01-13", 3),
    ]


def test_correction_supersedes_and_converts(built):
    s2 = _query(
        built,
        "select value, unit, unit_as_delivered, delivery_sha256 from staging.stg_serum__cytokines where sample_id = 'S2'",
    )
    assert s2 == [(200.0, "pg/mL", "ng/mL", "d2")]  # 0.2 ng/mL from the later delivery
    crp = _query(built, "select value, unit, delivery_sha256 from staging.stg_serum__labs where test = 'CRP'")
    assert crp == [(15.0, "mg/L", "d2")]  # 1.5 mg/dL x 10, the earlier 9.9 mg/L superseded


def test_key_delivered_three_times_and_twice_in_one_file(tmp_path):
    """The latest delivery wins, then the later row of the same file; the audit ranks the rest
    (2 = replaced once, 3 = twice). Only repeated keys are ranked (macros/current_versions.sql):
    a key delivered once is current without a rank of its own."""
    d3 = ("d3", "2024-04-01.csv", "2024-04-01 00:00:00")
    labs = [
        ("P01", "2024-01-12T08:00:00", "CRP", 1.0, "mg/L", D1),
        ("P01", "2024-01-12 08:00:00", "crp", 2.0, "mg/L", D2),   # same key: case and T normalised
        ("P01", "2024-01-12T08:00:00", "CRP", 3.0, "mg/L", d3),   # current
        ("P01", "2024-01-13T08:00:00", "LDH", 100, "U/L", D1),
        ("P01", "2024-01-13T08:00:00", "LDH", 200, "U/L", D1),    # same file, later row: current
        ("P01", "2024-01-14T08:00:00", "LDH", 300, "U/L", D1),    # delivered once
    ]
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        create_all_tables(con)
        _insert(
            con, "subjects",
            ["subject_id", "site_id", "enrolled_on", "age_years", "sex", "disease", "car_t_product", "infused_on"],
            [("P01", "site01", "2023-12-01", 60, "F", "LBCL", "axi-cel", "2024-01-10", D1)],
        )
        _insert(con, "serum_labs", ["subject_id", "collected_at", "test", "value", "unit"], labs)
    proc = _dbt(["build", "--select", "stg_serum__labs", "audit_superseded_rows", "stg_clinical__subjects",
                 "stg_ingest__studies", "unit_conversions", "--indirect-selection", "cautious"], db, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:]
    current = _query(db, "select test, local_date, value, delivery_sha256 from staging.stg_serum__labs order by all")
    assert [(t, str(d), v, sha) for t, d, v, sha in current] == [
        ("CRP", "2024-01-12", 3.0, "d3"), ("LDH", "2024-01-13", 200.0, "d1"), ("LDH", "2024-01-14", 300.0, "d1")]
    audit = _query(db, "select delivery_sha256, row_number, version_rank from audit.superseded_rows"
                       " where source = 'serum_labs' order by all")
    assert audit == [("d1", 1, 3), ("d1", 4, 2), ("d2", 2, 2)]


EXPECTED_LABS = {
    # test: (harmonized value, unit) -- marts.md "Harmonized units", unit_conversions seed
    "CRP": (15.0, "mg/L"),              # 1.5 mg/dL x 10
    "FERRITIN": (500.0, "ng/mL"),       # 500 ug/L x 1
    "ANC": (1.5, "10^9/L"),             # 1500 /uL x 0.001
    "PLT": (120.0, "10^9/L"),           # 120 10^3/uL x 1
    "WBC": (4.2, "10^9/L"),             # identity
    "FIBRINOGEN": (350.0, "mg/dL"),     # 3.5 g/L x 100
    "DDIMER": (0.85, "ug/mL FEU"),      # 850 ng/mL FEU x 0.001
    "LDH": (250.0, "U/L"),              # identity
}


def test_lab_unit_harmonization(built):
    got = _rows_by(built, "select * from staging.stg_serum__labs", "test")
    assert set(got) == set(EXPECTED_LABS)
    for test, (value, unit) in EXPECTED_LABS.items():
        assert got[test]["value"] == pytest.approx(value, rel=1e-12), test
        assert got[test]["unit"] == unit, test
        assert got[test]["study_day"] == 2


def test_csf_cytokines_parsed_like_serum(built):
    got = _rows_by(built, "select * from staging.stg_csf__cytokines", "analyte")
    assert (got["IL6"]["censoring"], got["IL6"]["value"]) == ("below_lloq", 0.5)
    assert (got["IL8"]["censoring"], got["IL8"]["value"]) == ("above_uloq", pytest.approx(15000.0))
    assert (got["MCP1"]["censoring"], got["MCP1"]["value"]) == ("none", pytest.approx(250.0))
    assert {r["study_day"] for r in got.values()} == {5}


# ---- fct_biomarker_results ------------------------------------------------------------------


def test_every_current_measurement_is_one_row(built):
    counts = dict(_query(built, "select source, count(*) from marts.fct_biomarker_results group by source"))
    assert counts == {
        "serum_cytokines": len(SERUM_CYTOKINES) - 1,  # one superseded
        "serum_labs": len(SERUM_LABS) - 1,            # one superseded
        "csf_samples": 3 + 3 + 2 + 0,                 # non-empty measurements; L3 has none
        "csf_cytokines": len(CSF_CYTOKINES),
    }
    csf = _query(
        built,
        "select sample_id, analyte, value, unit from marts.fct_biomarker_results"
        " where source = 'csf_samples' order by sample_id, analyte",
    )
    assert csf == [
        ("L0", "GLUCOSE", 60.0, "mg/dL"), ("L0", "PROTEIN", 30.5, "mg/dL"), ("L0", "WBC", 1.0, "/uL"),
        ("L1", "PROTEIN", 35.0, "mg/dL"), ("L1", "RBC", 10.0, "/uL"), ("L1", "WBC", 0.0, "/uL"),
        ("L2", "PROTEIN", 50.0, "mg/dL"), ("L2", "WBC", 12.0, "/uL"),
    ]


def test_substitution_rule_default(built):
    got = _rows_by(
        built,
        "select analyte, censoring, value, analysis_value, substitution_rule from marts.fct_biomarker_results"
        " where sample_id = 'S1'",
        "analyte",
    )
    expected = {  # lloq_half_uloq: below -> limit / 2, above -> limit, extrapolated as is
        "IL6": 12.5, "IL10": 0.8, "IL1B": 0.4, "IFNG": 2.5, "IL2": 10000.0, "TNFA": 9000.0,
        "MCP1": 20000.0, "IL8": 4560.0,
    }
    for analyte, value in expected.items():
        assert got[analyte]["analysis_value"] == pytest.approx(value, rel=1e-12), analyte
    rules = _query(built, "select distinct substitution_rule from marts.fct_biomarker_results")
    assert rules == [("lloq_half_uloq",)]


def test_baseline_and_fold_change(built):
    il6 = _query(
        built,
        "select sample_id, study_day, analysis_value, baseline_value, fold_change"
        " from marts.fct_biomarker_results where analyte = 'IL6' and specimen = 'serum' order by subject_id, sample_id",
    )
    # P01: baseline = S1 (day 0, last on -14..0) = 12.5; S0 "<2.0" -> 1.0
    assert il6[:4] == [
        ("S0", -2, 1.0, 12.5, pytest.approx(0.08)),
        ("S1", 0, 12.5, 12.5, pytest.approx(1.0)),
        ("S2", 1, pytest.approx(200.0), 12.5, pytest.approx(16.0)),
        ("S3", 3, 10000.0, 12.5, pytest.approx(800.0)),
    ]
    assert il6[4] == ("S9", 3, 50.0, None, None)      # P02: no sample on days -14..0
    assert il6[5] == ("S8", None, 7.0, None, None)    # P03: not infused, no study day
    wbc = _query(
        built,
        "select sample_id, baseline_value, fold_change from marts.fct_biomarker_results"
        " where specimen = 'csf' and analyte = 'WBC' order by sample_id",
    )
    assert wbc == [("L0", 0.0, None), ("L1", 0.0, None), ("L2", 0.0, None)]  # baseline 0 -> no fold


# ---- fct_cytokine_kinetics ---------------------------------------------------------------------


def test_kinetics_il6(built):
    got = _rows_by(
        built, "select * from marts.fct_cytokine_kinetics where analyte = 'IL6' and specimen = 'serum'", "subject_id"
    )
    assert set(got) == {"P01", "P02"}  # P03 was never infused
    p01 = got["P01"]
    assert p01["baseline_value"] == 12.5
    assert (p01["peak_value"], p01["peak_day"]) == (10000.0, 3)  # S3 "OOR >" -> uloq 10000
    # days 0, 1, 3: 1 * (12.5 + 200) / 2 + 2 * (200 + 10000) / 2 = 106.25 + 10200
    assert p01["auc_d0_d14"] == pytest.approx(10306.25, rel=1e-12)
    assert p01["peak_fold_change"] == pytest.approx(800.0)
    assert (p01["n_samples"], p01["n_censored"], p01["n_extrapolated"]) == (4, 2, 0)
    assert p01["substitution_rule"] == "lloq_half_uloq"
    p02 = got["P02"]
    assert (p02["peak_value"], p02["peak_day"], p02["n_samples"]) == (50.0, 3, 1)
    assert p02["auc_d0_d14"] is None or math.isnan(p02["auc_d0_d14"])  # one sampled day
    assert p02["peak_fold_change"] is None or math.isnan(p02["peak_fold_change"])


# ---- the rule is configurable ------------------------------------------------------------------


def test_other_substitution_rule(built, tmp_path):
    db = tmp_path / "rule.duckdb"
    shutil.copy(built, db)
    proc = _dbt(
        ["run", "--select", "int_biomarker_measurements", "fct_biomarker_results",
         *dbt_cli_vars(substitution_rule="lloq_sqrt2_uloq")],
        db, tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    rows = dict(_query(
        db,
        "select analyte, analysis_value from marts.fct_biomarker_results where sample_id = 'S1'"
        " and analyte in ('IL10', 'IL2')",
    ))
    assert rows["IL10"] == pytest.approx(1.6 / math.sqrt(2), rel=1e-12)
    assert rows["IL2"] == pytest.approx(10000.0)
    assert _query(db, "select distinct substitution_rule from marts.fct_biomarker_results") == [("lloq_sqrt2_uloq",)]


def test_unknown_substitution_rule_fails_loudly(built, tmp_path):
    db = tmp_path / "bad.duckdb"
    shutil.copy(built, db)
    proc = _dbt(
        ["run", "--select", "int_biomarker_measurements", *dbt_cli_vars(substitution_rule="lloq_zero")],
        db, tmp_path,
    )
    assert proc.returncode != 0
    assert "lloq_zero" in proc.stdout and "is not one of" in proc.stdout


# ---- several studies: a subject is (study, subject_id); relative time; a study's time zone -----


def _study(con, study_id: str, **settings) -> None:
    """A valid study in raw.studies, its settings as the ingest stores them (StudyConfig as JSON)."""
    from schemas.study import StudyConfig

    config = StudyConfig(title=study_id, **settings)
    con.execute(
        "insert into raw.studies values (?, ?, ?, ?, null, 'valid', null, timestamp '2024-03-01 00:00:00')",
        [study_id, config.title, config.time_mode, config.model_dump_json()],
    )


def test_studies_apart_relative_time_and_a_study_time_zone(tmp_path):
    """The same subject and sample ids in three studies stay three subjects (every join on the
    study); study `tokyo` reads its naive times in its own site_timezone (Asia/Tokyo, not
    WAREHOUSE_SITE_TIMEZONE); the relative study `rel` gives study days and no dates: its subject is
    infused by its flag (`Yes`, any case), its collection times and dates stay null, study_day keeps
    the fraction, and baseline, peak and AUC use whole days (hand-computed below)."""
    db = tmp_path / "warehouse.duckdb"
    cyto_cols = ["sample_id", "subject_id", "collected_at", "analyte", "result", "unit", "lloq", "uloq"]
    subject_cols = ["subject_id", "site_id", "enrolled_on", "age_years", "sex", "disease", "car_t_product", "infused_on"]
    with duckdb.connect(str(db)) as con:
        create_all_tables(con)
        _study(con, "tokyo", site_timezone="Asia/Tokyo")
        _study(con, "rel", time_mode="relative")
        for study, result in (("default", "10"), ("tokyo", "20")):
            _insert(con, "subjects", subject_cols,
                    [("P01", "site01", "2023-12-01", 60, "F", "LBCL", "axi-cel", "2024-01-10", D1)], study=study)
            _insert(con, "serum_cytokines", cyto_cols,
                    [("S1", "P01", "2024-01-10T22:30:00", "IL6", result, "pg/mL", 2.3, 10000, D1)], study=study)
        _insert(con, "subjects", ["subject_id", "site_id", "age_years", "sex", "disease", "car_t_product", "infused"],
                [("P01", "site01", 60, "U", "LBCL", "axi-cel", "Yes", D1)], study="rel")
        _insert(con, "serum_cytokines", [*cyto_cols, "study_day"], [
            ("S1", "P01", None, "IL6", "4", "pg/mL", 2.3, 10000, -0.5, D1),    # day -1: the baseline
            ("S2", "P01", None, "IL6", "30", "pg/mL", 2.3, 10000, 1.25, D1),   # day 1
            ("S3", "P01", None, "IL6", "50", "pg/mL", 2.3, 10000, 1.75, D1),   # day 1
            ("S4", "P01", None, "IL6", "100", "pg/mL", 2.3, 10000, 3.5, D1),   # day 3: the peak
        ], study="rel")
    proc = _dbt(["build", "--select", "+fct_cytokine_kinetics+", "unit_conversions", "dim_subjects",
                 "--exclude", "audit_lineage+", "--indirect-selection", "cautious"], db, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:]
    subjects = _query(db, "select study_id, subject_id, is_infused, infused_on from marts.dim_subjects order by 1")
    assert subjects == [("default", "P01", True, datetime.date(2024, 1, 10)), ("rel", "P01", True, None),
                        ("tokyo", "P01", True, datetime.date(2024, 1, 10))]
    rows = _query(db, """select study_id, sample_id, cast(collected_at as varchar), local_date, study_day, baseline_value
                         from marts.fct_biomarker_results order by 1, 2""")
    assert rows == [
        ("default", "S1", "2024-01-11 03:30:00", datetime.date(2024, 1, 10), 0, 10.0),  # New York, UTC-5
        ("rel", "S1", None, None, -0.5, 4.0),
        ("rel", "S2", None, None, 1.25, 4.0),
        ("rel", "S3", None, None, 1.75, 4.0),
        ("rel", "S4", None, None, 3.5, 4.0),
        ("tokyo", "S1", "2024-01-10 13:30:00", datetime.date(2024, 1, 10), 0, 20.0),  # Tokyo, UTC+9
    ]
    kinetics = _rows_by(db, "select * from marts.fct_cytokine_kinetics where study_id = 'rel'", "subject_id")["P01"]
    # whole days 1 (mean of 30 and 50 = 40) and 3 (100): AUC = 2 * (40 + 100) / 2 = 140
    assert (kinetics["peak_value"], kinetics["peak_day"], kinetics["n_samples"]) == (100.0, 3, 4)
    assert kinetics["auc_d0_d14"] == pytest.approx(140.0)
    assert kinetics["peak_fold_change"] == pytest.approx(25.0)
