"""The plan of a run (dagster_project/lib/changes.py): which delivery files are new against the
published copy, which sources and studies they may change, and when a run must be a full one.

A real serving copy is written by `publish` from a real warehouse file holding audit.deliveries;
the expected plans are read off the files this test lays out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from dagster_project.lib.changes import build_fingerprint, delivery_scope, plan_run
from dagster_project.lib.ingest.studies import read_landing
from dagster_project.lib.serving.publish import publish
from schemas.contract import SOURCES

DEFAULT = "default"
PUBLISHED_RUN = "run-1"  # the run id `_publish` records in audit.publication


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _publish(root: Path, published: list[Path], fingerprint: str | None) -> Path:
    """A serving copy whose audit.deliveries lists `published`, with `fingerprint`."""
    warehouse, serving = root / "warehouse.duckdb", root / "serving.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema audit")
        con.execute("create table audit.deliveries (delivery_sha256 varchar, file_name varchar)")
        for path in published:
            con.execute("insert into audit.deliveries values (?, ?)", [_sha(path), path.name])
    publish(warehouse, serving, PUBLISHED_RUN, plan="full", build_fingerprint=fingerprint)
    return serving


@pytest.fixture()
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    _file(root / "subjects" / "2024-01-01_a.csv", "subject_id\nS1\n")
    _file(root / "vitals" / "2024-01-02_b.csv", "subject_id,recorded_at\nS1,2024-01-02\n")
    _file(root / "trial_b" / "study.yml", 'title: "B"\ntime_mode: calendar\n')
    _file(root / "trial_b" / "serum_labs" / "2024-01-03_c.csv", "subject_id\nS9\n")
    return root


def _plan(landing: Path, serving: Path, **kwargs):
    """The plan when the warehouse file beside the serving copy exists and the last run Dagster
    recorded is the one that published the copy, unless `kwargs` say otherwise."""
    kwargs = {"warehouse_path": serving.with_name("warehouse.duckdb"), "last_run_id": PUBLISHED_RUN, **kwargs}
    return plan_run(landing, serving, DEFAULT, **kwargs)[0]


def test_without_a_serving_copy_the_run_is_full(landing, tmp_path):
    plan = _plan(landing, tmp_path / "serving.duckdb")
    assert plan.full and "no serving copy" in plan.reason
    assert len(plan.files) == 3 and plan.sources == frozenset(SOURCES)


def test_files_the_serving_copy_lacks_select_their_sources_and_studies(landing, tmp_path):
    fingerprint = build_fingerprint(read_landing(landing, DEFAULT))
    serving = _publish(tmp_path, [landing / "subjects" / "2024-01-01_a.csv"], fingerprint)
    plan = _plan(landing, serving)
    assert not plan.full and not plan.nothing_to_do
    assert sorted(plan.files.values()) == ["trial_b/serum_labs/2024-01-03_c.csv", "vitals/2024-01-02_b.csv"]
    assert plan.sources == {"vitals", "serum_labs"} and plan.studies == {DEFAULT, "trial_b"}
    assert plan.tags()["warehouse/plan"] == "changed"
    assert plan.tags()["warehouse/changed_studies"] == "default,trial_b"


def test_everything_published_is_nothing_to_do(landing, tmp_path):
    fingerprint = build_fingerprint(read_landing(landing, DEFAULT))
    files = [p for p in landing.rglob("*.csv")]
    plan = _plan(landing, _publish(tmp_path, files, fingerprint))
    assert plan.nothing_to_do and "nothing new" in plan.reason
    assert _plan(landing, tmp_path / "serving.duckdb", full=True).full  # --full


def test_a_changed_study_file_or_setting_makes_the_run_full(landing, tmp_path, monkeypatch):
    files = [p for p in landing.rglob("*.csv")]
    serving = _publish(tmp_path, files, build_fingerprint(read_landing(landing, DEFAULT)))
    monkeypatch.setenv("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "1GB")  # changes no number
    assert _plan(landing, serving).nothing_to_do
    monkeypatch.setenv("WAREHOUSE_SITE_TIMEZONE", "Europe/Zurich")  # changes every local time
    plan = _plan(landing, serving)
    assert plan.full and "settings" in plan.reason
    monkeypatch.delenv("WAREHOUSE_SITE_TIMEZONE")
    _file(landing / "trial_b" / "study.yml", 'title: "B"\ntime_mode: relative\n')
    assert _plan(landing, serving).full


def test_a_warehouse_file_the_last_run_may_have_left_half_written_is_rebuilt(landing, tmp_path):
    """Nothing is new against the serving copy, but the warehouse file may not hold what it
    publishes: a later run failed or was killed (or ran without publishing), or the file is gone."""
    files = [p for p in landing.rglob("*.csv")]
    serving = _publish(tmp_path, files, build_fingerprint(read_landing(landing, DEFAULT)))
    assert _plan(landing, serving).nothing_to_do
    killed = _plan(landing, serving, last_run_id="run-2")
    assert killed.full and f"the last run (run-2) is not the one that published the serving copy ({PUBLISHED_RUN})" in killed.reason
    assert _plan(landing, serving, last_run_id=None).full  # Dagster's home was emptied
    (tmp_path / "warehouse.duckdb").unlink()
    gone = _plan(landing, serving)
    assert gone.full and "no warehouse file" in gone.reason


def test_a_copy_published_without_a_fingerprint_is_rebuilt(landing, tmp_path):
    files = [p for p in landing.rglob("*.csv")]
    plan = _plan(landing, _publish(tmp_path, files, None))
    assert plan.full and "no build fingerprint" in plan.reason


@pytest.mark.parametrize("name, study, sources", [
    ("vitals/a.csv", DEFAULT, {"vitals"}),
    ("trial_b/csf_samples/a.csv", "trial_b", {"csf_samples"}),
    ("trial_b/sdtm/lb.xpt", "trial_b", set(SOURCES)),  # an adapter's file may feed any source
])
def test_delivery_scope(name, study, sources):
    assert delivery_scope(name, DEFAULT) == (study, frozenset(sources))
