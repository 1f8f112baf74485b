"""Kaplan-Meier OS and PFS, overall and by disease, with the log-rank test (Park 2023 Fig 3B/C,
ED Fig 1B/C)."""

import dagster as dg

from dagster_project.lib.analysis.survival import build_km_tables
from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.survival import km_figure
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings

ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
CURVES, SUMMARY, LOGRANK = (dg.AssetKey(["analysis", name]) for name in ("km_curves", "km_summary", "km_logrank"))


def _logrank_p(logrank, endpoint: str) -> float | None:
    p = logrank.loc[logrank["endpoint"] == endpoint, "p_value"]
    return float(p.iloc[0]) if len(p) else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CURVES, deps=[ENDPOINTS], group_name="analysis", kinds={"python", "duckdb"},
            description="Kaplan-Meier OS and PFS (overall, by disease): one row per event or censoring time, "
            "pointwise 95% CI by log(-log) as R survfit(conf.type='log-log'); null where R gives none.",
        ),
        dg.AssetSpec(
            SUMMARY, deps=[ENDPOINTS], group_name="analysis", kinds={"python", "duckdb"},
            description="Per endpoint and group: subjects, events, median survival with its 95% CI and "
            "survival at 12 months (365.25 days); null where not reached.",
        ),
        dg.AssetSpec(
            LOGRANK, deps=[ENDPOINTS], group_name="analysis", kinds={"python", "duckdb"},
            description="Log-rank test between diseases (LBCL vs MCL in Park 2023) for OS and PFS.",
        ),
    ]
)
def survival_tables(settings: Settings):
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints")
    curves, summary, logrank = build_km_tables(endpoints)
    replace_tables(settings.db_path, "analysis", {"km_curves": curves, "km_summary": summary, "km_logrank": logrank}, settings.duckdb_config())
    folder = settings.figures_dir
    p = {e: _logrank_p(logrank, e) for e in ("OS", "PFS")}
    figures = figure_metadata(km_figure(curves, "OS", "overall"), folder, "km_os_overall")
    figures |= figure_metadata(km_figure(curves, "OS", "disease", p_value=p["OS"]), folder, "km_os_by_disease")
    figures |= figure_metadata(km_figure(curves, "PFS", "overall"), folder, "km_pfs_overall")
    figures |= figure_metadata(km_figure(curves, "PFS", "disease", p_value=p["PFS"]), folder, "km_pfs_by_disease")
    # rows, column types and the headline (km_summary: medians with NR where not reached)
    written = table_metadata(settings.db_path, [CURVES, SUMMARY, LOGRANK])
    yield dg.MaterializeResult(asset_key=CURVES, metadata={**written[CURVES], **figures})
    yield dg.MaterializeResult(asset_key=SUMMARY, metadata=written[SUMMARY])
    yield dg.MaterializeResult(asset_key=LOGRANK, metadata=written[LOGRANK])
