"""The dbt project as dagster-dbt sees it: a cached factory, the way Dagster's dbt examples build it.

`dbt_project()` returns the `DbtProject` and prepares its manifest (`dbt parse`) through
`prepare_if_dev()`. dagster-dbt prepares only under `dagster dev`; this project always runs from
a source checkout (`warehouse run`, the tests, `dagster dev`) and never ships a packaged
manifest, so the factory also prepares when the manifest is missing or older than a file of
the dbt project.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.settings import DBT_PROJECT_DIR
from schemas.contract import SOURCES
from schemas import lineage


def dbt_vars() -> dict:
    """The dbt vars that come from the source contract (schemas/contract.py), not from
    dbt_project.yml: the natural key of every source, which staging uses to pick the current
    version of each key and the audit to list superseded rows. A key is per study (`_study_id`
    first) and holds the study day of a dated key column (Source.key_columns) and an SDTM
    record's --SEQ (`_seq`, null for every other delivery). And the lineage key of every table
    audit.lineage links (schemas/lineage.py)."""
    return {"natural_keys": {name: source.raw_key for name, source in SOURCES.items()},
            **lineage.dbt_vars()}


def dbt_cli_vars(**extra) -> list[str]:
    """`--vars` for every dbt invocation (parse, build, docs, tests), so dbt sees the contract's keys;
    `extra` vars (e.g. substitution_rule) are added to them (dbt takes one --vars)."""
    return ["--vars", json.dumps({**dbt_vars(), **extra}, sort_keys=True)]


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
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                         prepare_project_cli_args=["parse", "--quiet", *dbt_cli_vars()])
    project.prepare_if_dev()
    if manifest_is_stale(project):  # a source checkout outside `dagster dev` (see above)
        project.preparer.prepare(project)
    return project
