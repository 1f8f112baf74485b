"""Best response by day 100 (Park 2023 Fig 3A / ED Fig 1A), drawn from the endpoints mart."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.figures.response import best_response_figure, response_note
from dagster_project.lib.warehouse import read_table
from dagster_project.settings import Settings

ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])


@dg.asset(
    key=["analysis", "best_response_figure"],
    deps=[ENDPOINTS, dg.AssetKey(["marts", "agg_response_rates"])],
    group_name="analysis",
    kinds={"python"},
    description="Best response by day 100 as stacked bars by product and by disease with ORR (Park 2023 "
    "Fig 3A / ED Fig 1A). NE is its own category here; the paper folds its one NE subject into PD.",
)
def best_response_figure_asset(settings: Settings) -> dg.MaterializeResult:
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints")
    png = best_response_figure(endpoints)
    return dg.MaterializeResult(
        metadata=figure_metadata(png, settings.figures_dir, "best_response", response_note(endpoints))
    )
