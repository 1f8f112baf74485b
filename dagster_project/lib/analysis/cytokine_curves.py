"""`analysis.cytokine_curves`: LOESS kinetic curves of biomarkers (marts.md; derivations.md,
"Cytokine kinetics"; Park 2023 Fig. 4A and Extended Data Fig. 2).

For each specimen x analyte x group, LOESS of log10(analysis_value) on study day over every
sample of the group's subjects, span 0.75, degree 2, pointwise 95% band, evaluated on the whole
study days inside the group's range of sampled days. The fit is R's ``loess()`` default through
:func:`stats.loess.loess_band` (agreement with R to 1e-6 is tested there).

Groups (``group_by``, ``group``): a study groups its subjects by what its study.yml names in
``kinetics_group_by`` (marts.dim_studies; default ``ICANS``), and ``group`` holds the value:

- a graded toxicity (``ICANS``, ``CRS``): ``all``, ``ICANS 0-2`` and ``ICANS 3-4`` by the
  adjudicated max grade of ``fct_subject_endpoints`` (``icans_max_grade``, ``crs_max_grade``); a
  subject with no grade, or with grade 5 (fatal: in neither band), counts in ``all`` only;
- ``IEC-HS``: ``all``, ``IEC-HS present`` and ``IEC-HS absent`` by
  ``fct_subject_endpoints.iec_hs_present`` (null: ``all`` only);
- anything else is a subject attribute (``marts.dim_subject_attributes``): ``all`` and one group
  per value of that attribute among the study's subjects, sorted (numbers by value); a subject
  without the attribute counts in ``all`` only. A study naming an attribute none of its subjects
  has gets ``all`` alone.
The named groups of a toxicity are always reported (a group without samples has a
``too_small`` row), as are the values of an attribute.

Time: the curves are fitted on the delivered study day, fractional in a relative-time study
(7.25 = day 7 at 06:00: the real time of the sample), and evaluated on the whole study days
inside the group's sampled range; ``n_obs_day`` counts the samples of floor(study_day).

Several studies (:func:`cytokine_curves_by_study`): each study's curves from its own samples and
its own grouping, stacked with ``study_id`` first.

Choices (documented, counted):
- Values <= 0 have no log10. They are left out of the fit and counted per curve in
  ``n_nonpositive_excluded`` (repeated on each of its rows). With the default substitution rule
  a censored value is LLOQ/2 > 0, so this only concerns results delivered as 0.
- A group too small to fit (fewer than 3 distinct study days, a neighbourhood of fewer than 3
  points, no observation at all, or a loess failure) is not dropped: it gets ONE row with
  ``study_day``, ``fit_log10`` and the band null, ``status = 'too_small'`` and ``reason``.
  Fitted curves have ``status = 'ok'`` and ``reason`` null.
- A group of more than ``max_points`` samples (WAREHOUSE_LOESS_MAX_POINTS, default 5,000) is
  not fitted either: one row with ``status = 'too_large'`` and the reason. R's loess (and the
  same netlib code here) is quadratic in the number of points; a trial has a few hundred per
  curve, a 1,000-subject registry ~10,000, 10,000 subjects ~100,000 (hours per curve).
- ``n_obs`` is the number of samples in the group's fit (the same on every row of the curve);
  ``n_obs_day`` the number of those on that study day (0 on a day without samples).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dagster_project.lib.analysis.studies import stack, studies_of, study_rows
from stats.loess import STATUS_OK, STATUS_TOO_SMALL, loess_band
from schemas.analytes import CYTOKINE_CODES
from schemas.vocabulary import (
    CURVE_GROUPS,
    DEFAULT_KINETICS_GROUP_BY,
    KINETICS_GRADE_BANDS,
    PRESENCE_CURVE_GROUPS,
    PRESENCE_TOXICITY,
    TOXICITIES,
    attribute_curve_group,
    attribute_curve_groups,
    graded_curve_groups,
    max_grade_column,
)

__all__ = [
    "COLUMNS",
    "GROUPS",
    "IEC_HS_COLUMN",
    "SubjectGroups",
    "curve_order",
    "cytokine_curves",
    "cytokine_curves_by_study",
    "grade_group",
    "icans_group",
    "subject_groups",
]

GROUPS = CURVE_GROUPS  # the default grouping's: all, ICANS 0-2, ICANS 3-4
GROUP_ALL, GROUP_MILD, GROUP_SEVERE = GROUPS
IEC_HS_COLUMN = "iec_hs_present"  # fct_subject_endpoints

COLUMNS = [
    "specimen",
    "analyte",
    "group_by",
    "group",
    "study_day",
    "n_obs",
    "n_obs_day",
    "fit_log10",
    "ci_low_log10",
    "ci_high_log10",
    "se_log10",
    "residual_df",
    "n_subjects",
    "n_nonpositive_excluded",
    "status",
    "reason",
    "substitution_rule",
]

_REQUIRED = ("subject_id", "specimen", "analyte", "study_day", "analysis_value")


def grade_group(grade, toxicity: str = DEFAULT_KINETICS_GROUP_BY) -> str | None:
    """'<toxicity> 0-2' for adjudicated max grade 0..2, '<toxicity> 3-4' for 3..4, else None."""
    if grade is None or pd.isna(grade):
        return None
    g = int(grade)
    for (low, high), name in zip(KINETICS_GRADE_BANDS, graded_curve_groups(toxicity)):
        if low <= g <= high:
            return name
    return None


def icans_group(grade) -> str | None:
    """'ICANS 0-2' for adjudicated max grade 0..2, 'ICANS 3-4' for 3..4, else None."""
    return grade_group(grade, "ICANS")


class SubjectGroups:
    """A study's grouping: ``group_by``, its groups (``all`` first) and each subject's group."""

    def __init__(self, group_by: str, groups: tuple[str, ...], of_subject: pd.Series):
        self.group_by = group_by
        self.groups = groups  # all, then the named groups in report order
        self.of_subject = of_subject  # subject_id -> group (missing: `all` only)

    @property
    def named(self) -> tuple[str, ...]:
        return self.groups[1:]


def _bool_or_none(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return bool(value)


def subject_groups(
    endpoints: pd.DataFrame,
    group_by: str | None = DEFAULT_KINETICS_GROUP_BY,
    attributes: pd.DataFrame | None = None,
) -> SubjectGroups:
    """The groups of one study's subjects by ``group_by`` (see the module doc).

    ``endpoints``: ``fct_subject_endpoints`` rows (subject_id and the column the grouping reads:
    ``<toxicity>_max_grade`` or ``iec_hs_present``); ``attributes``: ``dim_subject_attributes``
    rows (subject_id, attribute, value) for an attribute grouping.
    """
    group_by = group_by or DEFAULT_KINETICS_GROUP_BY
    if group_by in TOXICITIES:
        column = max_grade_column(group_by)
        if column not in endpoints.columns:
            raise ValueError(f"endpoints lacks column {column!r} (kinetics grouped by {group_by})")
        of_subject = endpoints.set_index("subject_id")[column].map(lambda g: grade_group(g, group_by))
        return SubjectGroups(group_by, (GROUP_ALL, *graded_curve_groups(group_by)), of_subject)
    if group_by == PRESENCE_TOXICITY:
        if IEC_HS_COLUMN not in endpoints.columns:
            raise ValueError(f"endpoints lacks column {IEC_HS_COLUMN!r} (kinetics grouped by {group_by})")
        present, absent = PRESENCE_CURVE_GROUPS
        flags = endpoints.set_index("subject_id")[IEC_HS_COLUMN].map(_bool_or_none)
        of_subject = flags.map(lambda f: None if f is None else (present if f else absent))
        return SubjectGroups(group_by, (GROUP_ALL, present, absent), of_subject)
    rows = pd.DataFrame(columns=["subject_id", "attribute", "value"]) if attributes is None else attributes
    rows = rows[(rows["attribute"] == group_by) & rows["value"].notna()]
    values = rows.drop_duplicates("subject_id", keep="last").set_index("subject_id")["value"].astype(str)
    values = values.map(lambda v: attribute_curve_group(v, group_by))  # `all` is every subject's group
    return SubjectGroups(group_by, (GROUP_ALL, *attribute_curve_groups(values, group_by)), values)


def _default_analytes(results: pd.DataFrame) -> pd.Series:
    if "analyte_kind" in results.columns:
        return results["analyte_kind"] == "cytokine"
    return results["analyte"].isin(CYTOKINE_CODES)


def _analyte_order(analytes) -> list[str]:
    rank = {a: i for i, a in enumerate(CYTOKINE_CODES)}
    return sorted(set(analytes), key=lambda a: (rank.get(a, len(rank)), a))


def curve_order(series: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(specimen, analyte) pairs in the order :func:`cytokine_curves` writes their curves, so
    that curves computed one series at a time concatenate into the same table."""
    by_specimen: dict[str, list[str]] = {}
    for specimen, analyte in series:
        by_specimen.setdefault(specimen, []).append(analyte)
    return [(s, a) for s in sorted(by_specimen) for a in _analyte_order(by_specimen[s])]


def _one_curve(
    data: pd.DataFrame, specimen: str, analyte: str, group_by: str, group: str, rule, span: float, degree: int,
    level: float, max_points: int | None,
) -> pd.DataFrame:
    positive = data["analysis_value"] > 0
    n_nonpositive = int((~positive).sum())
    used = data[positive]
    common = {
        "specimen": specimen,
        "analyte": analyte,
        "group_by": group_by,
        "group": group,
        "n_subjects": int(used["subject_id"].nunique()),
        "n_nonpositive_excluded": n_nonpositive,
        "substitution_rule": rule,
    }
    x = used["study_day"].to_numpy(dtype=float)
    y = np.log10(used["analysis_value"].to_numpy(dtype=float))
    if x.size == 0:
        status, reason, n_obs, curve, df = STATUS_TOO_SMALL, "no observations", 0, None, math.nan
    else:
        res = loess_band(x, y, span=span, degree=degree, level=level, max_points=max_points)
        status, reason, n_obs, curve, df = res.status, res.reason, res.n_obs, res.curve, res.residual_df
        if status == STATUS_OK and curve.empty:  # fractional days only, within one day: no whole day
            status, reason = STATUS_TOO_SMALL, "no whole study day inside the sampled range"
    if status != STATUS_OK:
        row = {
            **common, "study_day": pd.NA, "n_obs": n_obs, "n_obs_day": pd.NA, "fit_log10": math.nan,
            "ci_low_log10": math.nan, "ci_high_log10": math.nan, "se_log10": math.nan,
            "residual_df": df, "status": status, "reason": reason,
        }
        return pd.DataFrame([row])
    per_day = pd.Series(np.floor(x)).value_counts()
    days = curve["x"].to_numpy()
    return pd.DataFrame(
        {
            **{k: [v] * len(days) for k, v in common.items()},
            "study_day": days.astype(int),
            "n_obs": n_obs,
            "n_obs_day": [int(per_day.get(d, 0)) for d in days],
            "fit_log10": curve["fit"].to_numpy(),
            "ci_low_log10": curve["ci_low"].to_numpy(),
            "ci_high_log10": curve["ci_high"].to_numpy(),
            "se_log10": curve["se"].to_numpy(),
            "residual_df": df,
            "status": STATUS_OK,
            "reason": None,
        }
    )


def cytokine_curves(
    results: pd.DataFrame,
    endpoints: pd.DataFrame,
    *,
    group_by: str | None = DEFAULT_KINETICS_GROUP_BY,
    attributes: pd.DataFrame | None = None,
    specimens: list[str] | None = None,
    analytes: list[str] | None = None,
    span: float = 0.75,
    degree: int = 2,
    level: float = 0.95,
    max_points: int | None = None,
) -> pd.DataFrame:
    """The `analysis.cytokine_curves` table of one study.

    ``results``: rows of ``marts.fct_biomarker_results`` (at least subject_id, specimen, analyte,
    study_day, analysis_value; substitution_rule is carried through when present).
    ``endpoints``: subject_id and the column of the grouping (``marts.fct_subject_endpoints``:
    icans_max_grade by default); ``group_by`` and ``attributes``: the study's grouping
    (:func:`subject_groups`).
    ``specimens`` / ``analytes`` restrict the curves; by default every specimen present and the
    cytokines (``analyte_kind = 'cytokine'``, else the contract's cytokine codes).
    Rows without a study day (subjects not infused) or without analysis_value are not used.
    ``max_points``: groups with more samples get a ``too_large`` row (None: no ceiling).
    Returns :data:`COLUMNS`, one row per specimen x analyte x group x study day, or one
    ``too_small`` / ``too_large`` row per group that is not fitted (see the module doc).
    """
    missing = [c for c in _REQUIRED if c not in results.columns]
    if missing:
        raise ValueError(f"results lacks columns {missing}")
    if "subject_id" not in endpoints.columns:
        raise ValueError("endpoints lacks column 'subject_id'")
    grouping = subject_groups(endpoints, group_by, attributes)
    data = results[results["study_day"].notna() & results["analysis_value"].notna()]
    keep = data["analyte"].isin(analytes) if analytes is not None else _default_analytes(data)
    data = data[keep]
    if specimens is not None:
        data = data[data["specimen"].isin(specimens)]
    data = data.assign(
        _group=data["subject_id"].map(grouping.of_subject),
        study_day=data["study_day"].astype(float),
        analysis_value=data["analysis_value"].astype(float),
    )
    has_rule = "substitution_rule" in data.columns

    frames = []
    for specimen in sorted(data["specimen"].unique()):
        by_specimen = data[data["specimen"] == specimen]
        for analyte in _analyte_order(by_specimen["analyte"].unique()):
            series = by_specimen[by_specimen["analyte"] == analyte]
            rule = None
            if has_rule:
                rules = series["substitution_rule"].dropna().unique()
                rule = ", ".join(sorted(rules)) if len(rules) else None
            for group in grouping.groups:
                subset = series if group == GROUP_ALL else series[series["_group"] == group]
                frames.append(_one_curve(subset, specimen, analyte, grouping.group_by, group, rule, span, degree,
                                         level, max_points))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    out = pd.concat(frames, ignore_index=True)[COLUMNS]
    for col in ("study_day", "n_obs_day"):
        out[col] = out[col].astype("Int64")
    out["n_obs"] = out["n_obs"].astype(int)
    return out


def cytokine_curves_by_study(
    results: pd.DataFrame,
    endpoints: pd.DataFrame,
    *,
    group_by: dict[str, str] | None = None,
    attributes: pd.DataFrame | None = None,
    studies: list[str] | None = None,
    **options,
) -> pd.DataFrame:
    """:func:`cytokine_curves` of each study on its own rows (``study_id`` columns of
    ``results``, ``endpoints`` and ``attributes``), by its own grouping (``group_by``: study id ->
    kinetics_group_by, default ICANS), stacked with ``study_id`` first. ``options`` are
    :func:`cytokine_curves`'s (specimens, analytes, span, degree, level, max_points)."""
    studies = studies_of(results, endpoints) if studies is None else list(studies)
    group_by = group_by or {}
    parts = []
    for study in studies:
        parts.append((study, cytokine_curves(
            study_rows(results, study), study_rows(endpoints, study),
            group_by=group_by.get(study, DEFAULT_KINETICS_GROUP_BY),
            attributes=None if attributes is None else study_rows(attributes, study),
            **options,
        )))
    return stack(parts, COLUMNS)
