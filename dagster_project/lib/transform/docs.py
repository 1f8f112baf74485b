"""When the dbt docs are current: a fingerprint of what they are built from."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from dagster_project.lib.transform.project import project_files
from dagster_project.settings import DBT_PROJECT_DIR

DOCS_FILES = ("index.html", "static_index.html", "manifest.json", "catalog.json")
STAMP = "docs_source.sha256"


def docs_fingerprint(db_path: str | Path) -> str:
    """sha256 of what the dbt docs are built from: the dbt project's files (path and bytes) and the
    warehouse's catalog (schema, table, column, type of every column)."""
    digest = hashlib.sha256()
    for path in project_files():
        digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns = con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "order by all"
        ).fetchall()
    digest.update(repr(columns).encode())
    return digest.hexdigest()


def docs_are_current(target: Path, fingerprint: str) -> bool:
    stamp = target / STAMP
    return stamp.exists() and stamp.read_text() == fingerprint and all((target / n).exists() for n in DOCS_FILES)
