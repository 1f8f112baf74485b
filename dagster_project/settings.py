"""Every setting of the warehouse in one object, built from the environment (README, "Configuration").

`Settings.from_env()` reads each `WAREHOUSE_*` variable (and `DAGSTER_HOME`) once, fills the
defaults below, makes paths absolute (relative ones are relative to the project root, so dbt,
which runs in dbt/, and Dagster see the same files) and checks numbers and the time zone with a
message naming the variable. Every folder the warehouse writes is derived here from the
warehouse file's folder (the data dir) and nowhere else.

`Settings` is also the Dagster resource `settings`: assets, checks and the sensor take it as a
parameter; the CLI builds it with `from_env()`. Importing this module reads nothing and writes
nothing; `export_environment()` and `prepare_dagster_home()` are called by the entry points
(`warehouse run`, `warehouse dev`) and by the dbt asset, never on import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from schemas.contract import SOURCES
from schemas.study import valid_study_id
from schemas.vocabulary import STUDY_ID_PATTERN
from stats.ctcae import DEFAULT_LLN

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

# variable -> default (paths relative to the project root). dbt/profiles.yml and dbt_project.yml
# repeat three of these as the defaults of a hand-run `dbt`; tests/test_settings.py keeps them equal.
DEFAULTS: dict[str, str] = {
    "WAREHOUSE_LANDING_DIR": "data/landing",
    "WAREHOUSE_DB_PATH": "data/warehouse.duckdb",
    "WAREHOUSE_SERVING_DB_PATH": "data/serving.duckdb",
    "DAGSTER_HOME": "data/dagster_home",
    "WAREHOUSE_SITE_TIMEZONE": "UTC",
    # The study of the contract deliveries directly under the landing folder (<landing>/<source>/).
    "WAREHOUSE_DEFAULT_STUDY": "default",
    # DuckDB's memory ceiling for dbt and the pipeline's own writers. DuckDB's default is 80% of
    # RAM: a serving copy of a 100,000-subject warehouse held 8.5 GiB before it was written out.
    "WAREHOUSE_DUCKDB_MEMORY_LIMIT": "2GB",
    # R's loess is quadratic in n (README, "Choices"): the largest group a kinetic curve is fitted for.
    "WAREHOUSE_LOESS_MAX_POINTS": "5000",
    # The report's explain pages list every subject behind a number: above this many subjects a
    # study's numbers are not linked (at 10,000 subjects the pages took 200 s and 8.5 GiB);
    # `warehouse explain` answers for any of them.
    "WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS": "1000",
    "WAREHOUSE_CTCAE_LLN_ANC": f"{DEFAULT_LLN['ANC']:g}",
    "WAREHOUSE_CTCAE_LLN_PLT": f"{DEFAULT_LLN['PLT']:g}",
    # The log of the last `warehouse run` (dbt's and Dagster's output); blank: <data dir>/warehouse_run.log.
    "WAREHOUSE_RUN_LOG": "",
}

# The Dagster instance: no telemetry leaves the machine; one run at a time (DuckDB has one
# writer: a run the sensor starts while one launched from the UI is going waits in the queue
# instead of fighting it for the file); failed runs are retried (a locked DuckDB file is the
# usual cause); run history is kept in DAGSTER_HOME.
DAGSTER_INSTANCE_YAML = """\
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
run_retries:
  enabled: true
  max_retries: 2
"""


def _absolute(value: str) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (PROJECT_ROOT / path).resolve())


def _number(environ: Mapping[str, str], name: str, *, whole: bool = False, minimum: float | None = None,
            meaning: str = "a number") -> float:
    """The variable's value (its default when unset or blank); a clear error naming the variable
    when it is not a number, not whole, or below `minimum`."""
    raw = (environ.get(name) or "").strip() or DEFAULTS[name]
    try:
        value = int(raw) if whole else float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {meaning}, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value}")
    return value


def _text(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip() or DEFAULTS[name]


class Settings(dg.ConfigurableResource):
    """Where the warehouse reads and writes, and the numeric settings of its rules."""

    landing_dir: str
    db_path: str
    serving_db_path: str
    dagster_home: str = ""
    run_log_path: str = ""  # blank: <data dir>/warehouse_run.log
    site_timezone: str = DEFAULTS["WAREHOUSE_SITE_TIMEZONE"]
    default_study: str = DEFAULTS["WAREHOUSE_DEFAULT_STUDY"]
    duckdb_memory_limit: str = DEFAULTS["WAREHOUSE_DUCKDB_MEMORY_LIMIT"]
    loess_max_points: int = int(DEFAULTS["WAREHOUSE_LOESS_MAX_POINTS"])
    report_explain_max_subjects: int = int(DEFAULTS["WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS"])
    ctcae_lln_anc: float = DEFAULT_LLN["ANC"]
    ctcae_lln_plt: float = DEFAULT_LLN["PLT"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        """The settings of `environ` (default: this process's environment); `overrides` (field
        names) win over it."""
        env = os.environ if environ is None else environ
        zone = _text(env, "WAREHOUSE_SITE_TIMEZONE")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"WAREHOUSE_SITE_TIMEZONE must be an IANA time zone such as Europe/Paris, "
                             f"got {zone!r}") from exc
        study = _text(env, "WAREHOUSE_DEFAULT_STUDY")
        if not valid_study_id(study) or study in SOURCES:
            raise ValueError(f"WAREHOUSE_DEFAULT_STUDY must match {STUDY_ID_PATTERN} and not be a source name, "
                             f"got {study!r}")
        values = {
            "default_study": study,
            "landing_dir": _absolute(_text(env, "WAREHOUSE_LANDING_DIR")),
            "db_path": _absolute(_text(env, "WAREHOUSE_DB_PATH")),
            "serving_db_path": _absolute(_text(env, "WAREHOUSE_SERVING_DB_PATH")),
            "dagster_home": _absolute(_text(env, "DAGSTER_HOME")),
            "run_log_path": _absolute(_text(env, "WAREHOUSE_RUN_LOG")) if _text(env, "WAREHOUSE_RUN_LOG") else "",
            "site_timezone": zone,
            "duckdb_memory_limit": _text(env, "WAREHOUSE_DUCKDB_MEMORY_LIMIT"),
            "loess_max_points": int(_number(env, "WAREHOUSE_LOESS_MAX_POINTS", whole=True, minimum=1,
                                            meaning="a whole number of samples")),
            "report_explain_max_subjects": int(_number(env, "WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS", whole=True,
                                                       minimum=0, meaning="a whole number of subjects")),
            "ctcae_lln_anc": _number(env, "WAREHOUSE_CTCAE_LLN_ANC", meaning="a number (10^9/L)"),
            "ctcae_lln_plt": _number(env, "WAREHOUSE_CTCAE_LLN_PLT", meaning="a number (10^9/L)"),
        }
        values.update({k: (_absolute(str(v)) if k.endswith(("_dir", "_path", "_home")) else v)
                       for k, v in overrides.items()})
        return cls(**values)

    # ---- files and folders -------------------------------------------------------------------
    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def warehouse_file(self) -> Path:
        return Path(self.db_path)

    @property
    def serving_file(self) -> Path:
        return Path(self.serving_db_path)

    @property
    def data_dir(self) -> Path:
        """Every output beside the warehouse file lives under this folder (data/ by default)."""
        return Path(self.db_path).parent

    @property
    def figures_dir(self) -> Path:
        return self.data_dir / "figures"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def report_path(self) -> Path:
        return self.reports_dir / "warehouse_report.html"

    @property
    def dbt_docs_dir(self) -> Path:
        return self.data_dir / "dbt_docs"

    @property
    def run_log(self) -> Path:
        """What `warehouse run` writes besides its progress and summary: dbt's output and Dagster's
        log of the run (replaced by each run)."""
        return Path(self.run_log_path) if self.run_log_path else self.data_dir / "warehouse_run.log"

    @property
    def gx_dir(self) -> Path:
        """Great Expectations' own files: expectation suites, validation results, the lock."""
        return self.data_dir / "gx"

    @property
    def data_docs_dir(self) -> Path:
        """The Great Expectations Data Docs site."""
        return self.data_dir / "docs"

    def output_paths(self) -> list[Path]:
        """What the warehouse writes (what `warehouse clean` removes), landing folder excluded."""
        return [self.warehouse_file, self.warehouse_file.with_name(self.warehouse_file.name + ".wal"),
                self.serving_file, self.figures_dir, self.reports_dir, self.dbt_docs_dir, self.gx_dir,
                self.data_docs_dir, self.run_log, *([Path(self.dagster_home)] if self.dagster_home else [])]

    # ---- what other programs read --------------------------------------------------------------
    def duckdb_config(self) -> dict[str, str]:
        """Settings of a DuckDB connection the pipeline writes through."""
        return {"memory_limit": self.duckdb_memory_limit}

    def environment(self) -> dict[str, str]:
        """The variables dbt (profiles.yml, dbt_project.yml) and Dagster read, with absolute paths."""
        env = {
            "WAREHOUSE_LANDING_DIR": self.landing_dir,
            "WAREHOUSE_DB_PATH": self.db_path,
            "WAREHOUSE_SERVING_DB_PATH": self.serving_db_path,
            "WAREHOUSE_SITE_TIMEZONE": self.site_timezone,
            "WAREHOUSE_DEFAULT_STUDY": self.default_study,
            "WAREHOUSE_DUCKDB_MEMORY_LIMIT": self.duckdb_memory_limit,
            "WAREHOUSE_LOESS_MAX_POINTS": str(self.loess_max_points),
            "WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS": str(self.report_explain_max_subjects),
            "WAREHOUSE_CTCAE_LLN_ANC": f"{self.ctcae_lln_anc:g}",
            "WAREHOUSE_CTCAE_LLN_PLT": f"{self.ctcae_lln_plt:g}",
        }
        if self.run_log_path:
            env["WAREHOUSE_RUN_LOG"] = self.run_log_path
        if self.dagster_home:
            env["DAGSTER_HOME"] = self.dagster_home
        return env

    def export_environment(self) -> None:
        """Put `environment()` into this process's environment, for dbt and Dagster child processes."""
        os.environ.update(self.environment())

    def prepare_dagster_home(self) -> None:
        """Create DAGSTER_HOME with the instance config (no telemetry, run retries) if it has none."""
        home = Path(self.dagster_home)
        home.mkdir(parents=True, exist_ok=True)
        instance_config = home / "dagster.yaml"
        if not instance_config.exists():
            instance_config.write_text(DAGSTER_INSTANCE_YAML)
