"""The figure catalogue: every figure the analysis assets write, by file stem, with its caption,
in report order. The one place a figure's caption is written.

The assets (``dagster_project.defs.analysis``) save ``<figures dir>/<study_id>/<stem>.png`` (one
folder per study) only for a stem listed here and put its caption (plus the run's own numbers)
in their metadata; the HTML report (``dagster_project.lib.report.html_report``) shows each
study's figures in this order under these captions. A study draws the figures its data allow.
"""

from __future__ import annotations

__all__ = ["CAPTIONS", "EXPLAINED_BY", "FIGURES", "STEMS", "caption", "explain_hint"]

# (stem, caption), in the order the report shows them.
FIGURES: tuple[tuple[str, str], ...] = (
    # defs/analysis/toxicity.py
    ("toxicity_rates_by_product",
     "CRS and ICANS rates with 95% Clopper-Pearson intervals and max-grade distributions by CAR T product "
     "(Park 2023 Fig 2)."),
    ("toxicity_rates_by_disease",
     "CRS and ICANS rates with 95% Clopper-Pearson intervals and max-grade distributions by disease."),
    # defs/analysis/response.py
    ("best_response",
     "Best response by day 100 by CAR T product and by disease, with ORR (Park 2023 Fig 3A / ED Fig 1A)."),
    # defs/analysis/survival.py
    ("km_os_overall", "Overall survival, Kaplan-Meier with 95% CI (Park 2023 Fig 3B)."),
    ("km_pfs_overall", "Progression-free survival, Kaplan-Meier with 95% CI (Park 2023 Fig 3C)."),
    ("km_os_by_disease",
     "Overall survival by disease, Kaplan-Meier with 95% CI and log-rank p; the legend gives each disease's "
     "subjects, smaller groups are drawn on top with markers."),
    ("km_pfs_by_disease",
     "Progression-free survival by disease, Kaplan-Meier with 95% CI and log-rank p; the legend gives each "
     "disease's subjects, smaller groups are drawn on top with markers."),
    # defs/analysis/cytokine_curves.py
    ("serum_cytokines_all",
     "Serum cytokines over time, all infused subjects: LOESS line with dashed 95% band; n = samples fitted "
     "and their subjects (Park 2023 Fig 4A)."),
    ("serum_cytokines_by_icans",
     "Serum cytokines by adjudicated ICANS max grade 0-2 vs 3-4; n = samples fitted and their subjects "
     "(Park 2023 ED Fig 2)."),
    ("serum_cytokines_by_group",
     "Serum cytokines over study days by the study's kinetics grouping (study.yml kinetics_group_by: a "
     "toxicity's max grade 0-2 vs 3-4, IEC-HS present vs absent, or a subject attribute's values), every serum "
     "cytokine of the study: LOESS line with shaded 95% band; n = samples fitted and their subjects (carHLH: "
     "Lichtenstein 2021)."),
    # defs/analysis/csf_pre_post.py
    ("csf_pre_post",
     "CSF before vs after infusion, partially matched Wilcoxon p-values with Benjamini-Hochberg q-values over "
     "the panels tested; no p-value where every pre or every post value is censored (Park 2023 Fig 4B/C)."),
    # defs/analysis/intervention.py
    ("anakinra_swimmer",
     "Clinical course of the subjects with an anakinra course (Wehrli 2022 Fig 1): adjudicated daily CRS "
     "grade, peak ICANS grade, steroid dexamethasone-equivalent mg/day (grey), X tocilizumab, star anakinra, "
     "* deceased."),
    ("anakinra_tmax_anc_plt",
     "Highest temperature (24 h windows) and ANC, platelets (48 h windows) before the first vs after the "
     "last anakinra dose, paired t-test (Wehrli 2022 Fig 2A/B)."),
    ("anakinra_ctcae_pies",
     "Worst CTCAE v5.0 grade of ANC and platelets on study days 21-28 after the last dose (Wehrli 2022 "
     "Fig 2C); subjects without a value in that window are shown as such."),
    ("anakinra_crp_ferritin_waterfall",
     "Percent change of CRP and ferritin, 48 h before the first vs 48 h after the last dose; dark red "
     "alive, light red deceased (Wehrli 2022 Fig 2D/E)."),
    ("anakinra_cytokines",
     "Serum cytokines, latest sample on study days 1-2 before the first dose vs earliest on days 2-8 "
     "after the last, ratio paired t-test with Benjamini-Hochberg q-values over the cytokines tested; no "
     "p-value where every before or every after value is censored (Wehrli 2022 Fig 3)."),
)
CAPTIONS: dict[str, str] = dict(FIGURES)

# The table behind a figure's numbers, with the filter that picks them, for `warehouse explain`
# (issue 17): the asset's metadata says how to trace a number of the figure to its delivered rows.
# The LOESS curves have no row-level lineage (a curve point is a fit over every sample).
EXPLAINED_BY: dict[str, str] = {
    "toxicity_rates_by_product": "marts.agg_toxicity_rates --where group_by=car_t_product",
    "toxicity_rates_by_disease": "marts.agg_toxicity_rates --where group_by=disease",
    "best_response": "marts.agg_response_rates --where group_by=disease",
    "km_os_overall": "analysis.km_summary --where endpoint=OS --where group_by=overall",
    "km_pfs_overall": "analysis.km_summary --where endpoint=PFS --where group_by=overall",
    "km_os_by_disease": "analysis.km_logrank --where endpoint=OS",
    "km_pfs_by_disease": "analysis.km_logrank --where endpoint=PFS",
    "csf_pre_post": "analysis.csf_pre_post --where analyte=IL6",
    "anakinra_tmax_anc_plt": "analysis.intervention_tests --where measure=TMAX",
    "anakinra_crp_ferritin_waterfall": "analysis.intervention_windows --where measure=CRP",
    "anakinra_cytokines": "analysis.intervention_tests --where measure=IL6",
}
STEMS: tuple[str, ...] = tuple(CAPTIONS)


def explain_hint(stem: str) -> str:
    """How to trace a number of the figure to its delivered rows ('' when it has no lineage)."""
    if stem not in EXPLAINED_BY:
        return ""
    return (f"Its numbers down to the delivered rows: `uv run warehouse explain {EXPLAINED_BY[stem]} --json` "
            "(README, \"Explain a number\").")


def caption(stem: str) -> str:
    """The caption of the figure saved as ``<stem>.png``; KeyError for a stem not catalogued."""
    try:
        return CAPTIONS[stem]
    except KeyError:
        raise KeyError(f"figure {stem!r} is not in dagster_project/figures/catalogue.py") from None
