"""Several studies in one warehouse (studies-and-inputs.md, "Studies"): park2023 as the default
study, the same park2023 files again as study `park-b` (the same subject ids: a subject is
(study, subject_id)), and wehrli2022 as study `wehrli2022`, through one real pipeline run.

Each study must give exactly the rows it gives alone: every table of `marts` and `analysis`,
filtered on the study, equals the same table of the single-study runs (the session fixtures
park_run and wehrli_run), study_id aside. The expectation is those runs' output, which the
park2023 and wehrli2022 tests check against the generator's truth and R.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import generate_cohort, run_landing

# Tables whose rows describe deliveries or the run rather than the study's data.
NOT_COMPARED = {("marts", "dim_studies")}


@pytest.fixture(scope="module")
def studies_run(tmp_path_factory, park_run, wehrli_run):
    root = tmp_path_factory.mktemp("studies")
    generate_cohort("park2023", root)  # the default study: <landing>/<source>/
    landing = root / "landing"
    park_b = landing / "park-b"
    park_b.mkdir()
    for folder in list(landing.iterdir()):
        if folder.is_dir() and folder != park_b:
            shutil.copytree(folder, park_b / folder.name, copy_function=shutil.copy2)
    (park_b / "study.yml").write_text('title: "park2023 again"\n')
    from synthetic import generate

    generate("wehrli2022", landing / "wehrli2022", truth_path=root / "wehrli_truth.json")
    (landing / "wehrli2022" / "study.yml").write_text('title: "wehrli2022"\n')
    code, output = run_landing(root)
    assert code == 0, output[-3000:]
    return root / "serving.duckdb"


def _tables(serving) -> dict[tuple[str, str], pd.DataFrame]:
    with duckdb.connect(str(serving), read_only=True) as con:
        names = con.execute("select table_schema, table_name from information_schema.tables "
                            "where table_schema in ('marts', 'analysis') order by 1, 2").fetchall()
        return {(s, t): con.execute(f'select * from {s}."{t}"').df() for s, t in names}


def _without_study_folder(value, study: str):
    """A lineage value (a delivered row's file name, a struct naming one, a list of subject ids) as
    text comparable across studies: the same file is `<study>/vitals/x.csv` in a study's folder and
    `vitals/x.csv` in the default study's."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, str) and study != "default":
        value = value.replace(f'"{study}/', '"')
        value = value[len(study) + 1:] if value.startswith(f"{study}/") else value
    return value


def _study_rows(frame: pd.DataFrame, study: str) -> pd.DataFrame:
    rows = frame[frame["study_id"] == study].drop(columns="study_id")
    lineage = [c for c in rows.columns if "file_name" in c or rows[c].map(lambda v: isinstance(v, (dict, list, np.ndarray))).any()]
    rows = rows.assign(**{c: rows[c].map(lambda v: _without_study_folder(v, study)) for c in lineage})
    return rows.sort_values(list(rows.columns)).reset_index(drop=True) if len(rows) else rows.reset_index(drop=True)


def test_every_table_has_study_id_first(studies_run):
    for (schema, table), frame in _tables(studies_run).items():
        assert list(frame.columns)[0] == "study_id", f"{schema}.{table}"
    with duckdb.connect(str(studies_run), read_only=True) as con:
        for table in ("deliveries", "quarantine"):
            assert con.execute(f"select * from audit.{table} limit 0").df().columns[0] == "study_id"
        assert con.execute("select study_id from marts.dim_studies order by 1").fetchall() == [
            ("default",), ("park-b",), ("wehrli2022",)]


@pytest.mark.parametrize("study, alone", [("default", "park"), ("park-b", "park"), ("wehrli2022", "wehrli")])
def test_each_study_gives_the_rows_it_gives_alone(studies_run, park_run, wehrli_run, study, alone):
    single = _tables((park_run if alone == "park" else wehrli_run).serving)
    together = _tables(studies_run)
    assert set(single) == set(together)
    compared = 0
    for key, frame in together.items():
        if key in NOT_COMPARED:
            continue
        expected = _study_rows(single[key], "default")
        got = _study_rows(frame, study)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=f"{key[0]}.{key[1]} of {study}")
        compared += len(expected)
    assert compared > 1000
