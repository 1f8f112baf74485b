"""The analysts' static HTML report: one self-contained file from the serving copy.

Pure (no Dagster). Reads the published serving file read-only and the figures the analysis
assets wrote (<data dir>/figures/*.png, embedded as base64), and writes
<data dir>/reports/warehouse_report.html atomically. Only aggregates and audit counts are shown;
the marts hold no identifying data and the quarantine's rejected values are never printed.

The data version is a hash of the sha256 of every delivery in audit.deliveries: the same
deliveries give the same version, whichever run built the report.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.figures import catalogue
from schemas.vocabulary import GRADE_CATEGORIES, MEASURES, RATE_GROUP_BYS


@dataclass(frozen=True)
class Report:
    path: Path
    data_version: str
    n_deliveries: int
    tables: tuple[str, ...]  # the sections with data
    figures: tuple[str, ...]


def data_version(delivery_sha256s: list[str]) -> str:
    """Short hash of the set of deliveries (order-free)."""
    joined = "\n".join(sorted(set(delivery_sha256s)))
    return hashlib.sha256(joined.encode("ascii")).hexdigest()[:16]


def build_report(serving_path: str | Path, figures_dir: str | Path, out_path: str | Path, run_id: str) -> Report:
    """Render the report from the serving file and the figures; write it atomically."""
    tables = read_tables(Path(serving_path))
    figures = read_figures(Path(figures_dir))
    shas = tables["deliveries"]["delivery_sha256"].dropna().tolist() if tables.get("deliveries") is not None else []
    version = data_version(shas)
    text = render_html(tables, figures, run_id=run_id, data_version=version)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return Report(
        path=out,
        data_version=version,
        n_deliveries=len(set(shas)),
        tables=tuple(k for k, v in tables.items() if v is not None and len(v)),
        figures=tuple(name for name, _ in figures),
    )


# ---- reading ---------------------------------------------------------------------------------

_QUERIES = {
    "consort": ("marts", "agg_consort", "select step_order, step, n_subjects from marts.agg_consort order by step_order"),
    "toxicity_rates": ("marts", "agg_toxicity_rates", "select * from marts.agg_toxicity_rates"),
    "response_rates": ("marts", "agg_response_rates", "select * from marts.agg_response_rates"),
    "km_summary": ("analysis", "km_summary", "select * from analysis.km_summary"),
    "km_logrank": ("analysis", "km_logrank", "select * from analysis.km_logrank"),
    "csf_pre_post": ("analysis", "csf_pre_post", "select * from analysis.csf_pre_post"),
    "intervention_tests": ("analysis", "intervention_tests", "select * from analysis.intervention_tests"),
    "deliveries": ("audit", "deliveries", "select delivery_sha256, source, status, rows_delivered, rows_accepted, "
                   "rows_quarantined, rows_superseded from audit.deliveries"),
    # counts only: the rejected values themselves stay in the warehouse
    "quarantine": ("audit", "quarantine", "select source, rule, count(*) as rows from audit.quarantine "
                   "group by all order by source, rows desc, rule"),
    "publication": ("audit", "publication", "select run_id, published_at from audit.publication"),
}


def read_tables(serving_path: Path) -> dict[str, pd.DataFrame | None]:
    """The report's tables from the serving file (None where a table is not published)."""
    with duckdb.connect(str(serving_path), read_only=True) as con:
        present = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
        present |= set(con.execute("select schema_name, view_name from duckdb_views() where not internal").fetchall())
        return {
            name: con.execute(sql).df() if (schema, table) in present else None
            for name, (schema, table, sql) in _QUERIES.items()
        }


def read_figures(figures_dir: Path) -> list[tuple[str, bytes]]:
    if not figures_dir.is_dir():
        return []
    files = {p.stem: p for p in figures_dir.glob("*.png")}
    # the catalogued figures in report order, then any other figure by name
    ordered = [s for s in catalogue.STEMS if s in files] + sorted(s for s in files if s not in catalogue.CAPTIONS)
    return [(stem, files[stem].read_bytes()) for stem in ordered]


# ---- formatting ------------------------------------------------------------------------------

def _num(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "NR"
    return f"{value:.{digits}f}"


def rate_cell(row) -> str:
    """`23/31 74.2% (55.4-88.1)`"""
    return f"{int(row.n_subjects)}/{int(row.n_total)} {_num(row.pct)}% ({_num(row.ci_low_pct)}-{_num(row.ci_high_pct)})"


def rates_table(rates: pd.DataFrame, keys: list[str], category: str, categories: list[str]) -> pd.DataFrame:
    """One row per key x group, one column per category: n/N pct (95% CI)."""
    frame = rates.assign(cell=rates.apply(rate_cell, axis=1))
    order = {group_by: i for i, group_by in enumerate(RATE_GROUP_BYS)}
    frame = frame.assign(_order=frame["group_by"].map(order).fillna(9))
    wide = frame.pivot_table(index=[*keys, "_order", "group_by", "group_value"], columns=category, values="cell",
                             aggfunc="first")
    wide = wide[[c for c in categories if c in wide.columns]].reset_index().drop(columns="_order")
    wide.columns.name = None
    return wide.rename(columns={"group_by": "group by", "group_value": "group"})


def km_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in summary.itertuples(index=False):
        rows.append({
            "endpoint": r.endpoint, "group by": r.group_by, "group": r.group_value,
            "subjects": int(r.n_subjects), "events": int(r.n_events),
            "median, days (95% CI)": f"{_num(r.median_days, 0)} ({_num(r.median_ci_low_days, 0)}-{_num(r.median_ci_high_days, 0)})",
            "12-month survival": f"{_num(100 * r.survival_12mo if pd.notna(r.survival_12mo) else None)}%",
        })
    return pd.DataFrame(rows)


def csf_table(csf: pd.DataFrame) -> pd.DataFrame:
    def iqr(m, q1, q3):
        return f"{_num(m, 2)} [{_num(q1, 2)}-{_num(q3, 2)}]"

    rows = []
    for r in csf.itertuples(index=False):
        rows.append({
            "analyte": r.analyte, "unit": getattr(r, "unit", ""), "n pre": int(r.n_pre), "n post": int(r.n_post),
            "n paired": int(r.n_paired), "pre, median [IQR]": iqr(r.median_pre, r.q1_pre, r.q3_pre),
            "post, median [IQR]": iqr(r.median_post, r.q1_post, r.q3_post),
            "p": "NA" if pd.isna(r.p_value) else f"{r.p_value:.3g}", "test": r.test,
        })
    return pd.DataFrame(rows)


def deliveries_table(deliveries: pd.DataFrame) -> pd.DataFrame:
    summary = (
        deliveries.groupby(["source", "status"], dropna=False)
        .agg(deliveries=("delivery_sha256", "count"), rows_delivered=("rows_delivered", "sum"),
             rows_accepted=("rows_accepted", "sum"), rows_quarantined=("rows_quarantined", "sum"),
             rows_superseded=("rows_superseded", "sum"))
        .reset_index()
    )
    total = summary.drop(columns=["source", "status"]).sum(numeric_only=True)
    total_row = pd.DataFrame([{"source": "total", "status": "", **total.to_dict()}])
    return pd.concat([summary, total_row], ignore_index=True)


def _table_html(frame: pd.DataFrame | None, empty: str = "Not published in this run.") -> str:
    if frame is None:
        return f"<p class='muted'>{html.escape(empty)}</p>"
    if frame.empty:
        return "<p class='muted'>No rows.</p>"
    return frame.to_html(index=False, escape=True, na_rep="", border=0, classes="t",
                         float_format=lambda v: f"{v:.4g}")


def _figure_html(name: str, png: bytes) -> str:
    caption = catalogue.CAPTIONS.get(name, name.replace("_", " "))
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem;line-height:1.4}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2.2rem}
.muted{color:#57606a} .meta td{padding:.1rem .8rem .1rem 0}
table.t{border-collapse:collapse;font-size:.86rem;margin:.5rem 0}
table.t th,table.t td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
table.t th{background:#f6f8fa} table.t tr:nth-child(even) td{background:#fbfcfd}
figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#57606a}
code{background:#f6f8fa;padding:0 .25rem}
"""


def render_html(tables: dict[str, pd.DataFrame | None], figures: list[tuple[str, bytes]], *, run_id: str,
                data_version: str) -> str:
    """The whole report as one HTML string (no external resources)."""
    t = tables
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    publication = t.get("publication")
    published = ""
    if publication is not None and len(publication):
        p = publication.iloc[0]
        published = f"{p['published_at']} (run {p['run_id']})"
    n_deliveries = 0 if t.get("deliveries") is None else t["deliveries"]["delivery_sha256"].nunique()

    sections: list[str] = []

    def section(title: str, body: str, note: str = "") -> None:
        note_html = f"<p class='muted'>{html.escape(note)}</p>" if note else ""
        sections.append(f"<h2>{html.escape(title)}</h2>{note_html}{body}")

    section("CONSORT", _table_html(t.get("consort")),
            "Enrolled, infused and evaluable subjects (marts.agg_consort).")
    tox = t.get("toxicity_rates")
    section("CRS and ICANS rates", _table_html(None if tox is None else rates_table(
        tox, ["toxicity"], "grade_category", list(GRADE_CATEGORIES))),
        "n/N infused subjects, % (exact 95% Clopper-Pearson CI); any = max grade >= 1, severe = >= 3; "
        "adjudicated ASTCT grades (marts.agg_toxicity_rates).")
    resp = t.get("response_rates")
    section("Response by day 100", _table_html(None if resp is None else rates_table(
        resp, [], "measure", list(MEASURES))),
        "Best response on days 1..100, n/N infused subjects, % (exact 95% CI) (marts.agg_response_rates).")
    km = t.get("km_summary")
    body = _table_html(None if km is None else km_table(km))
    if t.get("km_logrank") is not None:
        body += _table_html(t["km_logrank"])
    section("Survival (Kaplan-Meier)", body, "From infusion; NR = not reached (analysis.km_summary, km_logrank).")
    csf = t.get("csf_pre_post")
    section("CSF before and after infusion", _table_html(None if csf is None else csf_table(csf)),
            "Partially matched Wilcoxon test, two-sided (analysis.csf_pre_post).")
    if t.get("intervention_tests") is not None:
        section("Intervention tests", _table_html(t["intervention_tests"]), "analysis.intervention_tests.")
    section("Figures", "".join(_figure_html(n, b) for n, b in figures) or "<p class='muted'>No figures.</p>")
    deliveries = t.get("deliveries")
    section("Deliveries", _table_html(None if deliveries is None else deliveries_table(deliveries)),
            "Every delivery file by source and status, with its rows (audit.deliveries).")
    section("Quarantine", _table_html(t.get("quarantine")),
            "Rejected rows by source and broken rule; the rejected values stay in audit.quarantine.")
    section("More", "<ul><li>Data quality (Great Expectations Data Docs): <a href='../docs/index.html'>"
            "../docs/index.html</a></li><li>dbt model documentation: <a href='../dbt_docs/static_index.html'>"
            "../dbt_docs/static_index.html</a></li></ul>")

    meta = "".join(
        f"<tr><td class='muted'>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in (("data version", data_version), ("deliveries (distinct sha256)", n_deliveries), ("Dagster run", run_id),
                     ("serving copy published", published or "unknown"), ("generated", generated))
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>CAR T warehouse report {html.escape(data_version)}</title><style>{_CSS}</style></head><body>"
        "<h1>CAR T-cell therapy biomarker warehouse</h1>"
        "<p class='muted'>Static report from the published serving copy. Aggregates only; no identifying data.</p>"
        f"<table class='meta'>{meta}</table>{''.join(sections)}</body></html>\n"
    )
