"""Clinical sources (sources.md, "Clinical sources"): one DataFrameModel per source.

Columns are validated as delivered text first (dates and datetimes stay text here; the raw
table stores dates as DATE and datetimes as the delivered text so that staging can take the
site's local calendar date before converting to UTC).
"""

from __future__ import annotations

from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import checks  # noqa: F401  (registers the custom checks)
from schemas.dtypes import Text
from schemas.vocabulary import (  # best first; also the marts' best_response_d100
    MRD_STATUSES, RESPONSE_CRITERIA, RESPONSES, SUMMARY_TOXICITIES, TOXICITY_CRITERIA,
)

SUBJECT_ID_PATTERN = r"^[A-Za-z0-9_-]{2,40}$"

SEXES = ("M", "F", "U")
ICE_SCORE_RANGE = (0, 10)  # Immune effector Cell-associated Encephalopathy score, both ends included
# Contract v2 (studies-and-inputs.md); a study's study.yml may declare more of both.
DISEASES = ("LBCL", "MCL", "FL", "B-ALL", "CLL", "MM", "other")
CAR_T_PRODUCTS = ("axi-cel", "brexu-cel", "tisa-cel", "liso-cel", "cilta-cel", "ide-cel", "obe-cel")
AGE_RANGE = (0, 120)  # CAR T trials treat children
# A study day (relative time: 7.25 = day 7 at 06:00): a decade either side of the infusion.
STUDY_DAY_RANGE = (-3653, 3653)
# A yes/no cell (subjects.infused, toxicity_summaries.present), in any case.
TRUE_TEXTS = ("true", "yes", "1", "y")
FALSE_TEXTS = ("false", "no", "0", "n")
BOOLEAN_TEXTS = tuple(sorted({f(v) for v in TRUE_TEXTS + FALSE_TEXTS for f in (str.lower, str.upper, str.capitalize)}))
SPECIMENS_SAMPLED = ("serum", "csf", "plasma")  # samples.specimen
VASOPRESSORS = ("norepinephrine", "epinephrine", "phenylephrine", "dopamine", "vasopressin")
# In order of intensity: the contract lists them room_air first (marts.md o2_device_worst).
O2_DEVICES = (
    "room_air", "nasal_cannula", "high_flow_nasal_cannula", "facemask", "nonrebreather",
    "venturi", "cpap", "bipap", "mechanical_ventilation",
)
CONSCIOUSNESS_LEVELS = (
    "normal", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable",
)
SEIZURE_VALUES = ("none", "resolved_rapidly", "nonconvulsive_eeg_resolved", "prolonged_or_repetitive")
MOTOR_WEAKNESS_VALUES = ("none", "deep_focal")
CEREBRAL_EDEMA_VALUES = ("none", "focal", "diffuse")
DRUGS = (
    "tocilizumab", "siltuximab", "anakinra", "dexamethasone", "methylprednisolone",
    "hydrocortisone", "prednisone", "levetiracetam", "other",
)
DOSE_UNITS = ("mg", "mg/kg")
ROUTES = ("IV", "SC", "PO")
INDICATIONS = ("crs", "icans", "prophylaxis", "other")

# Columns a site export may carry that identify a patient: dropped on read, never stored.
IDENTIFYING_COLUMNS = ("patient_name", "mrn", "date_of_birth")


class _Contract(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are kept aside by the reader, not rejected here
        coerce = True


class Subjects(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    site_id: Series[Text]
    enrolled_on: Series[Text] = pa.Field(iso_date=(), not_in_future=())
    # Nullable: a de-identified export may withhold age (our choice; the CD22 export has none).
    age_years: Series[pd.Int64Dtype] = pa.Field(ge=AGE_RANGE[0], le=AGE_RANGE[1], nullable=True)
    sex: Series[Text] = pa.Field(isin=list(SEXES))
    weight_kg: Optional[Series[float]] = pa.Field(ge=30, le=250, nullable=True)
    disease: Series[Text] = pa.Field(isin=list(DISEASES))
    car_t_product: Series[Text] = pa.Field(isin=list(CAR_T_PRODUCTS), nullable=True)
    infused_on: Series[Text] = pa.Field(iso_date=(), nullable=True)
    not_infused_reason: Optional[Series[Text]] = pa.Field(nullable=True)
    # Relative time: the flag instead of infused_on (true/false, yes/no, 1/0).
    infused: Optional[Series[Text]] = pa.Field(
        isin=list(BOOLEAN_TEXTS), nullable=True)

    @pa.dataframe_check(name="infused_not_before_enrolled")
    def infused_not_before_enrolled(cls, df: pd.DataFrame) -> pd.Series:
        # ISO dates compare correctly as text; a missing or malformed date is another rule's.
        return df["infused_on"].isna() | df["enrolled_on"].isna() | (df["infused_on"] >= df["enrolled_on"])

    @pa.dataframe_check(name="infused_on_and_product_together")
    def infused_on_and_product_together(cls, df: pd.DataFrame) -> pd.Series:
        # A relative-time subject says `infused` instead of giving infused_on.
        flag = df["infused"].astype("string").str.lower() if "infused" in df else pd.Series(pd.NA, index=df.index)
        infused = df["infused_on"].notna() | flag.isin(TRUE_TEXTS).fillna(False)
        return (~infused) == df["car_t_product"].isna()


class Vitals(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    recorded_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    temperature_c: Series[float] = pa.Field(ge=30, le=45, nullable=True)
    systolic_bp_mmhg: Series[pd.Int64Dtype] = pa.Field(ge=30, le=260, nullable=True)
    vasopressors: Series[Text] = pa.Field(agent_list={"allowed": VASOPRESSORS}, nullable=True)
    o2_device: Series[Text] = pa.Field(isin=list(O2_DEVICES), nullable=True)
    o2_flow_l_min: Optional[Series[float]] = pa.Field(ge=0, le=80, nullable=True)
    spo2_pct: Optional[Series[float]] = pa.Field(ge=50, le=100, nullable=True)


class NeuroAssessments(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    assessed_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    ice_score: Series[pd.Int64Dtype] = pa.Field(ge=ICE_SCORE_RANGE[0], le=ICE_SCORE_RANGE[1], nullable=True)
    consciousness: Series[Text] = pa.Field(isin=list(CONSCIOUSNESS_LEVELS), nullable=True)
    seizure: Series[Text] = pa.Field(isin=list(SEIZURE_VALUES), nullable=True)
    motor_weakness: Series[Text] = pa.Field(isin=list(MOTOR_WEAKNESS_VALUES), nullable=True)
    cerebral_edema: Series[Text] = pa.Field(isin=list(CEREBRAL_EDEMA_VALUES), nullable=True)


class ToxicityAssessments(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    assessed_on: Series[Text] = pa.Field(iso_date=(), not_in_future=())
    crs_grade: Series[pd.Int64Dtype] = pa.Field(ge=0, le=5, nullable=True)
    icans_grade: Series[pd.Int64Dtype] = pa.Field(ge=0, le=5, nullable=True)
    criteria: Series[Text] = pa.Field(isin=list(TOXICITY_CRITERIA))


class Medications(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    drug: Series[Text] = pa.Field(isin=list(DRUGS))
    administered_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
    dose: Series[float] = pa.Field(gt=0)
    dose_unit: Series[Text] = pa.Field(isin=list(DOSE_UNITS))
    route: Series[Text] = pa.Field(isin=list(ROUTES))
    indication: Series[Text] = pa.Field(isin=list(INDICATIONS))


class ResponseAssessments(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    assessed_on: Series[Text] = pa.Field(iso_date=(), not_in_future=())
    response: Series[Text] = pa.Field(isin=list(RESPONSES))
    criteria: Series[Text] = pa.Field(isin=list(RESPONSE_CRITERIA))
    # ALL-MRD: the MRD status of a CR (studies-and-inputs.md).
    mrd: Optional[Series[Text]] = pa.Field(isin=list(MRD_STATUSES), nullable=True)


class Outcomes(_Contract):
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    progressed_on: Series[Text] = pa.Field(iso_date=(), not_in_future=(), nullable=True)
    died_on: Series[Text] = pa.Field(iso_date=(), not_in_future=(), nullable=True)
    death_cause: Optional[Series[Text]] = pa.Field(nullable=True)
    last_known_alive_on: Series[Text] = pa.Field(iso_date=(), not_in_future=())
    # Relative time: the same three as study days (our names; the contract has one study_day per
    # dated column and outcomes has three).
    progressed_day: Optional[Series[float]] = pa.Field(ge=STUDY_DAY_RANGE[0], le=STUDY_DAY_RANGE[1], nullable=True)
    died_day: Optional[Series[float]] = pa.Field(ge=STUDY_DAY_RANGE[0], le=STUDY_DAY_RANGE[1], nullable=True)
    last_known_alive_day: Optional[Series[float]] = pa.Field(ge=STUDY_DAY_RANGE[0], le=STUDY_DAY_RANGE[1], nullable=True)


class ToxicitySummaries(_Contract):
    """The per-subject adjudication publications report when there are no daily grades."""

    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    toxicity: Series[Text] = pa.Field(isin=list(SUMMARY_TOXICITIES))
    criteria: Series[Text] = pa.Field(isin=list(TOXICITY_CRITERIA))
    present: Series[Text] = pa.Field(isin=list(BOOLEAN_TEXTS))
    max_grade: Optional[Series[pd.Int64Dtype]] = pa.Field(ge=0, le=5, nullable=True)
    onset_day: Optional[Series[float]] = pa.Field(ge=STUDY_DAY_RANGE[0], le=STUDY_DAY_RANGE[1], nullable=True)
    resolved_day: Optional[Series[float]] = pa.Field(ge=STUDY_DAY_RANGE[0], le=STUDY_DAY_RANGE[1], nullable=True)

    @pa.dataframe_check(name="present_agrees_with_max_grade")
    def present_agrees_with_max_grade(cls, df: pd.DataFrame) -> pd.Series:
        # present is grade >= 1; a summary saying otherwise contradicts itself.
        grade = df["max_grade"] if "max_grade" in df else pd.Series(pd.NA, index=df.index)
        present = df["present"].astype("string").str.lower().isin(TRUE_TEXTS)
        return (grade.isna() | ((grade >= 1) == present)).astype(bool)


class SubjectAttributes(_Contract):
    """Whatever a study reports per subject that the contract lacks (dose level, prior transplant)."""

    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    attribute: Series[Text] = pa.Field(str_length={"min_value": 1, "max_value": 80})
    value: Series[Text] = pa.Field(nullable=True)


class Samples(_Contract):
    """The manifest linking an instrument's specimen labels to subjects and times."""

    sample_label: Series[Text] = pa.Field(str_length={"min_value": 1, "max_value": 120})
    subject_id: Series[Text] = pa.Field(str_matches=SUBJECT_ID_PATTERN)
    specimen: Series[Text] = pa.Field(isin=list(SPECIMENS_SAMPLED))
    collected_at: Series[Text] = pa.Field(iso_datetime=(), not_in_future=())
