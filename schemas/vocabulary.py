"""The categories of the mart contract (marts.md), once: every reader imports them from here.

Plain constants and two small predicates, no import at all, so that the dbt Python models
(dbt/models/marts/agg_*_rates.py) can read them without pulling in the orchestrator, pandas,
pandera or Great Expectations. Readers: those dbt models, the GX suites (schemas/gx_suites.py),
the HTML report (dagster_project/lib/report/html_report.py), the figures and the source
contract's response codes (schemas/clinical.py). tests/test_contract_consistency.py checks the
lists against marts.md.
"""

# ---- grades (fct_toxicity_daily, fct_subject_endpoints) ---------------------------------------

# Grades are integers 0..5 (grade 5 = death).
MIN_GRADE, MAX_GRADE = 0, 5
GRADES = (MIN_GRADE, MAX_GRADE)

# ---- agg_toxicity_rates -----------------------------------------------------------------------

# The graded toxicities; fct_subject_endpoints holds each one's adjudicated max grade in
# `<toxicity lower-case>_max_grade` (crs_max_grade, icans_max_grade).
TOXICITIES = ("CRS", "ICANS")
# IEC-HS, the HLH-like syndrome ("carHLH"): present or absent, no grade required
# (studies-and-inputs.md). toxicity_summaries and agg_toxicity_rates take all three.
PRESENCE_TOXICITY = "IEC-HS"
SUMMARY_TOXICITIES = (*TOXICITIES, PRESENCE_TOXICITY)

# Toxicity grading criteria; the first is the default (a study's first listed is its primary,
# the one fct_subject_endpoints reports).
TOXICITY_CRITERIA = ("ASTCT2019", "Lee2014", "CTCAE5")
DEFAULT_TOXICITY_CRITERIA = TOXICITY_CRITERIA[0]

# Where a subject's toxicity endpoint comes from (int_toxicity_max_grades.endpoint_source,
# fct_subject_endpoints.crs_endpoint_source): its daily adjudicated grades, else its summary,
# else none recorded (max grade 0).
ENDPOINT_SOURCES = ("daily", "summary", "none")

# grade_category -> (lowest, highest) max grade it counts; None = no upper bound.
# any = max grade >= 1, severe = >= 3, grade_k = exactly k.
GRADE_CATEGORY_BOUNDS: dict[str, tuple[int, int | None]] = {
    "any": (1, None),
    "severe": (3, None),
    **{f"grade_{k}": (k, k) for k in range(MIN_GRADE, MAX_GRADE + 1)},
}
GRADE_CATEGORIES = tuple(GRADE_CATEGORY_BOUNDS)


def max_grade_column(toxicity: str) -> str:
    """The fct_subject_endpoints column of a toxicity's adjudicated max grade: CRS -> crs_max_grade."""
    return f"{toxicity.lower()}_max_grade"


def in_grade_category(grade, category: str):
    """Whether a max grade is in the category: a bool for a number, a boolean Series for a pandas
    Series (a missing grade is in no category)."""
    low, high = GRADE_CATEGORY_BOUNDS[category]
    if high is None:
        return grade >= low
    if low == high:
        return grade == low
    return (grade >= low) & (grade <= high)


# ---- agg_response_rates -----------------------------------------------------------------------

# Response codes (Lugano 2014), best first: CR > PR > SD > PD rank; NE (not evaluable, or no
# assessment on study days 1..100) is not ranked. The source contract's `response` values
# (schemas.clinical.RESPONSES) and fct_subject_endpoints.best_response_d100 alike.
RESPONSES = ("CR", "PR", "SD", "PD", "NE")
# Response criteria (studies-and-inputs.md); ALL-MRD qualifies a CR with `mrd`.
RESPONSE_CRITERIA = ("Lugano2014", "ALL-MRD", "IMWG2016", "iwCLL2018")
MRD_STATUSES = ("negative", "positive")

# measure -> the best responses it counts: ORR = CR or PR, then each response on its own.
RESPONSE_MEASURES: dict[str, tuple[str, ...]] = {"ORR": ("CR", "PR"), **{r: (r,) for r in RESPONSES}}
MEASURES = tuple(RESPONSE_MEASURES)
# A study whose response criteria include ALL-MRD also reports its CRs by MRD status
# (agg_response_rates): measure -> (best response, its assessment's mrd).
MRD_RESPONSE_CRITERIA = "ALL-MRD"
MRD_RESPONSE_MEASURES: dict[str, tuple[str, str]] = {"CR_MRD_NEG": ("CR", "negative"), "CR_MRD_POS": ("CR", "positive")}
MRD_MEASURES = tuple(MRD_RESPONSE_MEASURES)

# ---- studies ----------------------------------------------------------------------------------

# A study's time mode: calendar dates, or study days only (de-identified exports).
TIME_MODES = ("calendar", "relative")
STUDY_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,39}$"

# ---- rate tables: groupings -------------------------------------------------------------------

# group_by of agg_toxicity_rates and agg_response_rates, in report order; the overall group's
# group_value is `all`.
OVERALL = "overall"
OVERALL_VALUE = "all"
RATE_GROUP_BYS = (OVERALL, "car_t_product", "disease")

# ---- agg_consort ------------------------------------------------------------------------------

# step in flow order (step_order = position, from 1).
CONSORT_STEPS = ("enrolled", "infused", "not_infused", "evaluable_toxicity", "evaluable_response")

# ---- fct_biomarker_results, fct_cytokine_kinetics ---------------------------------------------

SPECIMENS = ("serum", "csf")
CENSORING = ("none", "below_lloq", "above_uloq", "extrapolated")
ANALYTE_KINDS = ("cytokine", "lab", "csf_chemistry")
# (The harmonized unit of each analyte lives in dbt/seeds/unit_conversions.csv.)

# ---- analysis ---------------------------------------------------------------------------------

ENDPOINTS = ("OS", "PFS")  # km_curves, km_summary
KM_GROUP_BYS = (OVERALL, "disease")

# cytokine_curves.group_by: what a study groups its kinetic curves by (study.yml
# kinetics_group_by): a graded toxicity (its adjudicated max grade in two bands), IEC-HS (present
# or absent), or a subject attribute (one group per value). `group` is `all` (every subject) or
# the subject's group.
DEFAULT_KINETICS_GROUP_BY = "ICANS"
KINETICS_GRADE_BANDS = ((0, 2), (3, 4))  # max grade 5 (fatal) is in neither band


def graded_curve_groups(toxicity: str) -> tuple[str, ...]:
    """The groups of a graded toxicity: `ICANS 0-2`, `ICANS 3-4`."""
    return tuple(f"{toxicity} {low}-{high}" for low, high in KINETICS_GRADE_BANDS)


PRESENCE_CURVE_GROUPS = (f"{PRESENCE_TOXICITY} present", f"{PRESENCE_TOXICITY} absent")


def attribute_curve_group(value: str, attribute: str) -> str:
    """The group of a subject attribute's value: the value itself, told apart from `all`."""
    return f"{OVERALL_VALUE} ({attribute})" if value == OVERALL_VALUE else value


def attribute_curve_groups(values, attribute: str) -> tuple[str, ...]:
    """The groups of a subject attribute's values, in report order: numbers by value ('2' before
    '10'), then text."""
    def key(value: str):
        try:
            return (0, float(value), value)
        except ValueError:
            return (1, 0.0, value)

    return tuple(sorted({attribute_curve_group(str(v), attribute) for v in values}, key=key))


CURVE_GROUPS = (OVERALL_VALUE, *graded_curve_groups(DEFAULT_KINETICS_GROUP_BY))  # the default grouping's
