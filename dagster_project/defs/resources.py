"""Resources: the warehouse settings (one object, from the environment) and dbt."""

import dagster as dg
from dagster_dbt import DbtCliResource

from dagster_project.lib.transform.project import dbt_project
from dagster_project.settings import Settings


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "settings": Settings.from_env(),
            "dbt": DbtCliResource(project_dir=dbt_project()),
        }
    )
