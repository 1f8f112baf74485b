"""The tables with a Great Expectations suite, once.

No import (Great Expectations takes seconds to import): the Dagster definitions read this list to
declare one blocking check per table (dagster_project/defs/quality/checks.py) without loading GX,
and schemas/gx_suites.py builds SUITES from it, one suite function per table, named after the
table (`marts.dim_subjects` -> `dim_subjects(cohort)`).
"""

# schema.name: the warehouse relation and the Dagster asset key schema/name.
CHECKED_TABLES = (
    "marts.dim_studies",
    "marts.dim_subjects",
    "marts.fct_toxicity_daily",
    "marts.fct_subject_endpoints",
    "marts.fct_biomarker_results",
    "marts.fct_cytokine_kinetics",
    "marts.fct_toxicity_concordance",
    "marts.agg_toxicity_rates",
    "marts.agg_response_rates",
    "marts.agg_consort",
    "analysis.km_curves",
    "analysis.km_summary",
    "analysis.cytokine_curves",
    "analysis.csf_pre_post",
)
