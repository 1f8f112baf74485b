"""Run only what changed (issue 20): a run after a delivery materializes the ingest assets of the
sources with new deliveries and what is downstream of them, dbt's staging rewrites only the
studies of those files, and the marts and analysis tables after any sequence of such runs equal
those of one full run on the same deliveries.

Two studies (the default study and `trial_b`, small `scale` cohorts) arrive in three batches:
  B1  the default study without its vitals and serum labs, and trial_b's subjects;
  B2  the rest of trial_b;
  B3  the default study's vitals and serum labs, and a correction of one subject's infusion date
      (every study day of that subject moves, in every staging model).
B1 runs once (the first run is a full one: no serving copy yet); then the warehouse is copied and
replayed in two orders, B2 then B3 and B3 then B2, each batch its own changed run. The reference
is one run over all the files at once. Tables are compared by mart_contents.py (every column but
the run's own timestamps; floats to 1e-9 relative: an incremental staging table holds its rows in
another physical order, so a sum over them may differ in its last bits, which a content hash
over rounded floats would turn into a false difference near a rounding boundary).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from conftest import generate_cohort
from mart_contents import differences, mart_snapshot
from pipeline_process import copy_landing, delivery_files, run_here

OTHER_STUDY = "trial_b"
CORRECTED_SUBJECT = "SC000001"


def _write_correction(landing: Path) -> Path:
    """A later subjects delivery for the default study moving CORRECTED_SUBJECT's infusion by a day."""
    original = next((landing / "subjects").iterdir())
    rows = list(csv.DictReader(original.open(encoding="utf-8")))
    row = next(r for r in rows if r["subject_id"] == CORRECTED_SUBJECT)
    assert row["infused_on"], "the corrected subject must have been infused"
    year, month, day = (int(x) for x in row["infused_on"].split("-"))
    row["infused_on"] = f"{year:04d}-{month:02d}-{day + 1 if day < 28 else day - 1:02d}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    path = landing / "subjects" / "2099-01-01_correction.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    later = original.stat().st_mtime + 3600  # arrives after the delivery it corrects
    os.utime(path, (later, later))
    return path


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("replay_source")
    generate_cohort("scale", root, subjects=10)
    from synthetic import generate

    generate("scale", root / "landing" / OTHER_STUDY, seed=7, subjects=8, truth_path=root / "truth_b.json")
    _write_correction(root / "landing")
    return root / "landing"


def _batches(landing: Path) -> dict[str, list[Path]]:
    files = delivery_files(landing)
    other = [p for p in files if p.relative_to(landing).parts[0] == OTHER_STUDY]
    held = [p for p in files if p not in other and (p.parent.name in ("vitals", "serum_labs") or "correction" in p.name)]
    first = [p for p in files if p not in other and p not in held] + [p for p in other if p.parent.name == "subjects"]
    return {"B1": first, "B2": [p for p in other if p not in first], "B3": held}


def _materialized(root: Path) -> set[str]:
    """The asset keys the latest run of `root`'s Dagster instance materialized."""
    with dg.DagsterInstance.from_config(str(root / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    return {e.dagster_event.asset_key.to_user_string() for e in events}


def _publication(root: Path) -> tuple[str, str]:
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        return con.execute("select plan, build_fingerprint from audit.publication").fetchone()


@contextmanager
def _altered_raw_row(root: Path, probe: dict):
    """One raw medications row of the default study with another dose while the block runs (then
    restored); `probe` gets its staged dose before and after, and trial_b's staged rows after."""
    staged = ("select dose from staging.stg_clinical__medications where study_id = 'default' "
              "and file_name = ? and row_number = ?")
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        file_name, row_number, dose = con.execute(
            "select _file_name, _row_number, dose from raw.medications where _study_id = 'default' "
            "and dose is not null order by all limit 1").fetchone()
        probe["staged_before"] = con.execute(staged, [file_name, row_number]).fetchone()[0]
        con.execute("update raw.medications set dose = dose + 1000 where _study_id = 'default' "
                    "and _file_name = ? and _row_number = ?", [file_name, row_number])
    try:
        yield
    finally:
        with duckdb.connect(str(root / "warehouse.duckdb")) as con:
            probe["staged_after_b2"] = con.execute(staged, [file_name, row_number]).fetchone()[0]
            probe["trial_b_rows_after_b2"] = con.execute(
                f"select count(*) from staging.stg_clinical__medications where study_id = '{OTHER_STUDY}'").fetchone()[0]
            con.execute("update raw.medications set dose = ? where _study_id = 'default' "
                        "and _file_name = ? and _row_number = ?", [dose, file_name, row_number])


def _run(root: Path) -> dict:
    code, out = run_here(root)
    assert code == 0, out[-3000:]
    return {"output": out, "materialized": _materialized(root), "plan": _publication(root)[0]}


@pytest.fixture(scope="module")
def replays(source, tmp_path_factory) -> dict:
    batches = _batches(source)
    assert sum(len(b) for b in batches.values()) == len(delivery_files(source))
    base = tmp_path_factory.mktemp("replay_base")
    copy_landing(batches["B1"], source, base / "landing")
    first = _run(base)
    results = {"B1": first}
    for order in (("B2", "B3"), ("B3", "B2")):
        root = tmp_path_factory.mktemp("replay_" + "_".join(order))
        shutil.rmtree(root)
        shutil.copytree(base, root, symlinks=True)
        steps, probe = [], {}
        for name in order:
            copy_landing(batches[name], source, root / "landing")
            if name == "B2" and order[0] == "B2":
                with _altered_raw_row(root, probe):
                    steps.append((name, _run(root)))
            else:
                steps.append((name, _run(root)))
        again = run_here(root)
        results[order] = {"root": root, "steps": dict(steps), "again": again, "probe": probe,
                          "marts": mart_snapshot(root / "warehouse.duckdb"),
                          "serving": mart_snapshot(root / "serving.duckdb")}
    return results


@pytest.fixture(scope="module")
def reference(source, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("replay_reference")
    copy_landing(delivery_files(source), source, root / "landing")
    _run(root)
    return mart_snapshot(root / "warehouse.duckdb")


@pytest.mark.parametrize("order", [("B2", "B3"), ("B3", "B2")])
def test_incremental_runs_equal_one_full_run(replays, reference, order):
    got = replays[order]
    assert set(got["marts"]) == set(reference)
    assert not differences(got["marts"], reference), differences(got["marts"], reference)
    assert not differences(got["serving"], reference), differences(got["serving"], reference)
    with duckdb.connect(str(got["root"] / "serving.duckdb"), read_only=True) as con:
        per_study = dict(con.execute("select study_id, count(*) from marts.dim_subjects group by 1").fetchall())
    assert per_study == {"default": 10, OTHER_STUDY: 8}


def test_the_correction_moved_the_study_days(replays, reference):
    """The scenario is not vacuous: B3's correction changed the corrected subject's days."""
    with duckdb.connect(str(replays[("B2", "B3")]["root"] / "serving.duckdb"), read_only=True) as con:
        superseded = con.execute("select count(*) from audit.superseded_rows where file_name like 'subjects/%'"
                                 ).fetchone()[0]
    assert superseded == 1
    infusions = reference["marts.dim_subjects"]
    row = infusions[(infusions["study_id"] == "default") & (infusions["subject_id"] == CORRECTED_SUBJECT)]
    assert len(row) == 1


@pytest.mark.parametrize("order", [("B2", "B3"), ("B3", "B2")])
def test_a_delivery_runs_only_its_sources_and_what_is_downstream(replays, order):
    steps = replays[order]["steps"]
    assert replays["B1"]["plan"] == "full"  # no serving copy yet
    for name, step in steps.items():
        assert step["plan"] == "changed", (name, step["output"][:500])
        assert "serving/warehouse" in step["materialized"] and "reports/html_report" in step["materialized"]
    # the rest of trial_b (its subjects came in B1): not subjects, nor what only subjects feed
    b2 = steps["B2"]["materialized"]
    assert {"raw/medications", "raw/vitals", "raw/serum_labs"} <= b2
    assert not {"raw/subjects", "staging/stg_clinical__subjects", "marts/dim_subjects"} & b2
    assert f"in 1 study ({OTHER_STUDY})" in steps["B2"]["output"]
    # the default study's vitals, labs and subjects correction: not CSF, outcomes or responses
    # (every ingest asset is downstream of raw/subjects, which registers the subjects the others
    # name, so all of them run; only these three have new files)
    b3 = steps["B3"]["materialized"]
    assert {"raw/vitals", "raw/serum_labs", "raw/subjects"} <= b3
    assert "of 3 sources (serum_labs, subjects, vitals) in 1 study (default)" in steps["B3"]["output"]


@pytest.mark.parametrize("order", [("B2", "B3"), ("B3", "B2")])
def test_a_run_with_nothing_new_runs_nothing(replays, order):
    code, out = replays[order]["again"]
    assert code == 0
    assert "nothing new" in out and "is current" in out
    assert "steps ran" not in out


def test_a_changed_run_rewrites_only_its_studies_staging_rows(replays):
    """dbt's staging after a trial_b-only delivery (B2) keeps the default study's rows as they were:
    before B2 a raw medications row of the default study was altered (and restored after B2); its
    staging row still holds the value staged before, while trial_b's medications were staged. A run
    that rebuilt every study would have staged the altered value."""
    probe = replays[("B2", "B3")]["probe"]
    assert probe["staged_before"] is not None and probe["staged_after_b2"] == probe["staged_before"]
    assert probe["trial_b_rows_after_b2"] > 0
