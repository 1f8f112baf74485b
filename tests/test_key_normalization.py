"""One rule for comparing natural keys, in both engines that apply it.

Ingest (Python, lib/ingest/duplicates.py) uses it to find duplicate rows inside a delivery; dbt
(macro `normalized_key` in dbt/macros/current_versions.sql) to pick the current version of a key
across deliveries. The rule: text stripped of whitespace (Python's str.strip), upper-cased, and in
datetime columns (`*_at`) the `T` separator equals a space. This test applies both engines to one
corpus of key values and requires that they agree on which keys are the same, pair by pair; the
SQL is the macro as dbt compiles it, run in DuckDB.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.lib.ingest.duplicates import normalized_codes
from dagster_project.lib.transform.project import dbt_cli_vars
from schemas.contract import SOURCES

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).parent / "dbt"
SOURCE = SOURCES["serum_labs"]  # key: subject_id, collected_at (a datetime), test

# (subject_id, collected_at, test): the pairs of rows the engines must agree on include case,
# surrounding whitespace (ASCII and Unicode), the `T` separator in and outside a datetime, nulls.
CORPUS = [
    ("P01", "2023-01-01T08:00:00", "CRP"),
    ("p01", "2023-01-01 08:00:00", "crp"),
    (" P01\t", "2023-01-01t08:00:00 ", " CRP"),
    ("P01", "2023-01-01T08:00:00", "CRP\u00a0"),
    ("\u2003P01", "2023-01-01T08:00:00", "CRP"),
    ("PT01", "2023-01-01T08:00:00", "CRP"),
    ("P 01", "2023-01-01T08:00:00", "CRP"),
    ("P01", "2023-01-01T08:00:00", "T"),
    ("P01", "2023-01-01T08:00:00", " "),
    ("P01", "2023-01-01T08:00:00", None),
    ("P01", "2023-01-01T08:00:01", "CRP"),
    ("P01", None, "CRP"),
    ("P01", "2023-01-01 08:00:00", "C RP"),
    ("P01", "2023-01-01 08:00:00", "CTRP"),
    ("P01", "2023-01-01T08:00:00Z", "CRP"),
    ("P01", "2023-01-01 08:00:00z", "crp"),
]


def _python_groups() -> list[tuple]:
    frame = pd.DataFrame(CORPUS, columns=list(SOURCE.natural_key)).astype("string[pyarrow]")
    codes = normalized_codes(frame, list(SOURCE.natural_key))
    return [tuple(row) for row in codes.itertuples(index=False)]


def _sql_keys(tmp_path: Path) -> list[tuple]:
    sql = f"select {{{{ normalized_key('{SOURCE.name}') }}}} from corpus order by position"
    proc = subprocess.run(
        [str(DBT), "compile", "--project-dir", str(REPO / "dbt"), "--profiles-dir", str(REPO / "dbt"),
         "--target-path", str(tmp_path / "target"), "--quiet", "--inline", sql, *dbt_cli_vars()],
        capture_output=True, text=True, timeout=300,
        env={"PATH": str(DBT.parent), "HOME": str(tmp_path), "WAREHOUSE_DB_PATH": str(tmp_path / "w.duckdb")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    compiled = proc.stdout.strip()
    # the dbt key also holds the study, the study day and an SDTM --SEQ: one value each here
    frame = pd.DataFrame(CORPUS, columns=list(SOURCE.natural_key)).assign(
        position=range(len(CORPUS)), _study_id="s1", study_day=None, _seq=None)
    with duckdb.connect() as con:
        con.register("corpus", frame)
        return [tuple(row) for row in con.execute(compiled).fetchall()]


def test_both_engines_find_the_same_keys_equal(tmp_path):
    python, sql = _python_groups(), _sql_keys(tmp_path)
    disagreements = [
        (CORPUS[i], CORPUS[j], python[i] == python[j], sql[i] == sql[j])
        for i, j in itertools.combinations(range(len(CORPUS)), 2)
        if (python[i] == python[j]) != (sql[i] == sql[j])
    ]
    assert disagreements == []
    # and the corpus is not trivial: both equal and different pairs occur
    same = sum(python[i] == python[j] for i, j in itertools.combinations(range(len(CORPUS)), 2))
    assert 0 < same < len(CORPUS) * (len(CORPUS) - 1) // 2
