"""Resources: the warehouse settings, DuckDB and dbt, all from the environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from dagster_project.settings import apply_defaults
from dagster_project.defs.transform.project import dbt_project

apply_defaults()


class WarehouseSettings(dg.ConfigurableResource):
    """Folders and files the pipeline uses (README, Configuration)."""

    landing_dir: str
    db_path: str
    serving_db_path: str
    site_timezone: str = "UTC"

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "settings": WarehouseSettings(
                landing_dir=dg.EnvVar("WAREHOUSE_LANDING_DIR"),
                db_path=dg.EnvVar("WAREHOUSE_DB_PATH"),
                serving_db_path=dg.EnvVar("WAREHOUSE_SERVING_DB_PATH"),
                site_timezone=dg.EnvVar("WAREHOUSE_SITE_TIMEZONE"),
            ),
            "duckdb": DuckDBResource(database=dg.EnvVar("WAREHOUSE_DB_PATH")),
            "dbt": DbtCliResource(project_dir=dbt_project),
        }
    )
