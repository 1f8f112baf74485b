"""Where the warehouse reads and writes, from the environment (README, "Configuration").

Every setting is an environment variable with a default relative to the project root; paths
are made absolute so that dbt (which runs in dbt/) and Dagster see the same files.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

DEFAULTS: dict[str, str] = {
    "WAREHOUSE_LANDING_DIR": "data/landing",
    "WAREHOUSE_DB_PATH": "data/warehouse.duckdb",
    "WAREHOUSE_SERVING_DB_PATH": "data/serving.duckdb",
    "WAREHOUSE_SITE_TIMEZONE": "UTC",
    "DAGSTER_HOME": "data/dagster_home",
}
_PATHS = ("WAREHOUSE_LANDING_DIR", "WAREHOUSE_DB_PATH", "WAREHOUSE_SERVING_DB_PATH", "DAGSTER_HOME")


def apply_defaults() -> None:
    """Fill unset variables with the defaults and make every path absolute (idempotent)."""
    for name, default in DEFAULTS.items():
        value = os.environ.get(name) or default
        if name in _PATHS:
            path = Path(value)
            value = str(path if path.is_absolute() else (PROJECT_ROOT / path).resolve())
        os.environ[name] = value
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    instance_config = home / "dagster.yaml"
    if not instance_config.exists():
        instance_config.write_text(DAGSTER_INSTANCE_YAML)


# The Dagster instance: no telemetry leaves the machine; failed runs are retried (a locked
# DuckDB file is the usual cause); run history is kept in DAGSTER_HOME.
DAGSTER_INSTANCE_YAML = """\
telemetry:
  enabled: false
run_retries:
  enabled: true
  max_retries: 2
"""


# DuckDB's memory ceiling for the pipeline's own writer connections (ingest, publish, analysis
# tables) and dbt's (dbt/profiles.yml reads the same variable). DuckDB's default is 80% of RAM:
# a serving copy of a 100,000-subject warehouse held 8.5 GiB before it was written out.
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"


def duckdb_config() -> dict[str, str]:
    """Settings for a DuckDB connection the pipeline writes through (WAREHOUSE_DUCKDB_MEMORY_LIMIT)."""
    return {"memory_limit": os.environ.get("WAREHOUSE_DUCKDB_MEMORY_LIMIT", "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT}


def number_from_env(name: str, default: float, *, whole: bool = False, minimum: float | None = None,
                    meaning: str = "a number") -> float:
    """A numeric setting: the variable's value, or `default` when unset or blank; a clear error
    naming the variable when it is not a number (or not whole, or below `minimum`)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be {meaning}, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value}")
    return value


def path(name: str) -> Path:
    apply_defaults()
    return Path(os.environ[name])
