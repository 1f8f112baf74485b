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

Every table has study_id first (studies-and-inputs.md): each study's rows are formatted on their
own, and with several studies the headline gains a first column `study`; with one, it reads as
before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import duckdb
import pandas as pd

from dagster_project.lib.report import formatting as fmt

# relation -> (query of the headline rows, their formatter)
HEADLINES: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame]]] = {
    "marts.agg_consort": (
        "select study_id, step, n_subjects as subjects from marts.agg_consort order by study_id, step_order",
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
        'select study_id, "group", status, count(*) as curves '
        'from (select distinct study_id, specimen, analyte, "group", status from analysis.cytokine_curves) '
        'group by all order by all',
        fmt.curve_status_table,
    ),
    "analysis.intervention_tests": ("select * from analysis.intervention_tests", fmt.intervention_table),
}


def headline_frame(relation: str, rows: pd.DataFrame, several: bool | None = None) -> pd.DataFrame:
    """The headline of `relation`, formatted, from the rows its query returned: per study, with a
    `study` column when the warehouse holds several studies (``several``; None: when the rows
    are of several)."""
    _, formatter = HEADLINES[relation]
    if "study_id" not in rows.columns:
        return formatter(rows)
    studies = list(dict.fromkeys(rows["study_id"]))
    if not (len(studies) > 1 if several is None else several):
        return formatter(rows.drop(columns="study_id").reset_index(drop=True))
    parts = []
    for study in studies:
        part = formatter(rows[rows["study_id"] == study].drop(columns="study_id").reset_index(drop=True))
        part.insert(0, "study", study)
        parts.append(part)
    if not parts:
        return formatter(rows.drop(columns="study_id"))
    out = pd.concat(parts, ignore_index=True)
    # a count one study has and another not (a curve status) is 0 there, not missing
    for column in out.columns:
        if all(column in p.columns and pd.api.types.is_integer_dtype(p[column]) for p in parts if column in p.columns) \
                and out[column].isna().any():
            out[column] = out[column].fillna(0).astype(int)
    return out


def _several_studies(con: duckdb.DuckDBPyConnection) -> bool | None:
    exists = con.execute("select count(*) from duckdb_tables() where schema_name = 'marts' "
                         "and table_name = 'dim_studies'").fetchone()[0]
    return con.execute("select count(*) > 1 from marts.dim_studies").fetchone()[0] if exists else None


def read_headline_frames(con: duckdb.DuckDBPyConnection, relations: Iterable[str]) -> dict[str, pd.DataFrame]:
    """The formatted headline rows of each of `relations` that has one (queried through `con`)."""
    wanted = [relation for relation in relations if relation in HEADLINES]
    several = _several_studies(con) if wanted else None
    return {relation: headline_frame(relation, con.execute(HEADLINES[relation][0]).df(), several)
            for relation in wanted}
