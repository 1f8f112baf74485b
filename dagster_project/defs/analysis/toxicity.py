"""Park 2023 Figure 2 (CRS and ICANS rates overall, by grade and product) from the rates mart, per
study, by the study's primary toxicity criteria."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import figure_label, read_studies, remove_stale_figures, study_folder
from dagster_project.figures.toxicity import toxicity_rates_figure
from dagster_project.lib.analysis.studies import study_rows
from dagster_project.lib.warehouse import read_table
from dagster_project.settings import Settings
from schemas.vocabulary import TOXICITIES

STEMS = ("toxicity_rates_by_product", "toxicity_rates_by_disease")


@dg.asset(
    key=["analysis", "toxicity_rates_figure"],
    deps=[dg.AssetKey(["marts", "agg_toxicity_rates"]), dg.AssetKey(["marts", "dim_studies"])],
    group_name="analysis",
    kinds={"python"},
    description="Park 2023 Figure 2 rendered per study from marts.agg_toxicity_rates (the study's primary "
    "toxicity criteria): overall CRS/ICANS rates with 95% Clopper-Pearson intervals, and max-grade "
    "distributions by CAR T product and by disease.",
)
def toxicity_rates_figure_asset(settings: Settings) -> dg.MaterializeResult:
    studies = read_studies(settings.db_path)
    rates = read_table(settings.db_path, "marts.agg_toxicity_rates")
    metadata, not_drawn = {}, []
    for study in studies:
        sid = study.study_id
        rows = study_rows(rates, sid)
        criteria = study.primary_toxicity_criteria
        if "criteria" in rows.columns:
            rows = rows[rows["criteria"] == criteria]
        graded = rows[rows["toxicity"].isin(TOXICITIES) & (rows["n_total"] > 0)]
        folder, label, drawn = study_folder(settings.figures_dir, sid), figure_label(studies, sid), []
        if len(graded):
            metadata |= figure_metadata(toxicity_rates_figure(rows, group_by="car_t_product", criteria=criteria),
                                        folder, "toxicity_rates_by_product", study=label)
            metadata |= figure_metadata(toxicity_rates_figure(rows, group_by="disease", criteria=criteria),
                                        folder, "toxicity_rates_by_disease", study=label)
            drawn += STEMS
        else:
            not_drawn.append(f"study {sid}: no CRS or ICANS rate by {criteria}, no figure")
        remove_stale_figures(folder, STEMS, drawn)
    if not_drawn:
        metadata["figures_not_drawn"] = dg.MetadataValue.text("; ".join(not_drawn) + ".")
    return dg.MaterializeResult(metadata=metadata)
