"""How the warehouse's numbers read, written once for the HTML report (html_report.py), the console
summary (summary.py) and the headlines on the Dagster asset pages (headlines.py).

Pure pandas, no Dagster. A rate reads `23/31 74.2% (55.4-88.1)` (n/N, percent, exact 95% CI); a
missing median survival reads `NR`, not reached; any other missing value (a p-value, a CSF median) `NA`.
"""

from __future__ import annotations

import pandas as pd

from schemas.vocabulary import CURVE_GROUPS, MEASURES, MRD_MEASURES, OVERALL, RATE_GROUP_BYS

NOT_REACHED = "NR"
NOT_AVAILABLE = "NA"


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def num(value, digits: int = 1, missing: str = NOT_REACHED) -> str:
    """`74.2`; `missing` when there is no value (default NR, not reached: a survival estimate)."""
    return missing if _missing(value) else f"{value:.{digits}f}"


def _na(value, digits: int = 2) -> str:
    return num(value, digits, NOT_AVAILABLE)


def p_text(value) -> str:
    """A p-value to three significant digits; NA when there is none."""
    return NOT_AVAILABLE if _missing(value) else f"{value:.3g}"


def rate_text(n, total, pct, ci_low, ci_high) -> str:
    """`23/31 74.2% (55.4-88.1)`: n/N, percent, exact 95% CI."""
    return f"{int(n)}/{int(total)} {num(pct)}% ({num(ci_low)}-{num(ci_high)})"


def rate_cell(row) -> str:
    """rate_text of a rate-mart row (n_subjects, n_total, pct, ci_low_pct, ci_high_pct)."""
    return rate_text(row.n_subjects, row.n_total, row.pct, row.ci_low_pct, row.ci_high_pct)


# ---- tables of marts.agg_*_rates --------------------------------------------------------------

def rates_table(rates: pd.DataFrame, keys: list[str], category: str, categories: list[str],
                cell=rate_cell) -> pd.DataFrame:
    """One row per key x group, one column per category: n/N pct (95% CI) (or `cell` of the row:
    the report lays its links out the same way)."""
    frame = rates.assign(cell=rates.apply(cell, axis=1) if len(rates) else pd.Series(dtype=object))
    order = {group_by: i for i, group_by in enumerate(RATE_GROUP_BYS)}
    frame = frame.assign(_order=frame["group_by"].map(order).fillna(9))
    wide = frame.pivot_table(index=[*keys, "_order", "group_by", "group_value"], columns=category, values="cell",
                             aggfunc="first")
    wide = wide[[c for c in categories if c in wide.columns]].reset_index().drop(columns="_order")
    wide.columns.name = None
    return wide.rename(columns={"group_by": "group by", "group_value": "group"})


def toxicity_overall_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Overall CRS, ICANS (and IEC-HS) rates, any grade and severe, by criteria where the rows
    have it (marts.agg_toxicity_rates: a study may report two)."""
    keys = ["toxicity", "criteria"] if "criteria" in rates.columns else ["toxicity"]
    overall = rates[(rates["group_by"] == OVERALL) & rates["grade_category"].isin(["any", "severe"])]
    if overall.empty:
        return pd.DataFrame(columns=[*keys, "any", "severe"])
    table = rates_table(overall, keys, "grade_category", ["any", "severe"]).drop(columns=["group by", "group"])
    return table.astype(object).where(table.notna(), "")  # IEC-HS: presence, no `severe`


def response_overall_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Overall best-response rates, one row per measure (marts.agg_response_rates)."""
    overall = rates[rates["group_by"] == OVERALL]
    order = {m: i for i, m in enumerate((*MEASURES, *MRD_MEASURES))}
    overall = overall.assign(_order=overall["measure"].map(order).fillna(len(order))).sort_values("_order")
    return pd.DataFrame({"measure": overall["measure"].tolist(),
                         "n/N % (95% CI)": [rate_cell(r) for r in overall.itertuples(index=False)]})


# ---- analysis tables --------------------------------------------------------------------------

def km_table(summary: pd.DataFrame) -> pd.DataFrame:
    """analysis.km_summary: subjects, events, median (95% CI) in days (NR = not reached), 12-month
    survival (NA beyond follow-up)."""
    rows = []
    for r in summary.itertuples(index=False):
        rows.append({
            "endpoint": r.endpoint, "group by": r.group_by, "group": r.group_value,
            "subjects": int(r.n_subjects), "events": int(r.n_events),
            "median, days (95% CI)": f"{num(r.median_days, 0)} ({num(r.median_ci_low_days, 0)}-{num(r.median_ci_high_days, 0)})",
            "12-month survival": NOT_AVAILABLE if _missing(r.survival_12mo) else f"{num(100 * r.survival_12mo)}%",
        })
    return pd.DataFrame(rows)


def logrank_table(logrank: pd.DataFrame) -> pd.DataFrame:
    """analysis.km_logrank: the comparison, subjects, events, chi-square (df) and p."""
    return pd.DataFrame([{
        "endpoint": r.endpoint, "comparison": r.comparison, "subjects": int(r.n_subjects),
        "events": int(r.n_events), "chi-square (df)": f"{_na(r.statistic)} ({int(r.df)})", "p": p_text(r.p_value),
    } for r in logrank.itertuples(index=False)])


def csf_table(csf: pd.DataFrame) -> pd.DataFrame:
    """analysis.csf_pre_post: n before/after/paired, median [IQR] before and after, p."""
    def iqr(m, q1, q3):
        return f"{_na(m)} [{_na(q1)}-{_na(q3)}]"

    rows = []
    for r in csf.itertuples(index=False):
        rows.append({
            "analyte": r.analyte, "unit": getattr(r, "unit", ""), "n pre": int(r.n_pre), "n post": int(r.n_post),
            "n paired": int(r.n_paired), "pre, median [IQR]": iqr(r.median_pre, r.q1_pre, r.q3_pre),
            "post, median [IQR]": iqr(r.median_post, r.q1_post, r.q3_post),
            "p": p_text(r.p_value), "test": r.test,
        })
    return pd.DataFrame(rows)


def curve_status_table(counts: pd.DataFrame) -> pd.DataFrame:
    """analysis.cytokine_curves: curves (specimen x analyte) per group and status, from rows of
    group, status, curves."""
    if counts.empty:
        return pd.DataFrame(columns=["group"])
    wide = counts.pivot_table(index="group", columns="status", values="curves", aggfunc="sum", fill_value=0)
    order = {g: i for i, g in enumerate(CURVE_GROUPS)}
    wide = wide.loc[sorted(wide.index, key=lambda g: (order.get(g, len(order)), g))]
    wide = wide[sorted(wide.columns, key=lambda s: (s != "ok", s))].reset_index()
    wide.columns.name = None
    return wide.astype({c: int for c in wide.columns if c != "group"})


def intervention_table(tests: pd.DataFrame) -> pd.DataFrame:
    """analysis.intervention_tests: pairs, mean before -> after, geometric mean ratio (95% CI) for the
    cytokines, median percent change, p."""
    rows = []
    for r in tests.itertuples(index=False):
        ratio = "" if _missing(r.gm_ratio) else f"{_na(r.gm_ratio)} ({_na(r.gm_ratio_ci_low)}-{_na(r.gm_ratio_ci_high)})"
        rows.append({
            "measure": r.measure, "test": r.test, "pairs": int(r.n_pairs), "missing": int(r.n_missing),
            "mean before -> after": f"{_na(r.mean_before)} -> {_na(r.mean_after)}",
            "GM ratio (95% CI)": ratio, "median % change": _na(r.median_pct_change, 1), "p": p_text(r.p_value),
        })
    return pd.DataFrame(rows)
