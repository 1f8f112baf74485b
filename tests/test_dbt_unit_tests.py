"""The dbt `unit_tests:` (ASTCT grading, dosing, biomarker rules, endpoints) on every run of the suite.

The pipeline's `dbt build` leaves them out (they test logic on fixed inputs, not the delivered
data); here they run against a copy of the park2023 warehouse, whose tables give dbt the column
types of the models' inputs. The count of unit tests dbt ran is checked against the ymls, and one
expected grade changed on purpose must make dbt fail.

dbt runs `unit_tests:` for SQL models only; the two rate models are dbt Python models
(agg_toxicity_rates, agg_response_rates), so their fixed-input tests are here: the model function
called with a stand-in for dbt's `dbt.ref(...).df()`, two studies sharing subject ids.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from dagster_project.lib.transform.project import dbt_cli_vars

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
DBT = Path(sys.executable).parent / "dbt"


def unit_tests_in_ymls(project: Path) -> list[str]:
    names = []
    for path in sorted((project / "models").rglob("*.yml")):
        names += [t["name"] for t in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])]
    return names


def dbt_test(project: Path, warehouse: Path, select: str, target: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WAREHOUSE_DB_PATH": str(warehouse)}
    return subprocess.run(
        [str(DBT), "test", "--select", select, "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(target), *dbt_cli_vars()],
        env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def warehouse_copy(park_run, tmp_path_factory) -> Path:
    assert park_run.exit_code == 0, park_run.output
    copy = tmp_path_factory.mktemp("unit") / "warehouse.duckdb"
    shutil.copy(park_run.warehouse, copy)
    return copy


def test_every_unit_test_runs_and_passes(warehouse_copy, tmp_path):
    expected = unit_tests_in_ymls(DBT_DIR)
    assert len(expected) >= 30
    result = dbt_test(DBT_DIR, warehouse_copy, "test_type:unit", tmp_path / "target")
    assert result.returncode == 0, result.stdout[-3000:]
    ran = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert sorted(r["unique_id"].split(".")[-1] for r in ran) == sorted(expected)
    assert {r["status"] for r in ran} == {"pass"}


def test_a_wrong_expected_grade_fails(warehouse_copy, tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    yml = project / "models" / "intermediate" / "int_crs_grade_readings.yml"
    text = yml.read_text()
    right = "- {recorded_at: '2024-01-02 08:00:00', hypotension_grade: 2, crs_grade: 2}"
    assert text.count(right) == 1
    yml.write_text(text.replace(right, right.replace("crs_grade: 2", "crs_grade: 1")))
    result = dbt_test(project, warehouse_copy, "crs_hypotension_systolic_89_vs_90", tmp_path / "target")
    assert result.returncode != 0
    ran = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert [(r["unique_id"].split(".")[-1], r["status"]) for r in ran] == [("crs_hypotension_systolic_89_vs_90", "fail")]


# ---- the dbt Python models on fixed inputs ------------------------------------------------------


def _python_model(name: str):
    path = DBT_DIR / "models" / "marts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dbt_model_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Relation:
    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def df(self) -> pd.DataFrame:
        return self.frame.copy()


class _Dbt:
    """What a dbt Python model uses of `dbt`: config() and ref(name).df()."""

    def __init__(self, **frames: pd.DataFrame):
        self.frames = frames

    def config(self, **_):
        pass

    def ref(self, name: str) -> _Relation:
        return _Relation(self.frames[name])


def _rate(table, **where):
    rows = table
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, where
    return int(rows["n_subjects"].iloc[0]), int(rows["n_total"].iloc[0])


def test_toxicity_rates_are_per_study_and_criteria():
    """marts.md agg_toxicity_rates, per study (studies-and-inputs.md): s1..s3 of study a and s1..s3
    of study b are six subjects, each study its own denominator; a study reporting two criteria
    has both sets of rows; IEC-HS (presence, no grade) has the category `any` only, and a study
    without IEC-HS data has no IEC-HS rows. Hand-counted."""
    grades = pd.DataFrame([
        # study a: CRS by ASTCT2019 2, 0, 3; ICANS 0, 0, 4; no IEC-HS data
        *[("a", s, "CRS", "ASTCT2019", 1, g, g >= 1, True) for s, g in (("s1", 2), ("s2", 0), ("s3", 3))],
        *[("a", s, "ICANS", "ASTCT2019", 1, g, g >= 1, True) for s, g in (("s1", 0), ("s2", 0), ("s3", 4))],
        # study b: CRS by ASTCT2019 (summary) 1, 0, 0 and by Lee2014 2, 0, 0; ICANS nothing recorded;
        # IEC-HS present for s1 only, without a grade
        *[("b", s, "CRS", "ASTCT2019", 1, g, g >= 1, True) for s, g in (("s1", 1), ("s2", 0), ("s3", 0))],
        *[("b", s, "CRS", "Lee2014", 2, g, g >= 1, True) for s, g in (("s1", 2), ("s2", 0), ("s3", 0))],
        *[("b", s, "ICANS", "ASTCT2019", 1, 0, False, None) for s in ("s1", "s2", "s3")],
        ("b", "s1", "IEC-HS", "ASTCT2019", 1, None, True, False),
        ("b", "s2", "IEC-HS", "ASTCT2019", 1, 0, False, False),
        ("b", "s3", "IEC-HS", "ASTCT2019", 1, 0, False, None),
    ], columns=["study_id", "subject_id", "toxicity", "criteria", "criteria_rank", "max_grade", "present", "is_graded"])
    subjects = pd.DataFrame(
        [(study, s, product, "LBCL", True) for study in ("a", "b")
         for s, product in (("s1", "axi-cel"), ("s2", "axi-cel"), ("s3", "tisa-cel"))],
        columns=["study_id", "subject_id", "car_t_product", "disease", "is_infused"])
    table = _python_model("agg_toxicity_rates").model(
        _Dbt(int_toxicity_max_grades=grades, dim_subjects=subjects), session=None)

    assert list(table.columns) == ["study_id", "toxicity", "criteria", "group_by", "group_value", "grade_category",
                                   "n_subjects", "n_total", "pct", "ci_low_pct", "ci_high_pct", "counted_subject_ids"]
    overall = table[table["group_by"] == "overall"]
    # each cell lists the subjects it counts (its lineage): hand-picked from the grades above
    counted = {(r.study_id, r.toxicity, r.criteria, r.grade_category): list(r.counted_subject_ids)
               for r in overall.itertuples()}
    assert counted[("a", "CRS", "ASTCT2019", "any")] == ["s1", "s3"]
    assert counted[("a", "CRS", "ASTCT2019", "severe")] == ["s3"]
    assert counted[("b", "CRS", "Lee2014", "grade_0")] == ["s2", "s3"]
    assert counted[("b", "IEC-HS", "ASTCT2019", "any")] == ["s1"]
    assert all(len(ids) == n for ids, n in zip(table["counted_subject_ids"], table["n_subjects"]))
    assert _rate(overall, study_id="a", toxicity="CRS", criteria="ASTCT2019", grade_category="any") == (2, 3)
    assert _rate(overall, study_id="a", toxicity="CRS", criteria="ASTCT2019", grade_category="severe") == (1, 3)
    assert _rate(overall, study_id="b", toxicity="CRS", criteria="ASTCT2019", grade_category="any") == (1, 3)
    assert _rate(overall, study_id="b", toxicity="CRS", criteria="Lee2014", grade_category="grade_2") == (1, 3)
    assert _rate(overall, study_id="b", toxicity="ICANS", criteria="ASTCT2019", grade_category="grade_0") == (3, 3)
    assert _rate(overall, study_id="b", toxicity="IEC-HS", criteria="ASTCT2019", grade_category="any") == (1, 3)
    assert set(table.loc[table["toxicity"] == "IEC-HS", "grade_category"]) == {"any"}
    assert not ((table["study_id"] == "a") & (table["toxicity"] == "IEC-HS")).any()
    assert set(table.loc[table["study_id"] == "a", "criteria"]) == {"ASTCT2019"}
    # 8 categories x (overall + 2 products + 1 disease) per graded toxicity x criteria
    assert (table["study_id"] == "a").sum() == 2 * 8 * 4
    assert (table["study_id"] == "b").sum() == 3 * 8 * 4 + 1 * 4
    by_product = table[(table["study_id"] == "a") & (table["group_by"] == "car_t_product") & (table["toxicity"] == "CRS")
                       & (table["grade_category"] == "severe")]
    assert dict(zip(by_product["group_value"], zip(by_product["n_subjects"], by_product["n_total"]))) == {
        "axi-cel": (0, 2), "tisa-cel": (1, 1)}
    assert math.isclose(overall.loc[(overall["study_id"] == "a") & (overall["toxicity"] == "CRS")
                                    & (overall["grade_category"] == "any"), "pct"].iloc[0], 200 / 3)


def test_response_rates_are_per_study_with_mrd_measures_for_all_mrd_studies():
    """marts.md agg_response_rates, per study: the same subject ids in study a (Lugano2014) and
    study b (ALL-MRD) are counted in their own study; only the ALL-MRD study has CR_MRD_NEG and
    CR_MRD_POS (a CR by the mrd of its assessment; a CR without mrd is in neither). Hand-counted."""
    endpoints = pd.DataFrame([
        ("a", "s1", "axi-cel", "LBCL", "CR", None),
        ("a", "s2", "axi-cel", "LBCL", "PR", None),
        ("a", "s3", "axi-cel", "LBCL", "NE", None),
        ("b", "s1", "CD22 CAR T", "B-ALL", "CR", "negative"),
        ("b", "s2", "CD22 CAR T", "B-ALL", "CR", "positive"),
        ("b", "s3", "CD22 CAR T", "B-ALL", "CR", None),
        ("b", "s4", "CD22 CAR T", "B-ALL", "PD", None),
    ], columns=["study_id", "subject_id", "car_t_product", "disease", "best_response_d100", "best_response_mrd"])
    studies = pd.DataFrame({"study_id": ["a", "b"], "response_criteria": [["Lugano2014"], ["ALL-MRD"]]})
    table = _python_model("agg_response_rates").model(
        _Dbt(fct_subject_endpoints=endpoints, stg_ingest__studies=studies), session=None)

    assert list(table.columns) == ["study_id", "measure", "group_by", "group_value", "n_subjects", "n_total", "pct",
                                   "ci_low_pct", "ci_high_pct", "counted_subject_ids"]
    overall = table[table["group_by"] == "overall"]
    # each cell lists the subjects it counts (its lineage): hand-picked from the responses above
    counted = {(r.study_id, r.measure): list(r.counted_subject_ids) for r in overall.itertuples()}
    assert counted[("a", "ORR")] == ["s1", "s2"]
    assert counted[("a", "NE")] == ["s3"]
    assert counted[("b", "CR")] == ["s1", "s2", "s3"]
    assert counted[("b", "CR_MRD_NEG")] == ["s1"]
    assert counted[("b", "SD")] == []
    assert all(len(ids) == n for ids, n in zip(table["counted_subject_ids"], table["n_subjects"]))
    assert _rate(overall, study_id="a", measure="ORR") == (2, 3)
    assert _rate(overall, study_id="a", measure="NE") == (1, 3)
    assert _rate(overall, study_id="b", measure="CR") == (3, 4)
    assert _rate(overall, study_id="b", measure="CR_MRD_NEG") == (1, 4)
    assert _rate(overall, study_id="b", measure="CR_MRD_POS") == (1, 4)
    assert set(table.loc[table["study_id"] == "a", "measure"]) == {"ORR", "CR", "PR", "SD", "PD", "NE"}
