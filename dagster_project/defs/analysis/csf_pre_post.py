"""CSF before/after infusion with the partially matched Wilcoxon test (Park 2023 Fig 4B/C)."""

import dagster as dg

from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.csf_pre_post import csf_pre_post_png, panel_tests, panel_tests_note
from dagster_project.lib.analysis.csf_pre_post import select_pre_post, summarize
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings

RESULTS = dg.AssetKey(["marts", "fct_biomarker_results"])
TABLE = dg.AssetKey(["analysis", "csf_pre_post"])


@dg.asset(
    key=TABLE,
    deps=[RESULTS],
    group_name="analysis",
    kinds={"python", "duckdb"},
    description="CSF WBC, protein and cytokines before (last sample on days -14..0) and after (the "
    "sample on days 3..7 closest to day 5) infusion: n, medians, quartiles and the partially matched "
    "Wilcoxon test (Fong et al. 2018, robustrank pm.wilcox.test SR-MW, two-sided).",
)
def csf_pre_post_asset(settings: Settings) -> dg.MaterializeResult:
    # Only CSF rows enter the analysis (select_pre_post keeps specimen 'csf'): read those alone,
    # not the whole mart (17 GiB of pandas at 10,000 subjects).
    results = read_table(settings.db_path, "marts.fct_biomarker_results", where="specimen = 'csf'")
    selection = select_pre_post(results)
    summary = summarize(selection, results)
    replace_tables(settings.db_path, "analysis", {"csf_pre_post": summary}, settings.duckdb_config())
    png = csf_pre_post_png(selection, summary)
    tests = panel_tests_note(panel_tests(selection, summary))  # q over how many tests, panels without one
    return dg.MaterializeResult(
        metadata={
            **table_metadata(settings.db_path, [TABLE])[TABLE],
            **figure_metadata(png, settings.figures_dir, "csf_pre_post", tests),
        }
    )
