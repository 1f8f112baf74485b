"""Partially matched Wilcoxon test (Fong, Huang, Lemos & McElrath, Biostatistics 2018;19:281-294).

Rule: derivations.md, "CSF before and after": pre is X, post is Y; subjects with both are the
pairs, pre-only the X extras, post-only the Y extras; p-values must agree with the authors'
R implementation.

Why our own code: no Python implementation of this test exists (scipy/statsmodels have none),
so this module ports the default form of the authors' R package robustrank,
``pm.wilcox.test(Xpaired, Ypaired, Xextra, Yextra)`` with ``method = "SR-MW"``,
``alternative = "two.sided"``, ``correct = TRUE`` (continuity corrections on), from
robustrank's R/pm.wilcox.test.R (functions ``pm.wilcox.test`` and ``compute.pm.wilcox.z``,
row ``"sr.mw.l0"``; CRAN 2019.9-10 source, which the 2024.1.28 reference values in
shared/reference/partially_matched_wilcoxon.json confirm). Ranks, empirical CDFs and (co)variances
below are R's ``rank`` (average ties), ``ecdf`` (fraction <= t) and ``var``/``cov`` (n - 1).

SR-MW (paper, Section 2.2: the weighted linear combination "SR-MW" of the signed-rank statistic
on the m pairs and the Mann-Whitney statistic of the paired X against the n Y extras):

    delta_i = Y_i - X_i,  N = m + n,  alpha = n / N
    W+    = mean(1{delta_i > 0} * rank(|delta|)_i)           E = (m + 1) / 4
    W_mw  = sum(rank(c(X, Y'))[Y'] ) / (N + 1)               E = n / 2
    var0(W+)   = (m + 1)(2m + 1) / (24 m)
    var0(W_mw) = m n / (12 (N + 1))
    rho0  = -6 sqrt(alpha) cov(F+(|delta|) sgn(delta), F_X(X))   (F = ecdf of the pairs)
    cov0  = rho0 sqrt(var0(W+) var0(W_mw))
    Z = c'v / sqrt(c' V c),  v = (W+ - E, W_mw - E),  c = (1, var0(W+) / var0(W_mw)),
    V = [[var0(W+), cov0], [cov0, var0(W_mw)]];  p = 2 (1 - Phi(|Z|)).

When both X and Y have extras (``lx`` X extras), the R code's "extension to having both Yextra
and Xextra" combines four parts, sqrt(m) * ((W+ - E)/m, U_mw - 1/2, U_3 - 1/2, U_4 - 1/2)
with U_mw = Mann-Whitney AUC of X vs Y', U_3 of X' vs Y, U_4 of X' vs Y', weights
1/diag(V) and the covariance matrix V written out in :func:`_sr_mw_four_part`.

Continuity corrections (correct = TRUE, two-sided) are applied exactly as in the R code,
including its quirk that U_mw is computed from the already-corrected W_mw and then corrected
again.

Fall-backs, in the order of ``pm.wilcox.test``:
- a pair with one value missing moves to the extras of the side that has a value;
- only X has extras: X and Y are swapped (the sign of Z is flipped back at the end);
- no extras at all: R's ``wilcox.test(Xpaired, Ypaired, paired = TRUE)`` (statistic V);
- no pairs: ``wilcox.test(Xextra, Yextra)`` (statistic W);
- exactly one pair: the pair's member on the side with fewer extras joins that side's extras,
  then ``wilcox.test(Xextra, Yextra)``;
so for those the statistic is R's V or W, not Z, and ``method`` says which test ran.
An empty side where R would stop ("not enough observations") gives NaN statistic and p-value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu, norm, rankdata, wilcoxon

__all__ = ["PMWilcoxonResult", "pm_wilcox_test"]

METHOD_SR_MW = "SR-MW, weighted linear combination"


@dataclass(frozen=True)
class PMWilcoxonResult:
    statistic: float  # Z for SR-MW; V or W (R's wilcox.test statistic) for a fall-back
    p_value: float
    method: str  # R's htest method string
    n_paired: int  # complete pairs given (after moving half-missing pairs to the extras)
    n_x_extra: int  # X-only values given
    n_y_extra: int  # Y-only values given


def _as_vector(values) -> np.ndarray:
    if values is None:
        return np.array([], dtype=float)
    return np.atleast_1d(np.asarray(values, dtype=float)).ravel()


def _ecdf(sample: np.ndarray):
    """R ``ecdf(sample)``: t -> fraction of sample <= t."""
    s = np.sort(sample)
    return lambda t: np.searchsorted(s, np.asarray(t, dtype=float), side="right") / s.size


def _cov(a: np.ndarray, b: np.ndarray) -> float:
    """R ``cov(a, b)`` (denominator n - 1)."""
    return float(np.cov(a, b, ddof=1)[0, 1])


def _sign(v: float) -> float:
    return float(np.sign(v))


def _signed_rank_parts(xp: np.ndarray, yp: np.ndarray) -> dict[str, float]:
    """Pieces shared by both SR-MW forms (compute.pm.wilcox.z, two-sided, correct = TRUE)."""
    m = xp.size
    delta = yp - xp
    abs_delta = np.abs(delta)
    sgn_delta = np.sign(delta)
    r1 = rankdata(abs_delta)  # zeros stay in the ranking, as in the R code
    w_plus = float(np.mean((delta > 0) * r1))
    w_plus -= _sign(w_plus - (m + 1) / 4) * 0.5 / m
    f_plus = _ecdf(abs_delta)
    return {
        "w_plus": w_plus,
        "var_w_plus_0": (m + 1) * (2 * m + 1) / (24 * m),
        "score": f_plus(abs_delta) * sgn_delta,  # F+(|delta|) * sgn(delta)
    }


def _sr_mw_two_part(xp: np.ndarray, yp: np.ndarray, ye: np.ndarray) -> float:
    """Z of row "sr.mw.l0" when only Y has extras (lx == 0 in compute.pm.wilcox.z)."""
    m, n = xp.size, ye.size
    big_n = m + n
    alpha = n / big_n
    sr = _signed_rank_parts(xp, yp)
    r2 = rankdata(np.concatenate([xp, ye]))
    w_mw = float(np.sum(r2[m:]) / (big_n + 1))
    var_w_mw_0 = m * n / (12 * (big_n + 1))
    w_mw -= _sign(w_mw - n / 2) * 0.5 / (big_n + 1)
    f_x = _ecdf(xp)
    rho_0 = -6 * math.sqrt(alpha) * _cov(sr["score"], f_x(xp))
    cov_0 = rho_0 * math.sqrt(sr["var_w_plus_0"] * var_w_mw_0)
    vec = np.array([sr["w_plus"] - (m + 1) / 4, w_mw - n / 2])
    comb = np.array([1.0, sr["var_w_plus_0"] / var_w_mw_0])
    v = np.array([[sr["var_w_plus_0"], cov_0], [cov_0, var_w_mw_0]])
    return float(comb @ vec / math.sqrt(comb @ v @ comb))


def _sr_mw_four_part(xp: np.ndarray, yp: np.ndarray, xe: np.ndarray, ye: np.ndarray) -> float:
    """Z of row "sr.mw.l0" when both X and Y have extras (lx > 0 in compute.pm.wilcox.z)."""
    m, n, lx = xp.size, ye.size, xe.size
    big_n = m + n
    alpha = n / big_n
    sr = _signed_rank_parts(xp, yp)
    # W_mw, corrected, then U_mw from it (corrected a second time), as in the R code.
    r2 = rankdata(np.concatenate([xp, ye]))
    w_mw = float(np.sum(r2[m:]) / (big_n + 1))
    w_mw -= _sign(w_mw - n / 2) * 0.5 / (big_n + 1)
    u_mw = (w_mw * (big_n + 1) - n * (n + 1) / 2) / (m * n)
    u_mw -= _sign(u_mw - 0.5) * 0.5 / (m * n)
    u_3 = (np.sum(rankdata(np.concatenate([xe, yp]))[lx:]) - m * (m + 1) / 2) / (lx * m)
    u_3 -= _sign(u_3 - 0.5) * 0.5 / (m * lx)
    u_4 = (np.sum(rankdata(np.concatenate([xe, ye]))[lx:]) - n * (n + 1) / 2) / (lx * n)
    u_4 -= _sign(u_4 - 0.5) * 0.5 / (n * lx)
    f_x, f_y = _ecdf(xp), _ecdf(yp)
    cov_g_f = _cov(f_y(xp), f_x(yp))
    vec = math.sqrt(m) * np.array(
        [(sr["w_plus"] - (m + 1) / 4) / m, u_mw - 0.5, u_3 - 0.5, u_4 - 0.5]
    )
    v = np.diag(
        [sr["var_w_plus_0"] / m, 1 / (12 * alpha), (m / lx + 1) / 12, (m / lx + m / n) / 12]
    )
    v[0, 1] = v[1, 0] = -0.5 * _cov(sr["score"], f_x(xp))
    v[0, 2] = v[2, 0] = 0.5 * _cov(sr["score"], f_x(yp))
    v[0, 3] = v[3, 0] = 0.0
    v[1, 2] = v[2, 1] = -cov_g_f
    v[1, 3] = v[3, 1] = m / (12 * n)
    v[2, 3] = v[3, 2] = m / (12 * lx)
    comb = 1 / np.diag(v)
    return float(comb @ vec / math.sqrt(comb @ v @ comb))


def _has_ties(v: np.ndarray) -> bool:
    return np.unique(v).size != v.size


def _r_wilcox_signed_rank(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """R ``wilcox.test(x, y, paired = TRUE)`` defaults: (V, p, method).

    Zeros dropped; exact distribution when fewer than 50 non-zero differences with no ties
    and no zeros, else the normal approximation with tie and continuity corrections
    (scipy's ``wilcoxon`` computes both the same way; V, the sum of positive ranks, is
    computed here because scipy reports min(V+, V-)).
    """
    d = x - y
    zeroes = bool(np.any(d == 0))
    d = d[d != 0]
    if d.size == 0:
        return (math.nan, math.nan, "Wilcoxon signed rank test")
    r = rankdata(np.abs(d))
    v = float(np.sum(r[d > 0]))
    exact = d.size < 50 and not _has_ties(r) and not zeroes
    res = wilcoxon(
        d,
        zero_method="wilcox",
        correction=not exact,
        alternative="two-sided",
        method="exact" if exact else "approx",
    )
    method = (
        "Wilcoxon signed rank exact test"
        if exact
        else "Wilcoxon signed rank test with continuity correction"
    )
    return (v, min(1.0, float(res.pvalue)), method)


def _r_wilcox_rank_sum(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    """R ``wilcox.test(x, y)`` defaults: (W, p, method).

    Exact when both samples have fewer than 50 values and there are no ties, else the normal
    approximation with tie and continuity corrections (as scipy's ``mannwhitneyu``).
    W = sum of x ranks - nx (nx + 1) / 2, scipy's U of x.
    """
    if x.size == 0 or y.size == 0:
        return (math.nan, math.nan, "Wilcoxon rank sum test")
    exact = x.size < 50 and y.size < 50 and not _has_ties(np.concatenate([x, y]))
    res = mannwhitneyu(
        x,
        y,
        use_continuity=True,
        alternative="two-sided",
        method="exact" if exact else "asymptotic",
    )
    method = (
        "Wilcoxon rank sum exact test"
        if exact
        else "Wilcoxon rank sum test with continuity correction"
    )
    return (float(res.statistic), min(1.0, float(res.pvalue)), method)


def pm_wilcox_test(x_paired, y_paired, x_unpaired=None, y_unpaired=None) -> PMWilcoxonResult:
    """robustrank ``pm.wilcox.test(Xpaired, Ypaired, Xextra, Yextra)`` defaults.

    ``x_paired``/``y_paired`` are the two values of each matched subject (same order),
    ``x_unpaired``/``y_unpaired`` the X-only and Y-only values (a scalar counts as one value).
    Returns :class:`PMWilcoxonResult` with the statistic (Z; V or W for a fall-back, see the
    module doc) and the two-sided p-value. Z > 0 means Y tends to exceed X.
    """
    xp, yp = _as_vector(x_paired), _as_vector(y_paired)
    xe, ye = _as_vector(x_unpaired), _as_vector(y_unpaired)
    if xp.size != yp.size:
        raise ValueError(f"x_paired and y_paired differ in length: {xp.size} vs {yp.size}")
    # consolidate extras if there are NA in the paired data, then drop NA
    ye = np.concatenate([ye, yp[np.isnan(xp)]])
    ye = ye[~np.isnan(ye)]
    xe = np.concatenate([xe, xp[np.isnan(yp)]])
    xe = xe[~np.isnan(xe)]
    both = ~np.isnan(xp) & ~np.isnan(yp)
    xp, yp = xp[both], yp[both]
    counts = (int(xp.size), int(xe.size), int(ye.size))  # reported in the caller's orientation
    # switch X and Y if X has extras but Y has none
    switched = False
    if ye.size == 0 and xe.size > 0:
        xp, yp = yp, xp
        ye, xe = xe, np.array([], dtype=float)
        switched = True

    def result(stat: float, p: float, method: str) -> PMWilcoxonResult:
        return PMWilcoxonResult(stat, p, method, *counts)

    m = xp.size
    if xe.size == 0 and ye.size == 0:
        return result(*_r_wilcox_signed_rank(xp, yp))
    if m == 0:
        return result(*_r_wilcox_rank_sum(xe, ye))
    if m == 1:
        # "call wilcox.test for unpaired data since there is only 1 pair of matched samples"
        if xe.size > ye.size:
            ye = np.concatenate([ye, yp])
        else:
            xe = np.concatenate([xe, xp])
        return result(*_r_wilcox_rank_sum(xe, ye))
    if xe.size == 0:
        z = _sr_mw_two_part(xp, yp, ye)
    else:
        z = _sr_mw_four_part(xp, yp, xe, ye)
    if switched:
        z = -z  # "change the sign of statistics"
    p = float(2 * norm.sf(abs(z))) if np.isfinite(z) else math.nan
    return result(z, p, METHOD_SR_MW)
