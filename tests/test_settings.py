"""The one settings object, what importing the product does (nothing), and the boundaries between
the packages (the generator and the statistics know nothing of the warehouse)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dagster_project.settings import DEFAULTS, PROJECT_ROOT, Settings

REPO = Path(__file__).resolve().parents[1]


def test_paths_are_absolute_and_every_output_folder_derives_from_the_warehouse_file(tmp_path):
    settings = Settings.from_env({"WAREHOUSE_DB_PATH": str(tmp_path / "w" / "warehouse.duckdb"),
                                  "WAREHOUSE_LANDING_DIR": "relative/landing"})
    assert settings.landing == PROJECT_ROOT / "relative" / "landing"
    assert settings.serving_file == PROJECT_ROOT / "data" / "serving.duckdb"
    data = tmp_path / "w"
    assert settings.data_dir == data
    assert (settings.figures_dir, settings.report_path, settings.dbt_docs_dir, settings.gx_dir,
            settings.data_docs_dir) == (data / "figures", data / "reports" / "warehouse_report.html",
                                        data / "dbt_docs", data / "gx", data / "docs")
    assert all(p.is_relative_to(data) or p == Path(settings.dagster_home) or p == settings.serving_file
               for p in settings.output_paths())


def test_numbers_and_time_zone_are_checked_with_the_variable_named():
    assert Settings.from_env({}).loess_max_points == 5000
    assert Settings.from_env({"WAREHOUSE_CTCAE_LLN_ANC": " 1.8 "}).ctcae_lln_anc == 1.8
    with pytest.raises(ValueError, match="WAREHOUSE_LOESS_MAX_POINTS must be a whole number"):
        Settings.from_env({"WAREHOUSE_LOESS_MAX_POINTS": "2.5"})
    with pytest.raises(ValueError, match="WAREHOUSE_LOESS_MAX_POINTS must be at least 1"):
        Settings.from_env({"WAREHOUSE_LOESS_MAX_POINTS": "0"})
    with pytest.raises(ValueError, match="WAREHOUSE_CTCAE_LLN_PLT must be a number"):
        Settings.from_env({"WAREHOUSE_CTCAE_LLN_PLT": "high"})
    with pytest.raises(ValueError, match="WAREHOUSE_SITE_TIMEZONE must be an IANA time zone"):
        Settings.from_env({"WAREHOUSE_SITE_TIMEZONE": "Mars/Olympus"})


def test_the_defaults_a_hand_run_dbt_falls_back_to_are_the_settings_defaults():
    """dbt run by hand (no environment) reads the defaults written in dbt's own files: the same
    values as DEFAULTS (the warehouse file relative to dbt/, where dbt runs)."""
    profile = (REPO / "dbt" / "profiles.yml").read_text()
    assert f"env_var('WAREHOUSE_DB_PATH', '../{DEFAULTS['WAREHOUSE_DB_PATH']}')" in profile
    assert f"env_var('WAREHOUSE_DUCKDB_MEMORY_LIMIT', '{DEFAULTS['WAREHOUSE_DUCKDB_MEMORY_LIMIT']}')" in profile
    project = yaml.safe_load((REPO / "dbt" / "dbt_project.yml").read_text())
    assert project["vars"]["site_timezone"] == (
        f"{{{{ env_var('WAREHOUSE_SITE_TIMEZONE', '{DEFAULTS['WAREHOUSE_SITE_TIMEZONE']}') }}}}")


_IMPORT_EVERYTHING = """
import importlib, json, os, pkgutil, sys
before = dict(os.environ)
names = []
for package in ("dagster_project", "schemas", "stats", "synthetic"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(json.dumps({"modules": names, "environ_changed": sorted(k for k in set(before) | set(os.environ)
                                                             if before.get(k) != os.environ.get(k))}))
"""


def test_importing_any_module_does_nothing_but_define_things(tmp_path):
    """No environment variable set, no folder or file written, no dbt manifest prepared."""
    manifest = REPO / "dbt" / "target" / "manifest.json"
    manifest_mtime = manifest.stat().st_mtime if manifest.exists() else None
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "WAREHOUSE_DB_PATH": str(tmp_path / "data" / "warehouse.duckdb"),
           "WAREHOUSE_LANDING_DIR": str(tmp_path / "landing"), "GX_ANALYTICS_ENABLED": "false"}
    proc = subprocess.run([sys.executable, "-c", _IMPORT_EVERYTHING], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "dagster_project.defs.transform.assets" in report["modules"]
    # (third-party libraries set a few of their own on import, e.g. PYARROW_IGNORE_TIMEZONE)
    assert [k for k in report["environ_changed"] if k.startswith(("WAREHOUSE_", "DAGSTER_", "DBT_"))] == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == []  # (libraries' caches in HOME)
    assert (manifest.stat().st_mtime if manifest.exists() else None) == manifest_mtime


def _imports(package: str) -> set[str]:
    found = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def test_the_generator_is_independent_of_the_warehouse_code():
    """synthetic/ is the test oracle: it must not share code (or bugs) with what it checks."""
    assert not _imports("synthetic") & {"dagster_project", "schemas", "stats", "dagster", "dbt"}


def test_statistics_and_the_contract_do_not_import_the_orchestrator():
    """stats/ and schemas/ are what the dbt Python models import: no Dagster, no dagster_project."""
    for package in ("stats", "schemas"):
        assert not _imports(package) & {"dagster_project", "dagster", "dagster_dbt"}, package
