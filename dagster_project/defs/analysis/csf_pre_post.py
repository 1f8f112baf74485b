"""CSF before/after infusion with the partially matched Wilcoxon test (Park 2023 Fig 4B/C), per study;
the figure of each study that has CSF samples."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import (figure_label, read_studies, remove_stale_figures, studies_to_compute,
                                                   study_folder)
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.csf_pre_post import csf_pre_post_png, panel_tests, panel_tests_note
from dagster_project.lib.analysis.csf_pre_post import COLUMNS, lineage, select_pre_post, summarize
from dagster_project.lib.lineage.edges import edge_frame
from dagster_project.lib.analysis.studies import stack
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings

RESULTS = dg.AssetKey(["marts", "fct_biomarker_results"])
STUDIES = dg.AssetKey(["marts", "dim_studies"])
TABLE = dg.AssetKey(["analysis", "csf_pre_post"])


@dg.asset(
    key=TABLE,
    deps=[RESULTS, STUDIES],
    group_name="analysis",
    kinds={"python", "duckdb"},
    description="Per study, CSF WBC, protein and cytokines before (last sample on days -14..0) and after (the "
    "sample on days 3..7 closest to day 5) infusion: n, medians, quartiles and the partially matched "
    "Wilcoxon test (Fong et al. 2018, robustrank pm.wilcox.test SR-MW, two-sided). The samples behind each "
    "value (their delivered rows) are written with it to audit.analysis_lineage.",
)
def csf_pre_post_asset(context: dg.AssetExecutionContext, settings: Settings) -> dg.MaterializeResult:
    studies = read_studies(settings.db_path)
    computed, only = studies_to_compute(context.run.tags, studies)
    parts, edges, figures, not_drawn = [], [], {}, []
    for study in computed:
        sid = study.study_id
        # Only the study's CSF rows enter the analysis (select_pre_post keeps specimen 'csf'): read
        # those alone, not the whole mart (17 GiB of pandas at 10,000 subjects).
        results = read_table(settings.db_path, "marts.fct_biomarker_results", where="study_id = ? and specimen = 'csf'",
                             params=[sid]).drop(columns="study_id", errors="ignore")
        selection = select_pre_post(results)
        summary = summarize(selection, results)
        parts.append((sid, summary))
        edges.append(lineage(sid, selection, summary))
        folder, drawn = study_folder(settings.figures_dir, sid), []
        if len(results):
            png = csf_pre_post_png(selection, summary)
            tests = panel_tests_note(panel_tests(selection, summary))  # q over how many tests, panels without one
            figures |= figure_metadata(png, folder, "csf_pre_post", tests, study=figure_label(studies, sid))
            drawn.append("csf_pre_post")
        else:
            not_drawn.append(f"study {sid}: no CSF sample, no figure")
        remove_stale_figures(folder, ["csf_pre_post"], drawn)
    table = stack(parts, COLUMNS)
    replace_tables(settings.db_path, "analysis", {"csf_pre_post": table}, settings.duckdb_config(),
                   lineage=edge_frame(edges), studies=only)
    if not_drawn:
        figures["figures_not_drawn"] = dg.MetadataValue.text("; ".join(not_drawn) + ".")
    return dg.MaterializeResult(metadata={**table_metadata(settings.db_path, [TABLE])[TABLE], **figures})
