"""The sdtm and bioplex adapters through the whole pipeline (issue 16 acceptance), the README's
steps: `examples/studies/cdisc_msg` with the CDISC SDTM files (.xpt) in its `sdtm/` folder and
`examples/studies/bioplex_demo` with the Bio-Plex export in its `bioplex/` folder, one
`warehouse run`. Expected numbers come from the source files, read here with pandas and
python-calamine, never from the warehouse. Skipped, with the reason printed, without ../shared.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import SHARED, run_landing

SDTM = SHARED / "realdata" / "sdtm_cdisc_msg"
BIOPLEX = SHARED / "realdata" / "bioplex_labkey"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "studies"

if not (SDTM.is_dir() and BIOPLEX.is_dir()):
    print(f"\nSDTM / Bio-Plex pipeline test skipped: {SDTM} or {BIOPLEX} is not present")
    pytest.skip("the real SDTM and Bio-Plex inputs of ../shared/realdata are not present", allow_module_level=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """(serving file, the run's console output)."""
    root = tmp_path_factory.mktemp("sdtm_bioplex")
    landing = root / "landing"
    shutil.copytree(EXAMPLES / "cdisc_msg", landing / "cdisc_msg")
    (landing / "cdisc_msg" / "sdtm").mkdir()
    for path in SDTM.glob("*.xpt"):
        shutil.copy2(path, landing / "cdisc_msg" / "sdtm" / path.name)
    shutil.copytree(EXAMPLES / "bioplex_demo", landing / "bioplex_demo")
    (landing / "bioplex_demo" / "bioplex").mkdir()
    for path in BIOPLEX.glob("*.xls"):
        shutil.copy2(path, landing / "bioplex_demo" / "bioplex" / path.name)
    code, output = run_landing(root)
    assert code == 0, output[-4000:]
    return root / "serving.duckdb", output


@pytest.fixture(scope="module")
def serving(run):
    return run[0]


def _query(serving, sql):
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_cdisc_subjects_temperatures_and_leukocytes(serving):
    dm = pd.read_sas(SDTM / "dm.xpt", format="xport", encoding="latin-1")
    vs = pd.read_sas(SDTM / "vs.xpt", format="xport", encoding="latin-1")
    lb = pd.read_sas(SDTM / "lb.xpt", format="xport", encoding="latin-1")
    assert _query(serving, "select count(*) from marts.dim_subjects where study_id = 'cdisc_msg'") == [(dm["USUBJID"].nunique(),)]
    assert dm["USUBJID"].nunique() == 18
    with duckdb.connect(str(serving).replace("serving", "warehouse"), read_only=True) as con:
        temps = con.execute("select temperature_c from raw.vitals where _study_id = 'cdisc_msg' "
                            "and temperature_c is not null").fetchall()
        labs = con.execute("select count(*) from raw.serum_labs where _study_id = 'cdisc_msg'").fetchone()[0]
        quarantined = con.execute("select count(distinct row_number) from raw.quarantine where study_id = 'cdisc_msg' "
                                  "and source = 'serum_labs'").fetchone()[0]
    assert len(temps) == int((vs["VSTESTCD"] == "TEMP").sum()) == 144
    assert all(30 <= t <= 45 for (t,) in temps)
    wbc_plat = int(lb["LBTESTCD"].isin(["WBC", "PLAT"]).sum())
    assert wbc_plat == 212 and labs + quarantined == wbc_plat
    assert _query(serving, "select distinct unit from marts.fct_biomarker_results where study_id = 'cdisc_msg'") == [("10^9/L",)]
    # RS is a questionnaire: no response is taken from it
    assert _query(serving, "select count(*) from marts.fct_subject_endpoints where study_id = 'cdisc_msg' "
                           "and best_response_d100 <> 'NE'") == [(0,)]
    for records, accepted, quarantined, out in _query(serving, """select rows_delivered, rows_accepted,
            rows_quarantined, rows_out_of_scope from audit.deliveries where study_id = 'cdisc_msg'"""):
        assert records == accepted + quarantined + out


def test_bioplex_results_through_the_manifest(serving):
    rows = _query(serving, """select censoring, count(*) from marts.fct_biomarker_results
        where study_id = 'bioplex_demo' group by 1 order by 1""")
    assert dict(rows) == {"below_lloq": 115, "extrapolated": 227, "none": 441}
    assert _query(serving, "select count(distinct analyte), count(collected_at) "
                           "from marts.fct_biomarker_results where study_id = 'bioplex_demo'") == [(27, 0)]
    [(records, accepted, quarantined, out)] = _query(serving, """select rows_delivered, rows_accepted,
        rows_quarantined, rows_out_of_scope from audit.deliveries where study_id = 'bioplex_demo' and source = 'bioplex'""")
    assert (accepted, quarantined) == (783, 0) and records == accepted + out
    reasons = dict(_query(serving, "select reason, count(*) from audit.out_of_scope where study_id = 'bioplex_demo' "
                                   "group by 1"))
    assert sum(n for r, n in reasons.items() if "***" in r) == 270


def test_figures_of_record_per_foreign_file(run):
    """Issue 16, item 5: `warehouse run` prints, and audit.deliveries holds, per foreign file its
    records read, mapped, out of scope by reason and quarantined by rule; counted here from the
    XPT files themselves."""
    serving, output = run
    lb = pd.read_sas(SDTM / "lb.xpt", format="xport", encoding="latin-1")
    vs = pd.read_sas(SDTM / "vs.xpt", format="xport", encoding="latin-1")
    for domain in ("lb", "vs", "ae", "mh"):
        n = len(pd.read_sas(SDTM / f"{domain}.xpt", format="xport", encoding="latin-1"))
        line = next(l for l in output.splitlines() if l.strip().startswith(f"cdisc_msg/sdtm/{domain}.xpt (sdtm):"))
        figures = re.findall(r"([\d,]+) (?:rows|records|mapped|out of scope|quarantined)", line)
        rows, records, mapped, out, quarantined = (int(x.replace(",", "")) for x in figures)
        assert rows == records == n, line  # one contract record per SDTM record in these domains
        assert records == mapped + out + quarantined, line
        if domain == "lb":
            assert mapped + quarantined == int(lb["LBTESTCD"].isin(["WBC", "PLAT"]).sum()) == 212, line
        if domain == "vs":
            assert mapped == int(vs["VSTESTCD"].isin(["TEMP", "SYSBP", "OXYSAT"]).sum()) and quarantined == 0, line
        if domain in ("ae", "mh"):
            assert out == n, line
    [(reasons, rules)] = _query(serving, """select out_of_scope_reasons, quarantine_rules from audit.deliveries
        where study_id = 'cdisc_msg' and file_name = 'cdisc_msg/sdtm/lb.xpt'""")
    counts = lb.loc[~lb["LBTESTCD"].isin(["WBC", "PLAT"]), "LBTESTCD"].value_counts()
    for code, n in counts.items():
        assert f"LBTESTCD {code} not mapped: {n}" in reasons
    # the dated-before-consent WBC/PLAT records, under their rule and column
    assert rules.startswith("before_enrollment (collected_at): ") and "out of scope: LBTESTCD" in output
    [(vs_reasons,)] = _query(serving, """select out_of_scope_reasons from audit.deliveries
        where study_id = 'cdisc_msg' and file_name = 'cdisc_msg/sdtm/vs.xpt'""")
    other = vs.loc[~vs["VSTESTCD"].isin(["TEMP", "SYSBP", "OXYSAT"]), "VSTESTCD"].value_counts()
    assert vs_reasons == "; ".join(f"VSTESTCD {c} not mapped: {n}" for c, n in
                                   sorted(other.items(), key=lambda item: (-item[1], f"VSTESTCD {item[0]}")))


@pytest.fixture(scope="module")
def json_serving(tmp_path_factory):
    """The same study from the Dataset-JSON files of the CDISC package instead of the XPT ones."""
    root = tmp_path_factory.mktemp("sdtm_json")
    landing = root / "landing"
    shutil.copytree(EXAMPLES / "cdisc_msg", landing / "cdisc_msg")
    (landing / "cdisc_msg" / "sdtm").mkdir()
    for path in SDTM.glob("*.json"):
        shutil.copy2(path, landing / "cdisc_msg" / "sdtm" / path.name)
    code, output = run_landing(root)
    assert code == 0, output[-4000:]
    return root / "serving.duckdb"


# What differs between two deliveries of the same records: the files' bytes, names and times.
DELIVERY_COLUMNS = ("delivery_sha256", "file_name", "received_at", "loaded_at", "size_bytes", "message",
                    "quarantined_at", "read_at", "last_delivery_at", "published_at")
# lineage columns naming a delivered file (`peak_file_name`; `best_response_row`: a struct with
# it; `counted_rows`: a list of such structs)
LINEAGE_FILE_COLUMNS = ("best_response_row", "counted_rows")


def _compared(column: str) -> bool:
    return not column.endswith(DELIVERY_COLUMNS) and column not in LINEAGE_FILE_COLUMNS


def test_json_and_xpt_packages_give_the_same_warehouse(serving, json_serving):
    """Issue 16, item 4, through the whole pipeline: every marts and audit table of the study is
    the same from the .json files as from the .xpt files (but for the delivery's bytes and name)."""
    tables = _query(serving, """select table_schema, table_name from information_schema.tables
        where table_schema in ('marts', 'audit') order by 1, 2""")
    compared = 0
    for schema, table in tables:
        columns = [c for (c,) in _query(serving, f"""select column_name from information_schema.columns
            where table_schema = '{schema}' and table_name = '{table}' order by ordinal_position""")]
        if "study_id" not in columns:
            continue
        # a locator names its file (`cdisc_msg/sdtm/cm.xpt, CM record 1 (CMSEQ 1)`): compared without the extension
        kept = ", ".join(r"regexp_replace(locator, '\.(xpt|json),', ',')" if c == "locator" else f'"{c}"'
                         for c in columns if _compared(c))
        sql = f"select {kept} from {schema}.{table} where study_id = 'cdisc_msg' order by all"
        assert _query(serving, sql) == _query(json_serving, sql), f"{schema}.{table}"
        compared += 1
    assert compared >= 15
    # the files themselves: one per domain, the same figures
    figures = """select regexp_extract(file_name, '/(\\w+)\\.\\w+$', 1), data_rows, rows_delivered, rows_accepted,
                        rows_out_of_scope, rows_quarantined from audit.deliveries where study_id = 'cdisc_msg' order by 1"""
    assert _query(serving, figures) == _query(json_serving, figures)
    assert len(_query(json_serving, figures)) == len(list(SDTM.glob("*.json")))
