"""Park 2023 Figure 2 (CRS and ICANS rates overall, by grade and product) from the rates mart."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.figures.toxicity import toxicity_rates_figure
from dagster_project.lib.warehouse import read_table
from dagster_project.settings import Settings


@dg.asset(
    key=["analysis", "toxicity_rates_figure"],
    deps=[dg.AssetKey(["marts", "agg_toxicity_rates"])],
    group_name="analysis",
    kinds={"python"},
    description="Park 2023 Figure 2 rendered from marts.agg_toxicity_rates: overall CRS/ICANS rates with "
    "95% Clopper-Pearson intervals, and max-grade distributions by CAR T product.",
)
def toxicity_rates_figure_asset(settings: Settings) -> dg.MaterializeResult:
    rates = read_table(settings.db_path, "marts.agg_toxicity_rates")
    folder = settings.figures_dir
    metadata = figure_metadata(toxicity_rates_figure(rates, group_by="car_t_product"), folder, "toxicity_rates_by_product")
    metadata |= figure_metadata(toxicity_rates_figure(rates, group_by="disease"), folder, "toxicity_rates_by_disease")
    return dg.MaterializeResult(metadata=metadata)
