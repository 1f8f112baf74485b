"""Paired t-tests around an intervention (derivations.md, "Around an anakinra course").

- :func:`paired_t` reproduces R ``t.test(after, before, paired = TRUE)``.
- :func:`ratio_paired_t` is the same test on natural-log values (the "ratio paired t-test"),
  with the geometric mean ratio ``exp(mean(log(after) - log(before)))`` and its 95% CI
  (``exp`` of R's ``t.test`` confidence interval on the log scale).

Reference: shared/reference/paired_t.json. The statistic is signed as after - before.
Both tests drop pairs where either value is missing (R's ``t.test`` with ``paired = TRUE``
does the same via ``complete.cases``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import ttest_rel

__all__ = ["PairedTResult", "RatioPairedTResult", "paired_t", "ratio_paired_t"]


@dataclass(frozen=True)
class PairedTResult:
    statistic: float
    p_value: float
    mean_before: float
    mean_after: float
    n_pairs: int


@dataclass(frozen=True)
class RatioPairedTResult:
    statistic: float
    p_value: float
    mean_before: float  # arithmetic mean on the original scale, for the report
    mean_after: float
    n_pairs: int
    gm_ratio: float
    gm_ratio_ci_low: float
    gm_ratio_ci_high: float


def _complete_pairs(before, after) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(before, dtype=float).ravel()
    a = np.asarray(after, dtype=float).ravel()
    if b.shape != a.shape:
        raise ValueError(f"before and after differ in length: {b.size} vs {a.size}")
    keep = ~(np.isnan(b) | np.isnan(a))
    return b[keep], a[keep]


def paired_t(before, after) -> PairedTResult:
    """R ``t.test(after, before, paired = TRUE)``: statistic and two-sided p-value.

    Fewer than 2 complete pairs (or all differences equal) give NaN statistic and p-value,
    where R would stop with "not enough observations" / "data are essentially constant".
    """
    b, a = _complete_pairs(before, after)
    n = int(b.size)
    mean_b = float(b.mean()) if n else math.nan
    mean_a = float(a.mean()) if n else math.nan
    if n < 2 or np.ptp(a - b) == 0:
        return PairedTResult(math.nan, math.nan, mean_b, mean_a, n)
    res = ttest_rel(a, b)
    return PairedTResult(float(res.statistic), float(res.pvalue), mean_b, mean_a, n)


def ratio_paired_t(before, after, confidence: float = 0.95) -> RatioPairedTResult:
    """Paired t-test on ``log(after) - log(before)`` with the geometric mean ratio.

    Values must be > 0. ``gm_ratio = exp(mean log difference)``; its CI is ``exp`` of the
    t-based CI of the mean log difference
    (R ``t.test(log(after), log(before), paired = TRUE)$conf.int``). Fewer than 2 complete
    pairs, or constant log differences, give NaN statistic, p-value and CI (R stops there).
    """
    b, a = _complete_pairs(before, after)
    if np.any(b <= 0) or np.any(a <= 0):
        raise ValueError("ratio_paired_t needs strictly positive values")
    n = int(b.size)
    mean_b = float(b.mean()) if n else math.nan
    mean_a = float(a.mean()) if n else math.nan
    log_diff = np.log(a) - np.log(b)
    if n < 2 or np.ptp(log_diff) == 0:
        gm = float(np.exp(np.mean(log_diff))) if n else math.nan
        return RatioPairedTResult(math.nan, math.nan, mean_b, mean_a, n, gm, math.nan, math.nan)
    res = ttest_rel(np.log(a), np.log(b))
    ci = res.confidence_interval(confidence_level=confidence)
    gm = float(np.exp(np.mean(log_diff)))
    return RatioPairedTResult(
        statistic=float(res.statistic),
        p_value=float(res.pvalue),
        mean_before=mean_b,
        mean_after=mean_a,
        n_pairs=n,
        gm_ratio=gm,
        gm_ratio_ci_low=float(np.exp(ci.low)),
        gm_ratio_ci_high=float(np.exp(ci.high)),
    )
