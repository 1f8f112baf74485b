"""reports/dbt_docs is regenerated only when what the docs are made of changed: the dbt project's
files or the warehouse's columns. Real runs of the asset (`warehouse run --select`) against a copy
of the park2023 warehouse."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from pipeline_process import run_here

DOCS = "key:reports/dbt_docs"


def _last_docs_metadata(root) -> dict:
    import dagster as dg

    from conftest import warehouse_env

    home = warehouse_env(root)["DAGSTER_HOME"]
    with dg.DagsterInstance.from_config(home) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["reports", "dbt_docs"]))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def root(park_run, tmp_path_factory):
    assert park_run.exit_code == 0, park_run.output[-3000:]
    root = tmp_path_factory.mktemp("docs")
    shutil.copy(park_run.warehouse, root / "warehouse.duckdb")
    (root / "landing").mkdir()
    return root


def test_docs_are_generated_once_then_kept_until_a_column_changes(root):
    code, out = run_here(root, selection=DOCS)
    assert code == 0, out[-3000:]
    first = _last_docs_metadata(root)
    catalog = json.loads((root / "dbt_docs" / "catalog.json").read_text())
    assert first["regenerated"] is True and "model.cart_warehouse.fct_subject_endpoints" in catalog["nodes"]

    code, out = run_here(root, selection=DOCS)
    assert code == 0, out[-3000:]
    second = _last_docs_metadata(root)
    assert second["regenerated"] is False and second["fingerprint"] == first["fingerprint"]

    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("alter table marts.fct_subject_endpoints add column site_note varchar")
    code, out = run_here(root, selection=DOCS)
    assert code == 0, out[-3000:]
    third = _last_docs_metadata(root)
    assert third["regenerated"] is True and third["fingerprint"] != first["fingerprint"]
    catalog = json.loads((root / "dbt_docs" / "catalog.json").read_text())
    columns = catalog["nodes"]["model.cart_warehouse.fct_subject_endpoints"]["columns"]
    assert "site_note" in {c.lower() for c in columns}
