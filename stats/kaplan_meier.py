"""Kaplan-Meier curves and the log-rank test (derivations.md, "Survival").

Reproduces R's survival package:

- curve: ``survfit(Surv(time_days, event) ~ 1, conf.type = "log-log")`` -- one row per
  distinct time (event or censoring) with n.risk, n.event, n.censor, surv, lower, upper;
- median and its CI: ``quantile(fit, probs = 0.5, conf.int = TRUE)``;
- 12-month survival: ``summary(fit, times = 365.25)$surv``;
- log-rank: ``survdiff(Surv(time, event) ~ group)``.

Reference: shared/reference/kaplan_meier.json.

The estimate and its Greenwood/log(-log) interval come from lifelines' KaplanMeierFitter,
whose default ("exponential Greenwood") interval is R's log-log one:
``exp(-exp(log(-log S) +/- z * sqrt(sum d / (n (n - d))) / log S))``. Where R reports
no limit -- survival exactly 1 (no event yet) or exactly 0 -- lifelines fills 1 or 0; we store
null, as R does.

The median rule is R's ``findq`` (survival/R/quantile.survfit.R), which lifelines does not
implement (its ``median_survival_time_`` never takes the midpoint of a flat stretch and its
``median_survival_times`` CI uses a different rule), so it is ported in
:func:`_r_findq` below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

__all__ = [
    "DAYS_PER_MONTH",
    "TWELVE_MONTHS_DAYS",
    "KMResult",
    "KMSummary",
    "days_to_months",
    "kaplan_meier",
    "logrank",
    "survival_at",
]

# Months = days / 30.4375 (derivations.md, "Survival"): 365.25 / 12.
DAYS_PER_MONTH = 30.4375
TWELVE_MONTHS_DAYS = 12 * DAYS_PER_MONTH  # 365.25

# R's quantile.survfit default tolerance, sqrt(.Machine$double.eps).
_R_TOLERANCE = math.sqrt(np.finfo(float).eps)

CURVE_COLUMNS = [
    "time_days",
    "n_at_risk",
    "n_events",
    "n_censored",
    "survival",
    "ci_low",
    "ci_high",
]


def days_to_months(days):
    """Days -> months (``days / 30.4375``); works on scalars, arrays and Series."""
    return days / DAYS_PER_MONTH


@dataclass(frozen=True)
class KMSummary:
    """One row of ``analysis.km_summary`` (without endpoint/group keys). None = null."""

    n_subjects: int
    n_events: int
    median_days: float | None
    median_ci_low_days: float | None
    median_ci_high_days: float | None
    survival_12mo: float | None


@dataclass(frozen=True)
class KMResult:
    curve: pd.DataFrame  # columns CURVE_COLUMNS; ci_low/ci_high NaN where R gives none
    summary: KMSummary


def _clean(times, events) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float).ravel()
    e = np.asarray(events, dtype=float).ravel()
    if t.shape != e.shape:
        raise ValueError(f"times and events differ in length: {t.size} vs {e.size}")
    if np.isnan(t).any() or np.isnan(e).any():
        raise ValueError("times and events must not be missing")
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("events must be 0 (censored) or 1 (event)")
    if (t < 0).any():
        raise ValueError("times must be >= 0")
    return t, e.astype(bool)


def _km_curve(t: np.ndarray, e: np.ndarray, conf_level: float) -> pd.DataFrame:
    kmf = KaplanMeierFitter(alpha=1.0 - conf_level)
    kmf.fit(t, event_observed=e)
    table = kmf.event_table
    # lifelines adds a time-0 row with nobody removed; R lists only observed times.
    table = table[table["removed"] > 0]
    times = table.index.to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].reindex(times).to_numpy(dtype=float)
    ci = kmf.confidence_interval_survival_function_.reindex(times)
    lower = ci.filter(like="lower").iloc[:, 0].to_numpy(dtype=float)
    upper = ci.filter(like="upper").iloc[:, 0].to_numpy(dtype=float)
    # R: log-log limits are NA where surv is 0 or 1.
    no_ci = (surv == 0.0) | (surv == 1.0)
    lower = np.where(no_ci, np.nan, lower)
    upper = np.where(no_ci, np.nan, upper)
    return pd.DataFrame(
        {
            "time_days": times,
            "n_at_risk": table["at_risk"].to_numpy(dtype=int),
            "n_events": table["observed"].to_numpy(dtype=int),
            "n_censored": table["censored"].to_numpy(dtype=int),
            "survival": surv,
            "ci_low": lower,
            "ci_high": upper,
        }
    )


def _approx_constant_right(xp: np.ndarray, yp: np.ndarray, v: float) -> float:
    """R ``approx(xp, yp, v, method = "constant", f = 1, rule = 1)`` for sorted, distinct xp.

    Returns the yp of the first xp >= v; NaN outside [xp[0], xp[-1]].
    """
    if xp.size == 0 or v < xp[0] or v > xp[-1]:
        return math.nan
    return float(yp[np.searchsorted(xp, v, side="left")])


def _r_findq(x: np.ndarray, y: np.ndarray, p: float, tol: float = _R_TOLERANCE) -> float:
    """Port of ``findq`` from survival/R/quantile.survfit.R (survival 3.x).

    ``x`` = c(start, times), ``y`` = c(0, 1 - curve) (may hold NaN where a CI limit is NA).
    The quantile is the first x where 1 - curve reaches p; if the curve sits exactly on p
    (within tol) over a flat stretch, the midpoint of that stretch's start and the next jump;
    on a flat stretch that runs to the end, the midpoint with the last time. NaN = not reached.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return math.nan
    xmax = x[-1]
    # duplicated(y): keep the first of equal values (NaN counts as equal to NaN).
    keep = ~pd.Series(y).duplicated().to_numpy()
    x, y = x[keep], y[keep]
    n = y.size
    idx = np.arange(n, dtype=float)
    ok = ~np.isnan(y)  # approx() drops NA pairs but keeps the original indices
    i1 = _approx_constant_right(y[ok] + tol, idx[ok], p)
    i2 = _approx_constant_right(y[ok] - tol, idx[ok], p)
    quant = math.nan
    if not (math.isnan(i1) or math.isnan(i2)):
        quant = (x[int(i1)] + x[int(i2)]) / 2.0
    if p == 0:
        quant = float(x[0])
    if not np.isnan(y[n - 1]) and abs(p - y[n - 1]) < tol and not math.isnan(i1):
        quant = (x[int(i1)] + xmax) / 2.0
    return float(quant)


def survival_at(curve: pd.DataFrame, t: float) -> float | None:
    """Step value of the KM curve at time ``t`` (R ``summary(fit, times = t)$surv``).

    1 before the first event; None when ``t`` is after the last observed time, where
    ``summary.survfit`` (extend = FALSE) gives nothing.
    """
    times = curve["time_days"].to_numpy(dtype=float)
    if times.size == 0 or t > times[-1]:
        return None
    i = np.searchsorted(times, t, side="right") - 1
    return 1.0 if i < 0 else float(curve["survival"].iloc[i])


def _none_if_nan(v: float) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def kaplan_meier(times, events, conf_level: float = 0.95) -> KMResult:
    """Kaplan-Meier curve and summary, equal to R survfit/quantile/summary (see module doc).

    ``times`` in days from infusion, ``events`` 1 = event, 0 = censored.
    Returns :class:`KMResult`: ``curve`` (one row per distinct time, columns
    ``CURVE_COLUMNS``, NaN CI where R has NA) and ``summary`` (n, events, median with CI,
    survival at 365.25 days; None where R gives NA). No subjects -> empty curve, null summary.
    """
    t, e = _clean(times, events)
    if t.size == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS})
        return KMResult(empty, KMSummary(0, 0, None, None, None, None))
    curve = _km_curve(t, e, conf_level)
    x = np.concatenate([[0.0], curve["time_days"].to_numpy()])  # R: start.time or 0

    def q(col: str) -> float | None:
        y = np.concatenate([[0.0], 1.0 - curve[col].to_numpy(dtype=float)])
        return _none_if_nan(_r_findq(x, y, 0.5))

    # quantile(): the lower limit of the median comes from the lower curve and vice versa.
    summary = KMSummary(
        n_subjects=int(t.size),
        n_events=int(e.sum()),
        median_days=q("survival"),
        median_ci_low_days=q("ci_low"),
        median_ci_high_days=q("ci_high"),
        survival_12mo=survival_at(curve, TWELVE_MONTHS_DAYS),
    )
    return KMResult(curve, summary)


def logrank(times, events, groups) -> tuple[float, float]:
    """Log-rank test of equal survival across ``groups``: ``(chi-square statistic, p-value)``.

    Equals R ``survdiff(Surv(times, events) ~ groups)`` (rho = 0): the statistic is
    (O - E)' V^- (O - E) with the hypergeometric variance, on k - 1 degrees of freedom, as in
    lifelines' ``multivariate_logrank_test`` (which for two groups equals ``logrank_test``).
    Fewer than two groups -> (nan, nan).
    """
    t, e = _clean(times, events)
    g = pd.Series(np.asarray(groups, dtype=object).ravel())
    if g.size != t.size:
        raise ValueError("groups must have one value per subject")
    if g.isna().any():
        raise ValueError("groups must not be missing")
    if g.nunique() < 2:
        return (math.nan, math.nan)
    res = multivariate_logrank_test(t, g, e)
    return (float(res.test_statistic), float(res.p_value))
