"""The short summary `warehouse run` prints: deliveries, rows, CONSORT and headline tables, per
study (a line per study, prefixed with its id, when the warehouse holds several; the published
Park 2023 values beside ours only when it holds one)."""

from __future__ import annotations

import textwrap
from datetime import datetime
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


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {c for (c,) in con.execute("select column_name from information_schema.columns "
                                      "where table_schema = ? and table_name = ?", [schema, table]).fetchall()}


# How much of a file's reasons / rules text the summary shows (all of it is in audit.deliveries).
REASONS_WIDTH = 240


def _print_foreign_files(con: duckdb.DuckDBPyConnection, since: datetime | None) -> None:
    """The figures of record of each foreign file loaded by this run (since `since`; every one when
    None): its rows, its records = mapped + out of scope + quarantined, the reasons and rules."""
    if "out_of_scope_reasons" not in _columns(con, "audit", "deliveries"):
        return
    rows = con.execute(
        """select file_name, adapter, data_rows, rows_delivered, rows_accepted, rows_out_of_scope, rows_quarantined,
                  out_of_scope_reasons, quarantine_rules, status, message
           from audit.deliveries
           where adapter is not null and (cast(? as timestamp) is null or loaded_at >= ?)
           order by study_id, file_name""",
        [since, since],
    ).fetchall()
    if not rows:
        return
    print("foreign files (a file row may give several records; records = mapped + out of scope + quarantined):")
    for name, adapter, data_rows, records, mapped, out, quarantined, reasons, rules, status, message in rows:
        if status != "loaded":
            print(f"  {name} ({adapter}): {status}" + (f": {message}" if message and status == "rejected" else ""))
            continue
        print(f"  {name} ({adapter}): {data_rows:,} rows, {records:,} records = {mapped:,} mapped "
              f"+ {out:,} out of scope + {quarantined:,} quarantined")
        for label, text in (("out of scope", reasons), ("quarantined", rules)):
            if text:
                print(textwrap.fill(textwrap.shorten(f"{label}: {text}", REASONS_WIDTH,
                                                     placeholder=" ... (all in audit.deliveries)"),
                                    width=100, initial_indent="      ", subsequent_indent="        "))


def print_summary(warehouse: Path, serving: Path, files_since: datetime | None = None) -> None:
    source = serving if serving.exists() else warehouse
    if not source.exists():
        print("no warehouse file yet")
        return
    with duckdb.connect(str(source), read_only=True) as con:
        print(f"\n== summary (from {source.name}) ==")
        if _table_exists(con, "audit", "deliveries"):
            out_of_scope = "rows_out_of_scope" if "rows_out_of_scope" in _columns(con, "audit", "deliveries") else "0"
            rows = con.execute(
                f"""select status, count(*), sum(rows_delivered), sum(rows_accepted), sum(rows_quarantined),
                          sum(rows_superseded), sum({out_of_scope})
                   from audit.deliveries group by all order by 1"""
            ).fetchall()
            print("deliveries: " + ", ".join(f"{s} {n}" for s, n, *_ in rows))
            loaded = [r for r in rows if r[0] != "duplicate"]
            print(
                "rows: delivered {}, accepted {}, quarantined {}, superseded by corrections {}, "
                "out of scope {}".format(*(sum(int(r[i] or 0) for r in loaded) for i in (2, 3, 4, 5, 6)))
            )
            _print_foreign_files(con, files_since)
        studies = []
        if _table_exists(con, "marts", "agg_consort") and "study_id" in _columns(con, "marts", "agg_consort"):
            studies = [s for (s,) in con.execute("select distinct study_id from marts.agg_consort order by 1").fetchall()]
        several = len(studies) > 1

        def prefix(study) -> str:
            return f"[{study}] " if several else ""

        study = "study_id" if studies else "null as study_id"
        if _table_exists(con, "marts", "agg_consort"):
            rows = con.execute(f"select {study}, step, n_subjects from marts.agg_consort order by 1, step_order").fetchall()
            for sid in dict.fromkeys(r[0] for r in rows):
                print(f"{prefix(sid)}CONSORT: " + ", ".join(f"{s} {n}" for i, s, n in rows if i == sid))
        if _table_exists(con, "marts", "agg_toxicity_rates"):
            criteria = "criteria" if "criteria" in _columns(con, "marts", "agg_toxicity_rates") else "null as criteria"
            heading = "published (Park 2023)" if not several else ""
            print(f"toxicity (overall)  {'ours, n/N % (95% CI)':27}{heading}")
            rows = con.execute(
                f"""select {study}, toxicity, {criteria}, grade_category, n_subjects, n_total, pct, ci_low_pct,
                           ci_high_pct
                   from marts.agg_toxicity_rates
                   where group_by = 'overall' and grade_category in ('any', 'severe') order by 1, 2, 3, 4"""
            ).fetchall()
            names = [tox if crit in (None, "ASTCT2019") else f"{tox} ({crit})" for _, tox, crit, *_ in rows]
            width = max([5, *(len(n) for n in names)])
            for name, (sid, tox, crit, cat, n, total, pct, lo, hi) in zip(names, rows):
                published = PARK2023_PUBLISHED.get((tox, cat), "") if not several else ""
                print(f"  {prefix(sid)}{name:{width}} {cat:6}      {rate_text(n, total, pct, lo, hi):27}{published}")
        if _table_exists(con, "marts", "agg_response_rates"):
            for sid, measure, n, total, pct, lo, hi in con.execute(
                f"""select {study}, measure, n_subjects, n_total, pct, ci_low_pct, ci_high_pct
                   from marts.agg_response_rates
                   where group_by = 'overall' and measure in ('ORR', 'CR') order by 1, 2 desc"""
            ).fetchall():
                published = PARK2023_PUBLISHED.get((measure,), "") if not several else ""
                print(f"  {prefix(sid)}{measure:12}      {rate_text(n, total, pct, lo, hi):27}{published}")
        published = [
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name in ('marts', 'analysis') order by 1, 2"
            ).fetchall()
        ]
        print("tables: " + ", ".join(published))
