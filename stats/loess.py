"""LOESS smooth with a pointwise 95% confidence band (derivations.md, "Cytokine kinetics").

Reproduces, for one predictor, R

    fit  <- loess(y ~ x)                      # span 0.75, degree 2, family "gaussian",
                                              # surface "interpolate", statistics "approximate",
                                              # trace.hat "exact", normalize = TRUE
    pred <- predict(fit, data.frame(x = grid), se = TRUE)
    ci   <- pred$fit -/+ qt(0.975, pred$df) * pred$se.fit   # as ggplot2's geom_smooth

where ``pred$df = one.delta^2 / two.delta`` (the "lookup" residual degrees of freedom).
Reference: shared/reference/loess.json (agreement to 1e-6 is required; it is ~1e-14).

The fitting is scikit-misc's ``skmisc.loess.loess``, which wraps the same netlib
C/Fortran loess code that R's ``stats::loess`` uses. Two settings are pinned explicitly:
``trace_hat="exact"`` (R's ``loess.control`` default; scikit-misc's "wait.to.decide" would
switch to the approximation from 500 points on) and the t quantile, computed with scipy from
the lookup df (scikit-misc's own ``confidence()`` differs from R's ``qt`` around 1e-9).

Where R's loess only *warns* (near-singular local fits: "pseudoinverse used", "There are other
near singularities as well", ...) scikit-misc raises; such a group -- typically few distinct
study days -- is reported with status ``"too_small"`` and the loess message, never dropped
silently. A sample larger than ``max_points`` is not fitted either (status ``"too_large"``): the
netlib code is quadratic in n (exact trace and standard errors: ~4 s and ~1 GB at 10,000 points,
hours at 100,000), the reason ggplot2's smoother itself leaves loess for a GAM above 1,000
points. Grid points outside the range of x get NaN (R's ``predict`` gives NA there:
interpolation does not extrapolate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t
from skmisc.loess import loess as _SkLoess

__all__ = [
    "CURVE_COLUMNS",
    "LoessResult",
    "STATUS_TOO_LARGE",
    "loess_band",
    "too_small_reason",
    "whole_day_grid",
]

STATUS_OK = "ok"
STATUS_TOO_SMALL = "too_small"
STATUS_TOO_LARGE = "too_large"
CURVE_COLUMNS = ["x", "fit", "se", "ci_low", "ci_high"]


@dataclass(frozen=True)
class LoessResult:
    """``status`` is ``"ok"``, ``"too_small"`` or ``"too_large"`` (then ``reason`` says why and
    ``curve`` is empty). ``curve`` has one row per grid point: CURVE_COLUMNS. ``residual_df`` is R's
    ``predict.loess(se=TRUE)$df``; ``n_obs`` counts the complete (x, y) pairs used."""

    status: str
    reason: str | None
    n_obs: int
    residual_df: float
    curve: pd.DataFrame


def whole_day_grid(x) -> np.ndarray:
    """Whole study days inside the range of ``x``: ceil(min) .. floor(max)."""
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.array([], dtype=float)
    return np.arange(math.ceil(v.min()), math.floor(v.max()) + 1, dtype=float)


def too_small_reason(x, span: float = 0.75, degree: int = 2) -> str | None:
    """Why a sample with predictor values ``x`` cannot take a local fit, or None.

    A local polynomial of ``degree`` needs ``degree + 1`` distinct x values, and the
    neighbourhood (``floor(n * span)`` points) must hold at least that many observations.
    Passing this check does not guarantee loess succeeds; :func:`loess_band` also reports
    failures raised by loess itself.
    """
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    need = degree + 1
    distinct = np.unique(v).size
    if distinct < need:
        return f"{distinct} distinct x values; degree {degree} needs at least {need}"
    if math.floor(v.size * span) < need:
        return f"{v.size} observations; span {span} leaves fewer than {need} per neighbourhood"
    return None


def _empty_curve() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in CURVE_COLUMNS})


def loess_band(
    x,
    y,
    grid=None,
    span: float = 0.75,
    degree: int = 2,
    level: float = 0.95,
    max_points: int | None = None,
) -> LoessResult:
    """Fit ``y ~ x`` by R-default loess and predict fit, se and the ``level`` band on ``grid``.

    ``grid`` defaults to :func:`whole_day_grid` of ``x``. Pairs with a missing x or y are
    dropped (R's ``na.omit``). More than ``max_points`` pairs: not fitted, status too_large.
    Returns a :class:`LoessResult`.
    """
    xv = np.asarray(x, dtype=float).ravel()
    yv = np.asarray(y, dtype=float).ravel()
    if xv.shape != yv.shape:
        raise ValueError(f"x and y differ in length: {xv.size} vs {yv.size}")
    keep = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[keep], yv[keep]
    n = int(xv.size)
    if max_points is not None and n > max_points:
        reason = f"{n} observations, above the ceiling of {max_points} (loess is quadratic in n)"
        return LoessResult(STATUS_TOO_LARGE, reason, n, math.nan, _empty_curve())
    reason = too_small_reason(xv, span=span, degree=degree)
    if reason is not None:
        return LoessResult(STATUS_TOO_SMALL, reason, n, math.nan, _empty_curve())
    gv = whole_day_grid(xv) if grid is None else np.asarray(grid, dtype=float).ravel()
    try:
        model = _SkLoess(
            xv,
            yv,
            span=span,
            degree=degree,
            family="gaussian",
            normalize=True,
            surface="interpolate",
            statistics="approximate",
            trace_hat="exact",
        )
        model.fit()
        inside = (gv >= xv.min()) & (gv <= xv.max())
        fit = np.full(gv.shape, np.nan)
        se = np.full(gv.shape, np.nan)
        if inside.any():
            pred = model.predict(gv[inside], stderror=True)
            fit[inside] = pred.values
            se[inside] = pred.stderr
    except ValueError as exc:  # scikit-misc raises where R's loess warns or stops
        msg = exc.args[0] if exc.args else str(exc)
        if isinstance(msg, bytes):
            msg = msg.decode(errors="replace")
        return LoessResult(STATUS_TOO_SMALL, f"loess failed: {msg}", n, math.nan, _empty_curve())
    out = model.outputs
    df = float(out.one_delta**2 / out.two_delta)
    if not (np.isfinite(df) and df > 0):
        return LoessResult(
            STATUS_TOO_SMALL, f"no residual degrees of freedom (df={df})", n, df, _empty_curve()
        )
    q = float(student_t.ppf(0.5 + level / 2.0, df))
    curve = pd.DataFrame(
        {"x": gv, "fit": fit, "se": se, "ci_low": fit - q * se, "ci_high": fit + q * se}
    )
    return LoessResult(STATUS_OK, None, n, df, curve)
