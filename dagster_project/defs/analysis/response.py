"""Best response by day 100 (Park 2023 Fig 3A / ED Fig 1A), drawn from the endpoints mart, per study."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import figure_label, read_studies, remove_stale_figures, study_folder
from dagster_project.figures.response import best_response_figure, response_note
from dagster_project.lib.analysis.studies import study_rows
from dagster_project.lib.warehouse import read_table
from dagster_project.settings import Settings

ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
STUDIES = dg.AssetKey(["marts", "dim_studies"])


@dg.asset(
    key=["analysis", "best_response_figure"],
    deps=[ENDPOINTS, dg.AssetKey(["marts", "agg_response_rates"]), STUDIES],
    group_name="analysis",
    kinds={"python"},
    description="Per study, best response by day 100 as stacked bars by product and by disease with ORR (Park "
    "2023 Fig 3A / ED Fig 1A). NE is its own category here; the paper folds its one NE subject into PD.",
)
def best_response_figure_asset(settings: Settings) -> dg.MaterializeResult:
    studies = read_studies(settings.db_path)
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints")
    metadata, not_drawn = {}, []
    for study in studies:
        sid = study.study_id
        rows = study_rows(endpoints, sid)
        folder, drawn = study_folder(settings.figures_dir, sid), []
        if len(rows):
            criteria = study.primary_response_criteria
            metadata |= figure_metadata(best_response_figure(rows, criteria=criteria), folder, "best_response",
                                        response_note(rows, criteria=criteria), study=figure_label(studies, sid))
            drawn.append("best_response")
        else:
            not_drawn.append(f"study {sid}: no infused subject, no figure")
        remove_stale_figures(folder, ["best_response"], drawn)
    if not_drawn:
        metadata["figures_not_drawn"] = dg.MetadataValue.text("; ".join(not_drawn) + ".")
    return dg.MaterializeResult(metadata=metadata)
