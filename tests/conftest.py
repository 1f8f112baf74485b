"""Shared fixtures: a generated cohort and one real pipeline run over it (in-process Dagster,
real dbt, real DuckDB files under a temporary folder)."""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@dataclass
class PipelineRun:
    root: Path
    landing: Path
    warehouse: Path
    serving: Path
    dagster_home: Path
    truth: dict
    exit_code: int
    output: str


def warehouse_env(root: Path) -> dict[str, str]:
    return {
        "WAREHOUSE_LANDING_DIR": str(root / "landing"),
        "WAREHOUSE_DB_PATH": str(root / "warehouse.duckdb"),
        "WAREHOUSE_SERVING_DB_PATH": str(root / "serving.duckdb"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }


def run_in_process(root: Path) -> int:
    """Point the warehouse at `root` and materialize every asset once, in this process."""
    from dagster_project.run import run_pipeline

    os.environ.update(warehouse_env(root))
    return run_pipeline()


def generate_cohort(profile: str, root: Path, **kwargs) -> dict:
    from synthetic import generate

    return generate(profile, root / "landing", truth_path=root / "cohort_truth.json", **kwargs)


def run_landing(root: Path) -> tuple[int, str]:
    """The whole pipeline over `root`/landing as it is, in this process: (exit code, output).

    The environment is restored afterwards, so fixtures built on this do not leak settings.
    """
    saved = dict(os.environ)
    buffer = io.StringIO()
    try:
        with redirect_stdout(buffer):
            code = run_in_process(root)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, buffer.getvalue()


def pipeline_run(profile: str, root: Path) -> PipelineRun:
    """Generate a cohort into `root` and run the whole pipeline over it, in this process."""
    truth = generate_cohort(profile, root)
    code, output = run_landing(root)
    return PipelineRun(
        root=root,
        landing=root / "landing",
        warehouse=root / "warehouse.duckdb",
        serving=root / "serving.duckdb",
        dagster_home=root / "dagster_home",
        truth=truth,
        exit_code=code,
        output=output,
    )


@pytest.fixture(scope="session")
def park_run(tmp_path_factory) -> PipelineRun:
    """The park2023 cohort through the whole pipeline, once per test session."""
    return pipeline_run("park2023", tmp_path_factory.mktemp("park2023"))


@pytest.fixture(scope="session")
def wehrli_run(tmp_path_factory) -> PipelineRun:
    """The wehrli2022 cohort through the whole pipeline, once per test session."""
    return pipeline_run("wehrli2022", tmp_path_factory.mktemp("wehrli2022"))


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
