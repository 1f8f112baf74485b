"""What a run has to do (issue 20, "Run only what changed"): the deliveries the published copy
does not hold yet, their sources and studies, or a full rebuild and why.

A run is planned against the *published* serving copy, not the warehouse file: a delivery that
a failed run ingested but never published is still "to publish", so the next run rebuilds what
depends on it (the serving copy is also the one file a sensor may read while a run writes).

- **Changed** (the default of `warehouse run`, the sensor and the schedule): the ingest assets of
  the sources that have a delivery file the serving copy's audit.deliveries does not list, and
  everything downstream of them; dbt's staging rebuilds only the studies of those files
  (dbt var `changed_studies`, macros/changed_studies.sql). A file in an adapter's folder (sdtm,
  bioplex, mapped) may feed any source of its study: it selects every source.
- **Full**: `--full`; no serving copy yet; the serving copy was built from other code, dbt
  project, locked dependencies, settings or study files (the build fingerprint recorded in its
  audit.publication differs); or the warehouse file may not hold what the serving copy publishes:
  it is missing, or the last run Dagster recorded is not the one that published the copy (a run
  that failed, was killed, or ran a selection without the serving copy may have written part of
  its work). dbt rebuilds every model from scratch (`--full-refresh`).
- **Nothing**: no new delivery and the same fingerprint: the serving copy is current.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dagster_project.lib.ingest.landing import new_deliveries
from dagster_project.lib.ingest.studies import Landing, read_landing
from dagster_project.lib.serving.publish import published_deliveries
from dagster_project.lib.transform.project import dbt_cli_vars, project_files
from dagster_project.settings import DEFAULTS, PROJECT_ROOT
from schemas.contract import SOURCES

# Run tags a planned run carries (read by the dbt asset and the publish asset).
PLAN_TAG = "warehouse/plan"  # "full" or "changed"
STUDIES_TAG = "warehouse/changed_studies"  # comma-separated study ids of a changed run
FINGERPRINT_TAG = "warehouse/build_fingerprint"

# The code a warehouse is built by: a change to any of these files makes the next run a full one.
CODE_FOLDERS = ("dagster_project", "schemas", "stats")
LOCK_FILE = "uv.lock"
# Settings that only say where files are or how much memory a writer may take: they never change
# a number, so they are not part of the fingerprint (every other WAREHOUSE_* setting is).
NEUTRAL_SETTINGS = frozenset({"WAREHOUSE_LANDING_DIR", "WAREHOUSE_DB_PATH", "WAREHOUSE_SERVING_DB_PATH",
                              "DAGSTER_HOME", "WAREHOUSE_DUCKDB_MEMORY_LIMIT", "WAREHOUSE_RUN_LOG"})


@dataclass(frozen=True)
class RunPlan:
    full: bool
    reason: str  # why full, or what is new; one line
    fingerprint: str
    files: dict[str, str] = field(default_factory=dict)  # sha256 -> file name of each new delivery
    sources: frozenset[str] = frozenset()
    studies: frozenset[str] = frozenset()

    @property
    def nothing_to_do(self) -> bool:
        return not self.full and not self.files

    def tags(self) -> dict[str, str]:
        tags = {PLAN_TAG: "full" if self.full else "changed", FINGERPRINT_TAG: self.fingerprint}
        if not self.full:
            tags[STUDIES_TAG] = ",".join(sorted(self.studies))
        return tags


def build_fingerprint(landing: Landing) -> str:
    """sha256 of everything besides the deliveries that decides what the warehouse holds: the
    project's code (dagster_project, schemas, stats), the dbt project and its vars, the locked
    dependencies, the WAREHOUSE_* settings that change numbers, and the landing folder's study
    files (study.yml and a mapped adapter's mapping)."""
    digest = hashlib.sha256()
    files = [p for folder in CODE_FOLDERS for p in sorted((PROJECT_ROOT / folder).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts]
    files += project_files() + [PROJECT_ROOT / LOCK_FILE]
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(" ".join(dbt_cli_vars()).encode())
    for name in sorted(DEFAULTS):
        if name not in NEUTRAL_SETTINGS:
            digest.update(f"{name}={os.environ.get(name, DEFAULTS[name])}\0".encode())
    for path in _study_files(landing):
        digest.update(path.relative_to(landing.root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _study_files(landing: Landing) -> list[Path]:
    found = []
    for study in landing.studies:
        if study.study_file:
            found.append(landing.root / study.study_file)
        mapped = study.config.adapters.mapped
        if mapped and mapped.mapping and (study.folder / mapped.mapping).is_file():
            found.append(study.folder / mapped.mapping)
    found += [landing.root / problem.study_file for problem in landing.invalid
              if problem.study_file and (landing.root / problem.study_file).is_file()]
    return sorted(set(found))


def publication_of(serving_path: Path) -> tuple[str | None, str | None]:
    """(run id, build fingerprint) the serving copy was published with; Nones before the first
    publish, and no fingerprint for a copy published without a plan or older than the fingerprint."""
    if not serving_path.exists():
        return None, None
    with duckdb.connect(str(serving_path), read_only=True) as con:
        columns = {c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'audit' "
            "and table_name = 'publication'").fetchall()}
        if "run_id" not in columns:
            return None, None
        fingerprint = "build_fingerprint" if "build_fingerprint" in columns else "null"
        row = con.execute(f"select run_id, {fingerprint} from audit.publication").fetchone()
    return (row[0], row[1]) if row else (None, None)


def delivery_scope(file_name: str, default_study: str) -> tuple[str, frozenset[str]]:
    """(study, sources) a delivery file may change, from where it lies in the landing folder:
    `<source>/<file>` (the default study) or `<study>/<source or format>/<file>`; an adapter's
    file may feed every source."""
    parts = file_name.split("/")
    study, folder = (default_study, parts[0]) if len(parts) == 2 else (parts[0], parts[1])
    return study, frozenset({folder} if folder in SOURCES else SOURCES)


def plan_run(landing_dir: Path, serving_path: Path, default_study: str, *, warehouse_path: Path,
             last_run_id: str | None, full: bool = False,
             known: dict[str, list] | None = None) -> tuple[RunPlan, dict[str, list]]:
    """The plan of the next run, and the landing folder's state (file -> [size, mtime, sha256];
    pass it back as `known` so an unchanged file is not hashed again: the landing sensor's cursor).
    `last_run_id`: the last run Dagster recorded (defs/automation.py `latest_run`); a changed run
    builds on the warehouse file only when that run is the one that published the serving copy."""
    landing = read_landing(landing_dir, default_study)
    state, new = new_deliveries(landing_dir, landing.delivery_folders(), known or {},
                                loaded=published_deliveries(serving_path))
    fingerprint = build_fingerprint(landing)
    published_run, published = publication_of(serving_path)
    reason = ("asked for (--full)" if full
              else "no serving copy yet" if not serving_path.exists()
              else "the serving copy records no build fingerprint" if published is None
              else "the code, dbt project, dependencies, settings or study files changed since the "
                   "serving copy was built" if published != fingerprint
              else "no warehouse file yet" if not warehouse_path.exists()
              else f"the last run ({_short(last_run_id)}) is not the one that published the serving copy "
                   f"({_short(published_run)}): the warehouse file may hold part of its work"
              if last_run_id != published_run
              else None)
    scopes = [delivery_scope(name, default_study) for name in new.values()]
    sources = frozenset().union(*(s for _, s in scopes)) if scopes else frozenset()
    studies = frozenset(study for study, _ in scopes)
    if reason:
        return RunPlan(True, f"full rebuild: {reason}", fingerprint, new, frozenset(SOURCES), studies), state
    if not new:
        return RunPlan(False, "nothing new: every delivery file of the landing folder is published",
                       fingerprint), state
    return RunPlan(False, f"{_count(new, 'new delivery file')} of {_count(sources, 'source')} "
                   f"({', '.join(sorted(sources))}) in {_count(studies, 'study', 'studies')} "
                   f"({', '.join(sorted(studies))})", fingerprint, new, sources, studies), state


def _short(run_id: str | None) -> str:
    return run_id[:8] if run_id else "none recorded"


def _count(items: Iterable, one: str, many: str | None = None) -> str:
    n = len(list(items))
    return f"{n} {one if n == 1 else (many or one + 's')}"
