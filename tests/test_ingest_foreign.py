"""Foreign files at ingest (studies-and-inputs.md, "Adapters"): a mapped export through the real
ingest into raw tables, its accounting per file, and what happens when the mapping does not fit.

The mapping's own error paths (every rule of the YAML) are tests/test_adapter_mapped.py; here,
what the warehouse records: the rows, the counts, the rejection and its retry.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.lib.ingest.load import load_source
from dagster_project.lib.ingest.studies import read_landing
from schemas.contract import SOURCES

EXPORT = """patient,day,crp,crp_day,hlh
P1,0,3.5,0.25,0
P1,7,,7.5,0
P2,0,80,0.3,1
P2,7,Hemolyzed,7.2,1
P3,0,2,0.1,7
"""

MAPPING = """files:
  - match: "export*.csv"
    outputs:
      - source: subjects
        columns:
          subject_id: {column: patient}
          site_id: {value: s1}
          sex: {value: U}
          disease: {value: B-ALL}
          car_t_product: {value: axi-cel}
          infused: {value: "true"}
      - source: serum_labs
        skip_when_blank: [crp]
        columns:
          subject_id: {column: patient}
          test: {value: CRP}
          value: {column: crp}
          unit: {value: mg/L}
          study_day: {column: crp_day}
      - source: toxicity_summaries
        columns:
          subject_id: {column: patient}
          toxicity: {value: IEC-HS}
          criteria: {value: ASTCT2019}
          present: {column: hlh, codes: {"0": "false", "1": "true"}}
    ignore: [day]
"""


def _study(landing: Path, mapping: str = MAPPING) -> Path:
    folder = landing / "t1"
    (folder / "mapped").mkdir(parents=True)
    (folder / "study.yml").write_text("title: T1\ntime_mode: relative\nadapters: {mapped: {mapping: mapping.yml}}\n")
    (folder / "mapping.yml").write_text(mapping)
    (folder / "mapped" / "export_1.csv").write_text(EXPORT)
    return folder


def _load(landing: Path, db: Path) -> None:
    found = read_landing(landing, "default")
    assert not found.invalid and not found.unknown, (found.invalid, found.unknown)
    with duckdb.connect(str(db)) as con:
        for source in SOURCES.values():
            load_source(con, source, found)


def test_a_mapped_export_feeds_three_sources_and_every_record_is_counted(tmp_path):
    landing = tmp_path / "landing"
    _study(landing)
    _load(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("select subject_id, infused from raw.subjects order by 1").fetchall() == [
            ("P1", "true"), ("P2", "true"), ("P3", "true")]
        assert con.execute("select subject_id, value, study_day, _row_number from raw.serum_labs order by 1").fetchall() == [
            ("P1", 3.5, 0.25, 1), ("P2", 80.0, 0.3, 3), ("P3", 2.0, 0.1, 5)]
        assert con.execute("select subject_id, present from raw.toxicity_summaries order by 1").fetchall() == [
            ("P1", "false"), ("P2", "true")]
        log = con.execute("""select source, rows_delivered, rows_accepted, rows_quarantined, rows_out_of_scope,
                                    data_rows, adapter from raw.deliveries order by source""").fetchall()
        quarantine = con.execute("select source, row_number, locator, column_name, rule, value from raw.quarantine "
                                 "order by source").fetchall()
        out = con.execute("select source, row_number, reason from raw.out_of_scope").fetchall()
    # 5 rows x 3 outputs = 15 records: subjects 3 mapped, 2 identical repeats (the long file
    # repeats its subjects); labs 3 mapped, 1 blank, 1 `Hemolyzed`; summaries 2 mapped,
    # 2 identical repeats, 1 code 7 not in the table.
    assert log == [("serum_labs", 5, 3, 1, 1, 5, "mapped"), ("subjects", 5, 3, 0, 2, 5, "mapped"),
                   ("toxicity_summaries", 5, 2, 1, 2, 5, "mapped")]
    assert sorted(out) == [("serum_labs", 2, "no value in crp")] + [
        (s, r, "identical to an earlier record of this file (counted once)")
        for s, r in (("subjects", 2), ("subjects", 4), ("toxicity_summaries", 2), ("toxicity_summaries", 4))]
    [labs, summaries] = quarantine
    assert labs[:2] == ("serum_labs", 4) and labs[3:] == ("value", "coerce_dtype('float64')", "Hemolyzed")
    assert summaries[:2] == ("toxicity_summaries", 5) and summaries[4:] == ("unmapped_code", "7")
    for _, row, locator, *_ in quarantine:
        assert locator.startswith("t1/mapped/export_1.csv") and f"row {row}" in locator


def test_a_mapping_that_does_not_fit_rejects_the_file_until_the_mapping_is_fixed(tmp_path):
    landing = tmp_path / "landing"
    folder = _study(landing, MAPPING.replace("{column: crp}", "{column: crp_mg_l}"))
    db = tmp_path / "w.duckdb"
    _load(landing, db)
    with duckdb.connect(str(db), read_only=True) as con:
        [(status, message, records)] = con.execute(
            "select status, message, rows_delivered from raw.deliveries").fetchall()
        assert con.execute("select count(*) from raw.serum_labs").fetchone() == (0,)
    assert status == "rejected" and records == 0
    assert "t1/mapping.yml" in message and "crp_mg_l" in message and "export_1.csv" in message
    # The same run again changes nothing; a fixed mapping reads the file.
    _load(landing, db)
    (folder / "mapping.yml").write_text(MAPPING)
    _load(landing, db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select status, count(*) from raw.deliveries group by 1").fetchall() == [("loaded", 3)]
        assert con.execute("select count(*) from raw.serum_labs").fetchone() == (3,)


def test_a_study_with_mapped_files_but_no_mapping_rejects_them(tmp_path):
    landing = tmp_path / "landing"
    folder = _study(landing)
    (folder / "study.yml").write_text("title: T1\ntime_mode: relative\n")
    (folder / "mapping.yml").unlink()
    _load(landing, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        [(status, message)] = con.execute("select status, message from raw.deliveries").fetchall()
    assert status == "rejected" and "names no mapped settings" in message and "t1/study.yml" in message
