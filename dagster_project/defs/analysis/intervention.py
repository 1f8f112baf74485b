"""Measures around an anakinra course (derivations.md, "Around an anakinra course"; Wehrli 2022
Figs 1-3): analysis.intervention_windows, intervention_tests, intervention_lab_grades and the
figures (swimmer plot, before/after pairs, CTCAE pies, waterfalls, cytokine pairs).

Configuration (environment):

- ``WAREHOUSE_CTCAE_LLN_ANC``: lower limit of normal of the neutrophil count for the CTCAE v5.0
  grades of ``intervention_lab_grades``, 10^9/L (default 2.0; must exceed 1.5);
- ``WAREHOUSE_CTCAE_LLN_PLT``: the same for platelets, 10^9/L (default 150; must exceed 75).

Per study: each study's courses, windows, tests and grades from its own rows (a relative-time
study on its study days, lib/analysis/intervention.intervention_study), stacked with study_id
first; the figures of each study with a course in ``<figures dir>/<study_id>/``. A cohort without
an anakinra course (doses for crs or icans; prophylactic anakinra, as in park2023, is not a
course) gives empty tables with their columns, no figures, and says so in the metadata.
"""


import dagster as dg

from dagster_project.lib.analysis.intervention import (
    COURSE_COLUMNS,
    LAB_GRADE_COLUMNS,
    TEST_COLUMNS,
    WINDOW_COLUMNS,
    anakinra_courses,
    intervention_study,
    on_study_day_timeline,
)
from dagster_project.lib.analysis.studies import stack, study_rows
from dagster_project.lib.lineage.edges import edge_frame
from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import (figure_label, read_studies, remove_stale_figures, studies_to_compute,
                                                   study_folder)
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.intervention import (
    cytokine_pairs_png,
    lab_grade_pies_png,
    paired_dots_png,
    swimmer_png,
    waterfall_png,
)
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.defs.table_metadata import frame_table
from dagster_project.settings import Settings

MEDICATIONS = dg.AssetKey(["staging", "stg_clinical__medications"])
VITALS = dg.AssetKey(["staging", "stg_clinical__vitals"])
RESULTS = dg.AssetKey(["marts", "fct_biomarker_results"])
DAILY = dg.AssetKey(["marts", "fct_toxicity_daily"])
ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
WINDOWS = dg.AssetKey(["analysis", "intervention_windows"])
TESTS = dg.AssetKey(["analysis", "intervention_tests"])
LAB_GRADES = dg.AssetKey(["analysis", "intervention_lab_grades"])
STUDIES = dg.AssetKey(["marts", "dim_studies"])
STEMS = ("anakinra_swimmer", "anakinra_tmax_anc_plt", "anakinra_ctcae_pies", "anakinra_crp_ferritin_waterfall",
         "anakinra_cytokines")

NO_COURSE = (
    "No anakinra course in this cohort (no anakinra dose with indication crs or icans; prophylactic "
    "doses are not a course): the tables are empty."
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            WINDOWS, deps=[MEDICATIONS, VITALS, RESULTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Per study and subject with a first anakinra course (crs/icans doses, gaps <= 72 h) x measure: "
            "TMAX (highest, 24 h before the first / after the last dose), ANC, PLT, CRP, ferritin (latest in "
            "the 48 h before / earliest in the 48 h after), serum cytokines (latest on study days first-2.."
            "first-1 / earliest on last+2..last+8); edges included; pct_change, ratio, and a status saying "
            "why a value is missing.",
        ),
        dg.AssetSpec(
            TESTS, deps=[MEDICATIONS, VITALS, RESULTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Per study and measure: paired t-test (TMAX, ANC, PLT, CRP, ferritin; with mean/median percent "
            "change) or ratio paired t-test with geometric mean ratio and 95% CI (cytokines), as R t.test; "
            "n_pairs and n_missing.",
        ),
        dg.AssetSpec(
            LAB_GRADES, deps=[MEDICATIONS, RESULTS, STUDIES], group_name="analysis", kinds={"python", "duckdb"},
            description="Per study and subject with a course x test (ANC, PLT): worst CTCAE v5.0 grade on study days "
            "last dose + 21..28 (LLN from WAREHOUSE_CTCAE_LLN_ANC / _PLT), null with a status when no value.",
        ),
    ]
)
def intervention_tables(context: dg.AssetExecutionContext, settings: Settings):
    llns = {"ANC": settings.ctcae_lln_anc, "PLT": settings.ctcae_lln_plt}
    studies = read_studies(settings.db_path)
    computed, only = studies_to_compute(context.run.tags, studies)
    parts: dict[str, list] = {"courses": [], "windows": [], "tests": [], "grades": []}
    edges: list = []  # the windows' and tests' lineage (lib/analysis/intervention.lineage)
    for study in computed:
        sid = study.study_id
        medications = _study_table(settings, "staging.stg_clinical__medications", sid)
        # only the subjects with a course: a few rows of marts of millions, filtered in DuckDB
        with_course = anakinra_courses(
            on_study_day_timeline(medications, "administered_at") if study.relative else medications
        )["subject_id"].tolist()
        vitals = _study_table(settings, "staging.stg_clinical__vitals", sid,
                              "subject_id, recorded_at, study_day, temperature_c, delivery_sha256, file_name, row_number",
                              subject_ids=with_course)
        results = _study_table(
            settings, "marts.fct_biomarker_results", sid,
            "measurement_id, subject_id, specimen, analyte, sample_id, collected_at, study_day, analysis_value, "
            "unit, censoring, substitution_rule, source, delivery_sha256, file_name, row_number, record_seq",
            subject_ids=with_course,
        )
        tables = intervention_study(medications, vitals, results, relative=study.relative,
                                    lln_anc=llns["ANC"], lln_plt=llns["PLT"], study_id=sid, edges=edges)
        for name, table in zip(parts, tables):
            parts[name].append((sid, table))
    courses = stack(parts["courses"], COURSE_COLUMNS)
    windows = stack(parts["windows"], WINDOW_COLUMNS)
    tests = stack(parts["tests"], TEST_COLUMNS)
    grades = stack(parts["grades"], LAB_GRADE_COLUMNS)
    replace_tables(
        settings.db_path,
        "analysis",
        {"intervention_windows": windows, "intervention_tests": tests, "intervention_lab_grades": grades},
        settings.duckdb_config(),
        lineage=edge_frame(edges),
        studies=only,
    )

    common = {"subjects_with_course": len(courses)}
    if courses.empty:
        common["note"] = NO_COURSE
    keys = ["study_id", "measure", "status"] if len(studies) > 1 else ["measure", "status"]
    status = windows.groupby(keys, sort=False).size().unstack(fill_value=0).reset_index()
    # rows, column types, and the tests' headline (formatted as in the report)
    written = table_metadata(settings.db_path, [WINDOWS, TESTS, LAB_GRADES])
    yield dg.MaterializeResult(
        asset_key=WINDOWS,
        metadata={
            **written[WINDOWS],
            **common,
            "courses": frame_table(courses if len(studies) > 1 else courses.drop(columns="study_id")),
            "status_by_measure": frame_table(status),
        },
    )
    yield dg.MaterializeResult(asset_key=TESTS, metadata={**written[TESTS], **common})
    yield dg.MaterializeResult(
        asset_key=LAB_GRADES,
        metadata={
            **written[LAB_GRADES],
            **common,
            "lln_anc": llns["ANC"],
            "lln_plt": llns["PLT"],
            "no_value_in_window": int((grades["status"] != "ok").sum()),
            "table": frame_table(grades.drop(columns=["lln"]) if len(studies) > 1
                                 else grades.drop(columns=["lln", "study_id"])),
        },
    )


@dg.asset(
    key=["analysis", "intervention_figures"],
    deps=[WINDOWS, TESTS, LAB_GRADES, DAILY, ENDPOINTS, STUDIES],
    group_name="analysis",
    kinds={"python"},
    description="Wehrli 2022 Figs 1-3 for the subjects with an anakinra course: swimmer plot (daily CRS grade, "
    "peak ICANS, steroid dex-equivalent mg, tocilizumab and anakinra days, deaths, by product); TMAX/ANC/PLT "
    "before vs after; CTCAE pies 3-4 weeks after; CRP and ferritin waterfalls; cytokine pairs.",
)
def intervention_figures(settings: Settings) -> dg.MaterializeResult:
    studies = read_studies(settings.db_path)
    all_windows = read_table(settings.db_path, "analysis.intervention_windows")
    all_tests = read_table(settings.db_path, "analysis.intervention_tests")
    all_grades = read_table(settings.db_path, "analysis.intervention_lab_grades")
    figures: dict = {}
    n_figures, n_subjects = 0, 0
    for study in studies:
        sid = study.study_id
        folder, label = study_folder(settings.figures_dir, sid), figure_label(studies, sid)
        windows = study_rows(all_windows, sid)
        if windows.empty:
            remove_stale_figures(folder, STEMS, [])
            continue
        tests, grades = study_rows(all_tests, sid), study_rows(all_grades, sid)
        subjects = sorted(windows["subject_id"].unique())
        daily = _study_table(settings, "marts.fct_toxicity_daily", sid, subject_ids=subjects)
        endpoints = _study_table(settings, "marts.fct_subject_endpoints", sid, subject_ids=subjects)
        missing = windows[windows["status"] != "paired"]
        gaps = f" {len(missing)} subject x measure rows without a pair (see status)." if len(missing) else ""
        figures |= figure_metadata(
            swimmer_png(daily, endpoints, subjects=subjects),
            folder, "anakinra_swimmer", f"{len(subjects)} subjects with an anakinra course.", study=label,
        )
        figures |= figure_metadata(
            paired_dots_png(windows, tests),
            folder, "anakinra_tmax_anc_plt", gaps, study=label,
        )
        lln = grades["lln"].dropna().unique()
        figures |= figure_metadata(
            lab_grade_pies_png(grades),
            folder, "anakinra_ctcae_pies", f"LLNs {', '.join(f'{v:g}' for v in lln)}.", study=label,
        )
        figures |= figure_metadata(
            waterfall_png(windows, endpoints, tests),
            folder, "anakinra_crp_ferritin_waterfall", study=label,
        )
        figures |= figure_metadata(
            cytokine_pairs_png(windows, tests, endpoints, dpi=90),
            folder, "anakinra_cytokines", study=label,
        )
        n_figures += len(STEMS)
        n_subjects += len(subjects)
    if not n_figures:
        return dg.MaterializeResult(metadata={"figures": 0, "note": NO_COURSE + " No figures were drawn."})
    return dg.MaterializeResult(metadata={"figures": n_figures, "subjects": n_subjects, **figures})


def _study_table(settings: Settings, relation: str, study_id: str, columns: str = "*", **filters):
    """One study's rows of a staging or mart table, without the study_id column."""
    rows = read_table(settings.db_path, relation, columns, where="study_id = ?", params=[study_id], **filters)
    return rows.drop(columns="study_id", errors="ignore")
