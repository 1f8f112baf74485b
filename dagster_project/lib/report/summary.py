"""The short summary `warehouse run` prints: deliveries, rows, CONSORT and headline tables."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.lib.report.formatting import rate_text
from dagster_project.lib.report.published import PARK2023_PUBLISHED

def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def print_summary(warehouse: Path, serving: Path) -> None:
    source = serving if serving.exists() else warehouse
    if not source.exists():
        print("no warehouse file yet")
        return
    with duckdb.connect(str(source), read_only=True) as con:
        print(f"\n== summary (from {source.name}) ==")
        if _table_exists(con, "audit", "deliveries"):
            rows = con.execute(
                """select status, count(*), sum(rows_delivered), sum(rows_accepted), sum(rows_quarantined),
                          sum(rows_superseded)
                   from audit.deliveries group by all order by 1"""
            ).fetchall()
            print("deliveries: " + ", ".join(f"{s} {n}" for s, n, *_ in rows))
            loaded = [r for r in rows if r[0] != "duplicate"]
            print(
                "rows: delivered {}, accepted {}, quarantined {}, superseded by corrections {}".format(
                    *(sum(int(r[i] or 0) for r in loaded) for i in (2, 3, 4, 5))
                )
            )
        if _table_exists(con, "marts", "agg_consort"):
            consort = con.execute("select step, n_subjects from marts.agg_consort order by step_order").fetchall()
            print("CONSORT: " + ", ".join(f"{s} {n}" for s, n in consort))
        if _table_exists(con, "marts", "agg_toxicity_rates"):
            print(f"toxicity (overall)  {'ours, n/N % (95% CI)':27}published (Park 2023)")
            for tox, cat, n, total, pct, lo, hi in con.execute(
                """select toxicity, grade_category, n_subjects, n_total, pct, ci_low_pct, ci_high_pct
                   from marts.agg_toxicity_rates
                   where group_by = 'overall' and grade_category in ('any', 'severe') order by 1, 2"""
            ).fetchall():
                published = PARK2023_PUBLISHED.get((tox, cat), "")
                print(f"  {tox:5} {cat:6}      {rate_text(n, total, pct, lo, hi):27}{published}")
        if _table_exists(con, "marts", "agg_response_rates"):
            for measure, n, total, pct, lo, hi in con.execute(
                """select measure, n_subjects, n_total, pct, ci_low_pct, ci_high_pct from marts.agg_response_rates
                   where group_by = 'overall' and measure in ('ORR', 'CR') order by 1 desc"""
            ).fetchall():
                published = PARK2023_PUBLISHED.get((measure,), "")
                print(f"  {measure:12}      {rate_text(n, total, pct, lo, hi):27}{published}")
        published = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'analysis') order by 1, 2"
            ).fetchall()
        ]
        print("tables: " + ", ".join(published))
