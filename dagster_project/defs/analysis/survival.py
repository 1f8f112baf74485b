"""Kaplan-Meier OS and PFS, overall and by disease, with the log-rank test (Park 2023 Fig 3B/C,
ED Fig 1B/C), per study; the figures of each study that has survival data."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import (figure_label, read_studies, remove_stale_figures, studies_to_compute,
                                                   study_folder)
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.survival import km_figure
from dagster_project.lib.analysis.studies import study_rows
from dagster_project.lib.analysis.survival import build_km_tables_by_study, has_survival_data
from dagster_project.lib.lineage.edges import edge_frame
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings

ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
STUDIES = dg.AssetKey(["marts", "dim_studies"])
CURVES, SUMMARY, LOGRANK = (dg.AssetKey(["analysis", name]) for name in ("km_curves", "km_summary", "km_logrank"))
STEMS = {"OS": ("km_os_overall", "km_os_by_disease"), "PFS": ("km_pfs_overall", "km_pfs_by_disease")}


def _logrank_p(logrank, endpoint: str) -> float | None:
    p = logrank.loc[logrank["endpoint"] == endpoint, "p_value"]
    return float(p.iloc[0]) if len(p) else None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            CURVES, deps=[ENDPOINTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Kaplan-Meier OS and PFS per study (overall, by disease): one row per event or censoring "
            "time, pointwise 95% CI by log(-log) as R survfit(conf.type='log-log'); null where R gives none.",
        ),
        dg.AssetSpec(
            SUMMARY, deps=[ENDPOINTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Per study, endpoint and group: subjects, events, median survival with its 95% CI and "
            "survival at 12 months (365.25 days); null where not reached.",
        ),
        dg.AssetSpec(
            LOGRANK, deps=[ENDPOINTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Per study, log-rank test between diseases (LBCL vs MCL in Park 2023) for OS and PFS.",
        ),
    ]
)
def survival_tables(context: dg.AssetExecutionContext, settings: Settings):
    studies = read_studies(settings.db_path)
    computed, only = studies_to_compute(context.run.tags, studies)
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints")
    edges: list = []
    curves, summary, logrank = build_km_tables_by_study(endpoints, [s.study_id for s in computed], edges=edges)
    replace_tables(settings.db_path, "analysis", {"km_curves": curves, "km_summary": summary, "km_logrank": logrank},
                   settings.duckdb_config(), lineage=edge_frame(edges), studies=only)
    figures, not_drawn = {}, []
    for study in computed:
        sid, label = study.study_id, figure_label(studies, study.study_id)
        folder = study_folder(settings.figures_dir, sid)
        s_curves, s_summary, s_logrank = (study_rows(t, sid) for t in (curves, summary, logrank))
        p = {e: _logrank_p(s_logrank, e) for e in ("OS", "PFS")}
        drawn = []
        if has_survival_data(s_summary, "OS"):
            figures |= figure_metadata(km_figure(s_curves, "OS", "overall"), folder, "km_os_overall", study=label)
            figures |= figure_metadata(km_figure(s_curves, "OS", "disease", p_value=p["OS"]), folder,
                                       "km_os_by_disease", study=label)
            drawn += STEMS["OS"]
        if has_survival_data(s_summary, "PFS"):
            figures |= figure_metadata(km_figure(s_curves, "PFS", "overall"), folder, "km_pfs_overall", study=label)
            figures |= figure_metadata(km_figure(s_curves, "PFS", "disease", p_value=p["PFS"]), folder,
                                       "km_pfs_by_disease", study=label)
            drawn += STEMS["PFS"]
        missing = [e for e in STEMS if STEMS[e][0] not in drawn]
        if missing:
            not_drawn.append(f"study {sid}: no {' and no '.join(missing)} figure (no subject with a survival time"
                             f"{', relative-time export' if study.relative else ''})")
        remove_stale_figures(folder, [stem for pair in STEMS.values() for stem in pair], drawn)
    if not_drawn:
        figures["figures_not_drawn"] = dg.MetadataValue.text("; ".join(not_drawn) + ".")
    # rows, column types and the headline (km_summary: medians with NR where not reached)
    written = table_metadata(settings.db_path, [CURVES, SUMMARY, LOGRANK])
    yield dg.MaterializeResult(asset_key=CURVES, metadata={**written[CURVES], **figures})
    yield dg.MaterializeResult(asset_key=SUMMARY, metadata=written[SUMMARY])
    yield dg.MaterializeResult(asset_key=LOGRANK, metadata=written[LOGRANK])
