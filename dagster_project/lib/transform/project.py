"""The dbt project as dagster-dbt sees it: a cached factory, the way Dagster's dbt examples build it.

`dbt_project()` returns the `DbtProject` and prepares its manifest (`dbt parse`) through
`prepare_if_dev()`. dagster-dbt prepares only under `dagster dev`; this project always runs from
a source checkout (`warehouse run`, the tests, `dagster dev`) and never ships a packaged
manifest, so the factory also prepares when the manifest is missing or older than a file of
the dbt project.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.settings import DBT_PROJECT_DIR


def project_files() -> list[Path]:
    """The files the dbt project is made of (what its manifest and docs are built from)."""
    files = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "seeds", "tests"):
        files.extend(sorted(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file()))
    return files


def manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(p.stat().st_mtime > built for p in project_files())


@cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if manifest_is_stale(project):  # a source checkout outside `dagster dev` (see above)
        project.preparer.prepare(project)
    return project
