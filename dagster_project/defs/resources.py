"""Resources (the warehouse settings, one object from the environment; dbt) and the executor."""

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.lib.transform.project import dbt_project
from dagster_project.settings import Settings


@dg.definitions
def resources() -> dg.Definitions:
    # Every run, whoever starts it (the UI's "Materialize", the sensor, the schedule), executes its
    # steps one after another in one process, like `warehouse run`: DuckDB has one writer.
    return dg.Definitions(
        executor=dg.in_process_executor,
        resources={
            "settings": Settings.from_env(),
            "dbt": DbtCliResource(project_dir=dbt_project()),
        }
    )
