"""The dbt `unit_tests:` (ASTCT grading, dosing, biomarker rules, endpoints) on every run of the suite.

The pipeline's `dbt build` leaves them out (they test logic on fixed inputs, not the delivered
data); here they run against a copy of the park2023 warehouse, whose tables give dbt the column
types of the models' inputs. The count of unit tests dbt ran is checked against the ymls, and one
expected grade changed on purpose must make dbt fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
