"""Kaplan-Meier tables of the `analysis` schema (marts.md: km_curves, km_summary; derivations.md,
"Survival"), plus the log-rank tests between diseases (Park 2023, Fig 3B/C and ED Fig 1B/C).

Pure pandas in, pandas out; the statistics are :mod:`stats.kaplan_meier`
(R ``survfit(..., conf.type = "log-log")``, ``quantile``, ``summary(times = 365.25)``,
``survdiff``), not reimplemented here.

Input: rows of ``marts.fct_subject_endpoints`` (one per infused subject) with subject_id,
disease, os_days, os_event, pfs_days, pfs_event; events bool or 0/1.

Rules of this module (our choices, stated where they bite):

- A subject whose time (or event flag) for an endpoint is missing is left out of that endpoint's
  estimate and counted in ``km_summary.n_excluded`` of each group they belong to
  (``n_subjects`` counts the subjects used).
- Groups: ``overall`` (group_value ``all``, always present, even with 0 subjects) and
  ``disease`` (one group per disease value among the input rows, sorted; a missing disease is its
  own group with group_value null, as in ``agg_response_rates``).
- Log-rank: per endpoint, one test of all non-null diseases that have >= 1 subject with a time
  (k groups, k - 1 df; two diseases = the paper's LBCL vs MCL). Fewer than two such diseases ->
  no row. No event at all among the compared subjects -> statistic and p-value null.
- Several studies (:func:`build_km_tables_by_study`): each study's tables are computed on its
  own subjects and stacked with ``study_id`` first; a study without a subject still has its
  ``overall`` summary rows (n_subjects 0).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from dagster_project.lib.analysis.studies import stack, studies_of, study_rows
from schemas.vocabulary import KM_GROUP_BYS, OVERALL, OVERALL_VALUE
from dagster_project.lib.lineage.edges import edges_to_targets
from stats.kaplan_meier import CURVE_COLUMNS, days_to_months, kaplan_meier, logrank

__all__ = [
    "ENDPOINTS",
    "KM_CURVE_COLUMNS",
    "KM_SUMMARY_COLUMNS",
    "LOGRANK_COLUMNS",
    "build_km_tables",
    "build_km_tables_by_study",
    "has_survival_data",
]

# endpoint -> (time column, event column) of fct_subject_endpoints
ENDPOINTS = {"OS": ("os_days", "os_event"), "PFS": ("pfs_days", "pfs_event")}
GROUPINGS = KM_GROUP_BYS

KEY_COLUMNS = ["endpoint", "group_by", "group_value"]
KM_CURVE_COLUMNS = KEY_COLUMNS + CURVE_COLUMNS + ["time_months"]
KM_SUMMARY_COLUMNS = KEY_COLUMNS + [
    "n_subjects",
    "n_events",
    "median_days",
    "median_ci_low_days",
    "median_ci_high_days",
    "survival_12mo",
    "n_excluded",
    "median_months",
    "median_ci_low_months",
    "median_ci_high_months",
]
LOGRANK_COLUMNS = [
    "endpoint",
    "group_by",
    "comparison",
    "groups",
    "n_subjects",
    "n_events",
    "statistic",
    "df",
    "p_value",
    "test",
]
REQUIRED_COLUMNS = ["subject_id", "disease"] + [c for pair in ENDPOINTS.values() for c in pair]
SUMMARY_TABLE, LOGRANK_TABLE = "analysis.km_summary", "analysis.km_logrank"
ENDPOINTS_TABLE = "marts.fct_subject_endpoints"  # the subjects' times and events


def _subject_edges(edges, study_id, table, key, columns, subjects, column) -> None:
    """Append the edges from `columns` of a row (`key`) to `column` of each of `subjects`' rows of
    marts.fct_subject_endpoints (lineage, lib/lineage/edges.py)."""
    if edges is not None:
        edges.append(edges_to_targets(study_id, table, key, columns, ENDPOINTS_TABLE,
                                      ({"subject_id": s} for s in subjects), column))


def median_subjects(used: pd.DataFrame, median: float | None) -> list:
    """The subjects whose events decide a Kaplan-Meier median: those with an event at the event
    time(s) where the curve reaches 0.5 (the last event time <= the median and the first >= it:
    one time, or the two whose midpoint R reports on a flat 0.5); every subject used when the
    median is not reached (no event brought the curve to 0.5)."""
    if median is None or (isinstance(median, float) and math.isnan(median)):
        return list(used["subject_id"])
    events = used[used["event"] == 1.0]
    below, above = events.loc[events["time"] <= median, "time"], events.loc[events["time"] >= median, "time"]
    times = {t for t in (below.max() if len(below) else None, above.min() if len(above) else None) if t is not None}
    return list(events.loc[events["time"].isin(times), "subject_id"])


def _events(values: pd.Series) -> pd.Series:
    """bool / 0-1 / nullable -> float 1.0, 0.0 or NaN (missing). Anything else raises."""
    out = pd.Series(np.nan, index=values.index, dtype=float)
    present = values.notna()
    for i, v in values[present].items():
        if isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
        elif v in (0, 1):  # ints, floats 0.0/1.0
            out[i] = float(v)
        else:
            raise ValueError(f"event flag must be bool or 0/1, got {v!r}")
    return out


def _group_frames(frame: pd.DataFrame, group_by: str):
    if group_by == OVERALL:
        return [(OVERALL_VALUE, frame)]
    return [
        (None if pd.isna(value) else str(value), part)
        for value, part in frame.groupby("disease", dropna=False, sort=True)
    ]


def _none(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _months(v: float | None) -> float | None:
    return None if v is None else float(days_to_months(v))


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def build_km_tables(
    endpoints: pd.DataFrame, *, study_id: str | None = None, edges: list[pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(km_curves, km_summary, logrank_tests)`` from rows of ``marts.fct_subject_endpoints``.

    - km_curves: endpoint (OS, PFS) x group_by (overall, disease) x group_value x distinct time,
      the R survfit table (time_days, n_at_risk, n_events, n_censored, survival, ci_low,
      ci_high; CI null where R gives NA) plus time_months.
    - km_summary: one row per endpoint x group: n_subjects (used), n_events, median_days and its
      95% CI (null when not reached), survival_12mo (null beyond follow-up), n_excluded (missing
      time or event), and the medians in months (days / 30.4375).
    - logrank_tests: per endpoint, the log-rank test across diseases (see module doc).

    With ``edges`` (a list), the lineage of km_summary and logrank_tests is appended to it, from
    the subjects each row used (study ``study_id``): n_subjects (and a log-rank test's statistic
    and p_value) -> every subject used, its time; n_events -> the subjects with an event, its
    event flag; median_days and median_months -> :func:`median_subjects`, their time.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in endpoints.columns]
    if missing:
        raise ValueError(f"fct_subject_endpoints rows lack columns: {missing}")
    dup = endpoints["subject_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(endpoints.loc[dup, "subject_id"].astype(str).unique())
        raise ValueError(f"one row per subject expected; duplicated subject_id: {ids[:5]}")

    curves, summaries, tests = [], [], []
    for endpoint, (time_col, event_col) in ENDPOINTS.items():
        frame = pd.DataFrame(
            {
                "subject_id": endpoints["subject_id"].to_numpy(dtype=object),
                "disease": endpoints["disease"].to_numpy(dtype=object),
                "time": pd.to_numeric(endpoints[time_col], errors="raise").astype(float).to_numpy(),
                "event": _events(endpoints[event_col].reset_index(drop=True)).to_numpy(),
            }
        )
        frame["usable"] = frame["time"].notna() & frame["event"].notna()

        for group_by in GROUPINGS:
            for group_value, part in _group_frames(frame, group_by):
                used = part[part["usable"]]
                km = kaplan_meier(used["time"].to_numpy(), used["event"].to_numpy())
                curve = km.curve.copy()
                curve.insert(0, "group_value", group_value)
                curve.insert(0, "group_by", group_by)
                curve.insert(0, "endpoint", endpoint)
                curve["time_months"] = days_to_months(curve["time_days"].astype(float))
                curves.append(curve)
                s = km.summary
                summaries.append(
                    {
                        "endpoint": endpoint,
                        "group_by": group_by,
                        "group_value": group_value,
                        "n_subjects": s.n_subjects,
                        "n_events": s.n_events,
                        "median_days": s.median_days,
                        "median_ci_low_days": s.median_ci_low_days,
                        "median_ci_high_days": s.median_ci_high_days,
                        "survival_12mo": s.survival_12mo,
                        "n_excluded": int((~part["usable"]).sum()),
                        "median_months": _months(s.median_days),
                        "median_ci_low_months": _months(s.median_ci_low_days),
                        "median_ci_high_months": _months(s.median_ci_high_days),
                    }
                )
                key = {"endpoint": endpoint, "group_by": group_by, "group_value": group_value}
                _subject_edges(edges, study_id, SUMMARY_TABLE, key, ("n_subjects",), used["subject_id"], time_col)
                _subject_edges(edges, study_id, SUMMARY_TABLE, key, ("n_events",),
                               used.loc[used["event"] == 1.0, "subject_id"], event_col)
                _subject_edges(edges, study_id, SUMMARY_TABLE, key, ("median_days", "median_months"),
                               median_subjects(used, s.median_days), time_col)

        compared = frame[frame["usable"] & frame["disease"].notna()]
        diseases = sorted(compared["disease"].astype(str).unique())
        if len(diseases) >= 2:
            n_events = int(compared["event"].sum())
            stat, p = (math.nan, math.nan)
            if n_events > 0:
                stat, p = logrank(
                    compared["time"].to_numpy(),
                    compared["event"].to_numpy(),
                    compared["disease"].astype(str).to_numpy(),
                )
            tests.append(
                {
                    "endpoint": endpoint,
                    "group_by": "disease",
                    "comparison": " vs ".join(diseases),
                    "groups": len(diseases),
                    "n_subjects": len(compared),
                    "n_events": n_events,
                    "statistic": _none(stat),
                    "df": len(diseases) - 1,
                    "p_value": _none(p),
                    "test": "logrank",
                }
            )
            key = {"endpoint": endpoint, "group_by": "disease", "comparison": " vs ".join(diseases)}
            _subject_edges(edges, study_id, LOGRANK_TABLE, key, ("n_subjects", "statistic", "p_value"),
                           compared["subject_id"], time_col)
            _subject_edges(edges, study_id, LOGRANK_TABLE, key, ("n_events",),
                           compared.loc[compared["event"] == 1.0, "subject_id"], event_col)

    nonempty = [c for c in curves if len(c)]
    km_curves = (
        pd.concat(nonempty, ignore_index=True)[KM_CURVE_COLUMNS]
        if nonempty
        else _empty(KM_CURVE_COLUMNS)
    )
    for col in ("n_at_risk", "n_events", "n_censored"):
        km_curves[col] = km_curves[col].astype("int64")
    for col in ("time_days", "survival", "ci_low", "ci_high", "time_months"):
        km_curves[col] = km_curves[col].astype(float)

    km_summary = pd.DataFrame(summaries, columns=KM_SUMMARY_COLUMNS)
    for col in ("n_subjects", "n_events", "n_excluded"):
        km_summary[col] = km_summary[col].astype("int64")
    # None -> NaN in float columns; the warehouse writes NaN as null.
    for col in KM_SUMMARY_COLUMNS:
        if col.startswith(("median_", "survival_")):
            km_summary[col] = km_summary[col].astype(float)

    logrank_tests = pd.DataFrame(tests, columns=LOGRANK_COLUMNS)
    for col in ("groups", "n_subjects", "n_events", "df"):
        logrank_tests[col] = logrank_tests[col].astype("int64")
    for col in ("statistic", "p_value"):
        logrank_tests[col] = logrank_tests[col].astype(float)
    return km_curves, km_summary, logrank_tests


def build_km_tables_by_study(
    endpoints: pd.DataFrame, studies: list[str] | None = None, edges: list[pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`build_km_tables` of each study's rows of ``marts.fct_subject_endpoints``, stacked
    with ``study_id`` first. ``studies``: every study to report (marts.dim_studies), also one
    without rows; default the studies of ``endpoints``. ``edges``: as for build_km_tables."""
    studies = studies_of(endpoints) if studies is None else list(studies)
    tables = [(study, build_km_tables(study_rows(endpoints, study), study_id=study, edges=edges))
              for study in studies]
    columns = (KM_CURVE_COLUMNS, KM_SUMMARY_COLUMNS, LOGRANK_COLUMNS)
    return tuple(stack([(study, t[i]) for study, t in tables], columns[i]) for i in range(3))  # type: ignore[return-value]


def has_survival_data(km_summary: pd.DataFrame, endpoint: str) -> bool:
    """Whether one study's ``km_summary`` has a subject with a time for ``endpoint`` (a KM curve
    to draw); a relative-time export without outcomes has none."""
    rows = km_summary[(km_summary["endpoint"] == endpoint) & (km_summary["group_by"] == OVERALL)]
    return bool(len(rows)) and int(rows["n_subjects"].sum()) > 0
