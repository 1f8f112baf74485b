"""Exact binomial (Clopper-Pearson) confidence intervals.

Rule: derivations.md, "Proportions" -- rates carry exact (Clopper-Pearson) 95% intervals.
Reproduces R ``stats::binom.test(x, n)$conf.int``
(reference: shared/reference/clopper_pearson.json).

The interval is the beta-quantile form
``[qbeta(alpha/2, x, n - x + 1), qbeta(1 - alpha/2, x + 1, n - x)]``, with 0 as the lower
limit when ``x == 0`` and 1 as the upper limit when ``x == n``, exactly as ``binom.test``.

Computed with statsmodels' ``proportion_confint(method="beta")`` (scipy's beta quantiles, the
same closed form as R; scipy's ``binomtest(...).proportion_ci`` root-finds and is ~1e-13 off).

``n == 0``: no interval exists (R's ``binom.test`` refuses ``n = 0``); both functions return
NaN limits, which the marts store as null.
"""

from __future__ import annotations

import math

import numpy as np
from statsmodels.stats.proportion import proportion_confint

__all__ = ["clopper_pearson", "clopper_pearson_arrays"]


def _check_counts(x: int, n: int) -> None:
    if n < 0 or x < 0 or x > n:
        raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")


def clopper_pearson(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact ``1 - alpha`` interval for ``x`` successes out of ``n`` trials.

    Returns ``(low, high)`` as proportions in 0..1; ``(nan, nan)`` when ``n == 0``.
    Raises ``ValueError`` unless ``0 <= x <= n`` are whole numbers.
    """
    if x != int(x) or n != int(n):
        raise ValueError(f"x and n must be whole numbers, got x={x}, n={n}")
    x, n = int(x), int(n)
    _check_counts(x, n)
    if n == 0:
        return (math.nan, math.nan)
    low, high = clopper_pearson_arrays(x, n, alpha=alpha)
    return (float(low), float(high))


def clopper_pearson_arrays(x, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`clopper_pearson` for array-likes or DataFrame columns.

    ``x`` and ``n`` broadcast against each other. Returns two float arrays ``(low, high)``;
    NaN where ``n == 0`` or where ``x``/``n`` is missing. Raises ``ValueError`` when some
    present pair does not satisfy ``0 <= x <= n``.

    Example: ``df["ci_low"], df["ci_high"] = clopper_pearson_arrays(df.n_subjects, df.n_total)``.
    """
    x_arr, n_arr = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    low = np.full(x_arr.shape, np.nan)
    high = np.full(x_arr.shape, np.nan)
    present = ~(np.isnan(x_arr) | np.isnan(n_arr))
    bad = present & ((x_arr < 0) | (x_arr > n_arr) | (x_arr != np.round(x_arr)))
    if bad.any():
        raise ValueError("need whole numbers with 0 <= x <= n for every present pair")
    ok = present & (n_arr > 0)
    if ok.any():
        # statsmodels' "beta" method is the Clopper-Pearson interval, vectorised.
        lo, hi = proportion_confint(x_arr[ok], n_arr[ok], alpha=alpha, method="beta")
        low[ok] = lo
        high[ok] = hi
    return low, high


RATE_COLUMNS = ["group_by", "group_value", "n_subjects", "n_total", "pct", "ci_low_pct", "ci_high_pct"]


def rates_by_group(subjects, groupings, measures, ids=None):
    """A rate table: for each measure x grouping x group value, n / N with its exact 95% CI.

    `subjects` is a DataFrame with one row per subject (the denominator); `groupings` are
    `"overall"` (group value `all`) or column names (a group per value, missing values included);
    `measures` are `(labels, selects)` pairs: `labels` a dict of the measure's own columns (e.g.
    {"toxicity": "CRS", "grade_category": "any"}), `selects(frame)` a boolean Series of the
    subjects counted. Percentages are 0..100; a group of 0 subjects has null pct and CI.
    With `ids` (a column of `subjects`), each row also lists the ids of the subjects it counted,
    sorted (`counted_subject_ids`: the row's lineage, issue 17), from the same selection as n.
    """
    import pandas as pd

    rows = []
    for labels, selects in measures:
        for group_by in groupings:
            groups = [("all", subjects)] if group_by == "overall" else subjects.groupby(group_by, dropna=False, sort=True)
            for group_value, frame in groups:
                n_total = len(frame)
                selected = selects(frame)
                n = int(selected.sum())
                low, high = clopper_pearson(n, n_total)
                counted = {"counted_subject_ids": sorted(str(i) for i in frame.loc[selected.to_numpy(), ids])} if ids else {}
                rows.append({
                    **labels,
                    "group_by": group_by,
                    "group_value": None if pd.isna(group_value) else str(group_value),
                    "n_subjects": n,
                    "n_total": n_total,
                    "pct": 100.0 * n / n_total if n_total else None,
                    "ci_low_pct": None if math.isnan(low) else 100.0 * low,
                    "ci_high_pct": None if math.isnan(high) else 100.0 * high,
                    **counted,
                })
    label_columns = list(measures[0][0]) if measures else []
    out = pd.DataFrame(rows, columns=[*label_columns, *RATE_COLUMNS, *(["counted_subject_ids"] if ids else [])])
    out = out.astype({"n_subjects": "int64", "n_total": "int64", "pct": "float64", "ci_low_pct": "float64", "ci_high_pct": "float64"})
    return out


def stacked(tables, columns, types):
    """Rate tables (one per study, from rates_by_group) as one frame of `columns` cast to `types`
    (column -> dtype; the others text); an empty frame of those columns when there is none. Here so
    that the dbt Python models, which may import only the vocabulary and this package, need no
    pandas of their own."""
    import pandas as pd

    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=types.get(c, "string")) for c in columns})
    return pd.concat(tables, ignore_index=True)[columns].astype(types)
