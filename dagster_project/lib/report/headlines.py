"""The headline rows of a mart or analysis table: what its Dagster asset page shows after each
materialization (metadata `headline`, a table), in the report's formatting (formatting.py).

Pure (no Dagster). Each headline is a query (a few rows, run read-only in DuckDB after the table
was written) and the formatter of those rows:

| table | headline |
|---|---|
| marts.agg_consort | every step with its subjects |
| marts.agg_toxicity_rates | overall CRS and ICANS, any grade and severe: `23/31 74.2% (55.4-88.1)` |
| marts.agg_response_rates | overall ORR, CR, PR, SD, PD, NE |
| analysis.km_summary | subjects, events, median (95% CI, NR = not reached), 12-month survival |
| analysis.km_logrank | chi-square and p of each comparison |
| analysis.csf_pre_post | per analyte: n before/after/paired, median [IQR] before and after, p |
| analysis.cytokine_curves | curves (specimen x analyte) per group by status (ok, too_small, too_large) |
| analysis.intervention_tests | per measure: pairs, means before -> after, GM ratio (95% CI), p |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb
import pandas as pd

from dagster_project.lib.report import formatting as fmt

# relation -> (query of the headline rows, their formatter)
HEADLINES: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "marts.agg_consort": (
        "select step, n_subjects as subjects from marts.agg_consort order by step_order",
        lambda frame: frame,
    ),
    "marts.agg_toxicity_rates": (
        "select * from marts.agg_toxicity_rates where group_by = 'overall'",
        fmt.toxicity_overall_table,
    ),
    "marts.agg_response_rates": (
        "select * from marts.agg_response_rates where group_by = 'overall'",
        fmt.response_overall_table,
    ),
    "analysis.km_summary": ("select * from analysis.km_summary", fmt.km_table),
    "analysis.km_logrank": ("select * from analysis.km_logrank", fmt.logrank_table),
    "analysis.csf_pre_post": ("select * from analysis.csf_pre_post", fmt.csf_table),
    "analysis.cytokine_curves": (
        'select "group", status, count(*) as curves '
        'from (select distinct specimen, analyte, "group", status from analysis.cytokine_curves) group by all',
        fmt.curve_status_table,
    ),
    "analysis.intervention_tests": ("select * from analysis.intervention_tests", fmt.intervention_table),
}


def headline_frame(relation: str, rows: pd.DataFrame) -> pd.DataFrame:
    """The headline of `relation`, formatted, from the rows its query returned."""
    _, formatter = HEADLINES[relation]
    return formatter(rows)


def read_headline_frames(con: duckdb.DuckDBPyConnection, relations: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The formatted headline rows of each of `relations` that has one (queried through `con`)."""
    return {relation: headline_frame(relation, con.execute(HEADLINES[relation][0]).df())
            for relation in relations if relation in HEADLINES}
