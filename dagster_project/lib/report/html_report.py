"""The analysts' static HTML report: one self-contained file from the serving copy.

Pure (no Dagster). Reads the published serving file read-only and the figures the analysis
assets wrote (<data dir>/figures/<study_id>/*.png, embedded as base64), and writes
<data dir>/reports/warehouse_report.html atomically. Shown are aggregates and the audit trail:
every delivery file with its rows and status, and the latest quarantined rows (file, row, column,
rule, value). No identifying data is shown: the marts hold none, and the quarantine's rejected
values are printed (cut to 60 characters) because they cannot be identifying either. Identifying
columns (names, MRNs, birth dates) are dropped when a delivery is read, before validation, so a
quarantined value is a contract column's cell, a row's natural key or a reason; it is the value
analysts already read in the serving copy's audit.quarantine, and a data engineer needs it to fix
the delivery. tests/test_privacy.py scans this report with every other written file.

Studies (studies-and-inputs.md, "Studies"): the statistics are per study (every mart and
analysis table has study_id first). With one study the report reads as a one-study report (its
sections, the study named in the header); with several, an overview of the studies
(marts.dim_studies) and one part per study with its own sections and figures. The deliveries and
the quarantine are the warehouse's, one list with a study column.

Given the warehouse file too (the report asset gives it), each published number shown that has
row-level lineage links to its explain page, <data dir>/reports/explain/<hash>.html
(explain_pages.py): the toxicity and response rates, the Kaplan-Meier medians, the log-rank p,
the CSF medians and p; the page lists the subjects (or samples) behind the number and their
delivered rows, as `warehouse explain` prints them. A table explain cannot answer (no lineage
published for it) is shown unlinked, and a section's note says its numbers link only when they do.

The data version is a hash of the sha256 of every delivery in audit.deliveries: the same
deliveries give the same version, whichever run built the report.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.figures import catalogue
from dagster_project.lib.ingest.store import LATEST_QUARANTINED, VALUE_CHARS, latest_deliveries, latest_quarantined
from dagster_project.lib.report.explain_pages import (
    CONSORT_TABLE, CSF_TABLE, INTERVENTION_TABLE, KM_TABLE, LOGRANK_TABLE, RATES_TABLE, RESPONSE_TABLE, Cell, Row, lineage_key,
    write_pages,
)
from dagster_project.lib.report.formatting import csf_table, km_table, rates_table
from schemas.vocabulary import GRADE_CATEGORIES, MEASURES, MRD_MEASURES


@dataclass(frozen=True)
class Report:
    path: Path
    data_version: str
    n_deliveries: int
    tables: tuple[str, ...]  # the sections with data
    figures: tuple[str, ...]  # <study_id>/<stem>, in report order
    explain_pages: int = 0  # numbers linked to their explain page (explain_pages.py)
    explain_error: str | None = None  # why the toxicity rates are not linked, when they are not
    explain_seconds: float = 0.0  # the time the explain pages took
    # every table whose numbers are not linked -> why (explain's message: no lineage, a locked file)
    explain_errors: dict[str, str] = field(default_factory=dict)


def data_version(delivery_sha256s: list[str]) -> str:
    """Short hash of the set of deliveries (order-free)."""
    joined = "\n".join(sorted(set(delivery_sha256s)))
    return hashlib.sha256(joined.encode("ascii")).hexdigest()[:16]


def build_report(serving_path: str | Path, figures_dir: str | Path, out_path: str | Path, run_id: str,
                 warehouse_path: str | Path | None = None, explain_max_subjects: int | None = None) -> Report:
    """Render the report from the serving file and the figures; write it atomically. With the
    warehouse file, each published number shown that has lineage links to its explain page
    (explain_pages.py), written under <report folder>/explain/ first, for the studies of at most
    `explain_max_subjects` subjects (a page lists every subject behind its number: the pages of
    a large study cost minutes and GiB; `warehouse explain` answers for its numbers)."""
    tables = read_tables(Path(serving_path))
    out = Path(out_path)
    links: dict[Cell, str] = {}
    errors: dict[str, str] = {}
    started = time.perf_counter()
    if warehouse_path is not None:
        too_large = _too_large_for_pages(tables.get("studies"), explain_max_subjects)
        shown = [row for row in shown_rows(tables) if row[0] not in too_large]
        pages = write_pages(Path(serving_path), Path(warehouse_path), out.parent, shown)
        links, errors = pages.links, pages.errors
        for study, n in too_large.items():
            errors[f"study {study}"] = (
                f"{n} subjects, more than WAREHOUSE_REPORT_EXPLAIN_MAX_SUBJECTS ({explain_max_subjects}): its "
                "numbers are not linked to pages; `uv run warehouse explain` answers for any of them")
    explain_seconds = time.perf_counter() - started
    studies = report_studies(tables)
    figures = {study: read_figures(Path(figures_dir) if study is None else Path(figures_dir) / study)
               for study, _ in studies}
    shas = tables["deliveries"]["delivery_sha256"].dropna().tolist() if tables.get("deliveries") is not None else []
    version = data_version(shas)
    text = render_html(tables, figures, run_id=run_id, data_version=version, links=links)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return Report(
        path=out,
        data_version=version,
        n_deliveries=len(set(shas)),
        tables=tuple(k for k, v in tables.items() if v is not None and len(v)),
        figures=tuple(name if study is None else f"{study}/{name}" for study, found in figures.items()
                      for name, _ in found),
        explain_pages=len(links),
        explain_error=errors.get(RATES_TABLE),
        explain_seconds=explain_seconds,
        explain_errors=errors,
    )


def _too_large_for_pages(studies: pd.DataFrame | None, limit: int | None) -> dict[str | None, int]:
    """study -> its subjects, for the studies above `limit` (marts.dim_studies n_subjects)."""
    if limit is None or studies is None or "n_subjects" not in studies.columns:
        return {}
    large = studies[studies["n_subjects"].fillna(0) > limit]
    ids = large["study_id"] if "study_id" in large.columns else [None] * len(large)
    return {s: int(n) for s, n in zip(ids, large["n_subjects"])}


# The report's tables (read_tables names) of the linked numbers, by table: every table of
# explain_pages.LINKED.
_LINKED_TABLES = {CONSORT_TABLE: "consort", RATES_TABLE: "toxicity_rates", RESPONSE_TABLE: "response_rates", KM_TABLE: "km_summary",
                  LOGRANK_TABLE: "km_logrank", CSF_TABLE: "csf_pre_post", INTERVENTION_TABLE: "intervention_tests"}


def _shown(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a linked table the report shows as cells: a rate table's rows of the categories
    it has columns for; every row of the others."""
    if table == RATES_TABLE:
        return frame[frame["grade_category"].isin(GRADE_CATEGORIES)]
    if table == RESPONSE_TABLE:
        return frame[frame["measure"].isin([*MEASURES, *MRD_MEASURES])]
    return frame


def shown_rows(tables: dict[str, pd.DataFrame | None]) -> list[Row]:
    """(study_id, table, lineage key) of every row of a linked table the report shows (the
    survival tables only for a study with a survival time: the section says so instead)."""
    km = tables.get("km_summary")
    with_survival = set() if km is None or "study_id" not in km.columns else \
        set(km.loc[km["n_subjects"] > 0, "study_id"].astype(str))
    rows: list[Row] = []
    for table, name in _LINKED_TABLES.items():
        frame = tables.get(name)
        if frame is None or frame.empty or "study_id" not in frame.columns:
            continue
        shown = _shown(table, frame)
        if table in (KM_TABLE, LOGRANK_TABLE):
            shown = shown[shown["study_id"].astype(str).isin(with_survival)]
        rows.extend((r["study_id"], table, lineage_key(table, r)) for _, r in shown.iterrows())
    return rows


# ---- reading ---------------------------------------------------------------------------------

_QUERIES = {
    "studies": ("marts", "dim_studies", "select * from marts.dim_studies order by study_id"),
    "consort": ("marts", "agg_consort", "select * from marts.agg_consort order by all"),
    "toxicity_rates": ("marts", "agg_toxicity_rates", "select * from marts.agg_toxicity_rates"),
    "response_rates": ("marts", "agg_response_rates", "select * from marts.agg_response_rates"),
    "km_summary": ("analysis", "km_summary", "select * from analysis.km_summary"),
    "km_logrank": ("analysis", "km_logrank", "select * from analysis.km_logrank"),
    "csf_pre_post": ("analysis", "csf_pre_post", "select * from analysis.csf_pre_post"),
    "intervention_tests": ("analysis", "intervention_tests", "select * from analysis.intervention_tests"),
    "publication": ("audit", "publication", "select run_id, published_at from audit.publication"),
}


# The delivery log, file by file and row by row, through the query the raw/deliveries and
# raw/quarantine metadata use (lib/ingest/store.py); `attrs["caption"]` says how many of how many.
def _quarantine_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rejected rows by (study,) source and rule."""
    study = "study_id, " if "study_id" in con.execute("select * from audit.quarantine limit 0").df().columns else ""
    return con.execute(f"select {study}source, rule, count(*) as rows from audit.quarantine "
                       f"group by all order by {study}source, rows desc, rule").df()


_LOG_READERS = {
    "quarantine": ("audit", "quarantine", _quarantine_summary),
    "deliveries": ("audit", "deliveries", lambda con: latest_deliveries(con, None, schema="audit")),  # every file
    "quarantined_rows": ("audit", "quarantine",
                         lambda con: latest_quarantined(con, LATEST_QUARANTINED, schema="audit")),
}


def _log_frame(con: duckdb.DuckDBPyConnection, read) -> pd.DataFrame:
    latest = read(con)
    if isinstance(latest, pd.DataFrame):
        return latest
    frame = latest.rows
    frame.attrs["caption"] = latest.caption  # "all 11" or "the latest 100 of 240"
    return frame


def read_tables(serving_path: Path) -> dict[str, pd.DataFrame | None]:
    """The report's tables from the serving file (None where a table is not published)."""
    with duckdb.connect(str(serving_path), read_only=True) as con:
        present = set(con.execute("select schema_name, table_name from duckdb_tables()").fetchall())
        present |= set(con.execute("select schema_name, view_name from duckdb_views() where not internal").fetchall())
        tables = {
            name: con.execute(sql).df() if (schema, table) in present else None
            for name, (schema, table, sql) in _QUERIES.items()
        }
        tables |= {
            name: _log_frame(con, read) if (schema, table) in present else None
            for name, (schema, table, read) in _LOG_READERS.items()
        }
        return tables


def read_figures(figures_dir: Path) -> list[tuple[str, bytes]]:
    if not figures_dir.is_dir():
        return []
    files = {p.stem: p for p in figures_dir.glob("*.png")}
    # the catalogued figures in report order, then any other figure by name
    ordered = [s for s in catalogue.STEMS if s in files] + sorted(s for s in files if s not in catalogue.CAPTIONS)
    return [(stem, files[stem].read_bytes()) for stem in ordered]


# ---- tables (formatting of the marts and analysis tables: formatting.py) ------------------------

# The delivery log's and the quarantine's columns in the report, by display name.
_DELIVERY_COLUMNS = {
    "study": "study",
    "file_name": "file", "source": "source", "received_at": "received (UTC)", "status": "status",
    "rows_delivered": "delivered", "rows_accepted": "accepted", "rows_quarantined": "quarantined",
    "rows_superseded": "superseded", "message": "message",
}
_COUNT_COLUMNS = ("delivered", "accepted", "quarantined", "superseded")
_QUARANTINED_COLUMNS = {"study": "study", "file_name": "file", "row_number": "row", "locator": "locator",
                        "column_name": "column", "rule": "rule", "value": "value"}


def deliveries_table(deliveries: pd.DataFrame) -> pd.DataFrame:
    """Every delivery file, one row each (latest received first), then a total row."""
    frame = deliveries[[c for c in _DELIVERY_COLUMNS if c in deliveries]].rename(columns=_DELIVERY_COLUMNS)
    if "received (UTC)" in frame:
        frame["received (UTC)"] = pd.to_datetime(frame["received (UTC)"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    counts = [c for c in _COUNT_COLUMNS if c in frame]
    total = {"file": f"total: {len(frame)} files", **frame[counts].sum().to_dict()}
    table = pd.concat([frame, pd.DataFrame([total])], ignore_index=True).astype({c: "Int64" for c in counts})
    text = [c for c in table if c not in counts]
    table[text] = table[text].astype(object).where(table[text].notna(), "")
    return table


def quarantined_rows_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows: (study,) file, row (1 = first data row; a foreign file's locator, sheet and row
    or domain and sequence, where one has it), column, rule, value as delivered (cut)."""
    shown = [c for c in _QUARANTINED_COLUMNS if c in rows and (c != "locator" or rows[c].notna().any())]
    table = rows[shown].rename(columns=_QUARANTINED_COLUMNS).astype(object)
    return table.where(table.notna(), "")


def _table_html(frame: pd.DataFrame | None, empty: str = "Not published in this run.") -> str:
    if frame is None:
        return f"<p class='muted'>{html.escape(empty)}</p>"
    if frame.empty:
        return "<p class='muted'>No rows.</p>"
    return frame.to_html(index=False, escape=True, na_rep="", border=0, classes="t",
                         float_format=lambda v: f"{v:.4g}")


def _linked_table_html(frame: pd.DataFrame, hrefs: pd.DataFrame, head_only: tuple[str, ...] = ()) -> str:
    """A table whose cells link where `hrefs` (same shape) names a page; in a `head_only` column
    only the cell's first word is the link (the median of `412 (300-500)`); every value escaped."""
    if frame.empty:
        return "<p class='muted'>No rows.</p>"
    cells = frame.astype(object).where(frame.notna(), "").copy()

    def link(column: str, value, href) -> str:
        text = str(value)
        if not (column in hrefs.columns and isinstance(href, str) and href and text != ""):
            return html.escape(text)
        head, sep, tail = text.partition(" ") if column in head_only else (text, "", "")
        return f"<a href='{html.escape(href, quote=True)}'>{html.escape(head)}</a>{html.escape(sep + tail)}"

    for column in cells.columns:
        targets = hrefs[column] if column in hrefs.columns else [None] * len(cells)
        cells[column] = [link(column, v, h) for v, h in zip(cells[column], targets)]
    cells.columns = [html.escape(str(c)) for c in cells.columns]
    return cells.to_html(index=False, escape=False, border=0, classes="t")


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as _table_html prints it (floats to 4 significant digits, missing empty), as text
    cells for _linked_table_html."""
    out = frame.astype(object).copy()
    for column in frame.columns:
        if pd.api.types.is_float_dtype(frame[column]):
            out[column] = ["" if pd.isna(v) else f"{v:.4g}" for v in frame[column]]
    return out.where(frame.notna(), "")


def _figure_html(name: str, png: bytes) -> str:
    caption = catalogue.CAPTIONS.get(name, name.replace("_", " "))
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem;line-height:1.4}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2.2rem}
h3{margin-top:1.6rem}
.muted{color:#57606a} .meta td{padding:.1rem .8rem .1rem 0}
table.t{border-collapse:collapse;font-size:.86rem;margin:.5rem 0}
table.t th,table.t td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
table.t th{background:#f6f8fa} table.t tr:nth-child(even) td{background:#fbfcfd}
figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #d0d7de}
figcaption{font-size:.85rem;color:#57606a}
code{background:#f6f8fa;padding:0 .25rem}
"""


def report_studies(tables: dict[str, pd.DataFrame | None]) -> list[tuple[str | None, str]]:
    """(study_id, title) of every study the report has a part for: marts.dim_studies, else the
    study ids of the tables; (None, "") for a serving file without study_id (one study)."""
    studies = tables.get("studies")
    if studies is not None and len(studies):
        titles = studies["title"] if "title" in studies.columns else studies["study_id"]
        return [(str(sid), "" if pd.isna(title) else str(title)) for sid, title in zip(studies["study_id"], titles)]
    found = sorted({str(v) for f in tables.values() if f is not None and "study_id" in f.columns
                    for v in f["study_id"].dropna().unique()})
    return [(sid, "") for sid in found] or [(None, "")]


def _of(frame: pd.DataFrame | None, study: str | None) -> pd.DataFrame | None:
    """The study's rows of a table, without study_id (a table without the column: all its rows)."""
    if frame is None or study is None or "study_id" not in frame.columns:
        return frame
    rows = frame[frame["study_id"].astype(str) == study].drop(columns="study_id").reset_index(drop=True)
    rows.attrs.update(frame.attrs)
    return rows


def _without_study(frame: pd.DataFrame | None, several: bool) -> pd.DataFrame | None:
    """A warehouse-wide list (deliveries, quarantine): with its study column (`study`) when the
    report has several studies, without it otherwise."""
    if frame is None or "study_id" not in frame.columns:
        return frame
    out = frame.rename(columns={"study_id": "study"}) if several else frame.drop(columns="study_id")
    out.attrs.update(frame.attrs)
    return out


Links = dict[Cell, str]


def _hrefs(frame: pd.DataFrame, study: str | None, table: str, column: str, links: Links) -> list[str]:
    """The page of `column` of each row of a study's `frame` of `table` ('' where none)."""
    return [links.get((study, table, lineage_key(table, r), column), "") for _, r in frame.iterrows()]


def _rate_table_html(rates: pd.DataFrame | None, table: str, study: str | None, links: Links, keys: list[str],
                     category: str, categories: list[str]) -> str:
    """A rates table (one column per category); each rate with an explain page links to it."""
    if rates is None:
        return _table_html(None)
    shown = rates_table(rates, keys, category, categories)
    hrefs = _hrefs(rates, study, table, "n_subjects", links) if len(rates) else []
    if not any(hrefs):
        return _table_html(shown)
    linked = rates_table(rates.assign(href=hrefs), keys, category, categories, cell=lambda r: r["href"])
    return _linked_table_html(shown, linked[[c for c in linked.columns if c in categories]])  # not the keys


def _linked(frame: pd.DataFrame | None, study: str | None, table: str, columns: dict[str, str], links: Links,
            display: pd.DataFrame, head_only: tuple[str, ...] = ()) -> tuple[str, set[str]]:
    """`display` (a table of `frame`'s rows, in order) with the cells of `columns` (frame column
    -> display column) linked to their pages; and the frame columns linked."""
    if frame is None or frame.empty:
        return _table_html(None if frame is None else display), set()
    hrefs = pd.DataFrame({shown: _hrefs(frame, study, table, column, links) for column, shown in columns.items()})
    linked = {column for column, shown in columns.items() if any(hrefs[shown])}
    if not linked:
        return _table_html(display), set()
    return _linked_table_html(display, hrefs, head_only), linked


def _study_sections(t: dict[str, pd.DataFrame | None], study: str | None, figures: list[tuple[str, bytes]],
                    section, links: Links | None = None) -> None:
    """The sections of one study's statistics and figures; a number with an explain page links
    to it, and the section's note says so."""
    links = links or {}
    consort = _of(t.get("consort"), study)
    if consort is not None:  # its lineage (counted_rows) is behind the link, not a column of the table
        consort = consort.drop(columns=["counted_rows"], errors="ignore")
    body, linked_consort = _linked(consort, study, CONSORT_TABLE, {"n_subjects": "n_subjects"}, links,
                                   None if consort is None else _display(consort))
    section("CONSORT", body, "Enrolled, infused and evaluable subjects (marts.agg_consort)."
            + (" Each count links to the delivered rows of the subjects it counts." if linked_consort else ""))
    tox = _of(t.get("toxicity_rates"), study)
    tox_keys = ["toxicity", "criteria"] if tox is not None and "criteria" in tox.columns else ["toxicity"]
    body = _rate_table_html(tox, RATES_TABLE, study, links, tox_keys, "grade_category", list(GRADE_CATEGORIES))
    section("CRS, ICANS and IEC-HS rates", body,
        "n/N infused subjects, % (exact 95% Clopper-Pearson CI); any = max grade >= 1 (IEC-HS: present), "
        "severe = >= 3; adjudicated grades by the criteria named (marts.agg_toxicity_rates)."
        + (" Each rate links to its counted subjects and the delivered rows that decided their grades."
           if "<a href=" in body else ""))
    resp = _of(t.get("response_rates"), study)
    body = _rate_table_html(resp, RESPONSE_TABLE, study, links, [], "measure", [*MEASURES, *MRD_MEASURES])
    section("Response by day 100", body,
        "Best response on days 1..100, n/N infused subjects, % (exact 95% CI); CR_MRD_NEG / CR_MRD_POS: CR by "
        "marrow MRD, for a study reporting ALL-MRD (marts.agg_response_rates)."
        + (" Each rate links to its counted subjects and the delivered assessment that decided their best response."
           if "<a href=" in body else ""))
    km = _of(t.get("km_summary"), study)
    logrank = _of(t.get("km_logrank"), study)
    linked_km: set[str] = set()
    linked_logrank: set[str] = set()
    if km is not None and len(km) and not (km["n_subjects"] > 0).any():
        body = "<p class='muted'>No subject with a survival time in this study (no outcomes delivered).</p>"
    else:
        median = "median, days (95% CI)"
        body, linked_km = _linked(km, study, KM_TABLE, {"median_days": median}, links,
                                  None if km is None else km_table(km), head_only=(median,))
        if logrank is not None:
            shown, linked_logrank = _linked(logrank, study, LOGRANK_TABLE, {"p_value": "p_value"}, links,
                                            _display(logrank))
            body += shown
    section("Survival (Kaplan-Meier)", body, "From infusion; NR = not reached (analysis.km_summary, km_logrank)."
            + (" Each median links to the subjects it rests on (every subject used when not reached) and their "
               "delivered outcome rows." if linked_km else "")
            + (" Each log-rank p links to the compared subjects and their delivered outcome rows."
               if linked_logrank else ""))
    csf = _of(t.get("csf_pre_post"), study)
    pre, post = "pre, median [IQR]", "post, median [IQR]"
    body, linked_csf = _linked(csf, study, CSF_TABLE, {"median_pre": pre, "median_post": post, "p_value": "p"},
                               links, None if csf is None else csf_table(csf), head_only=(pre, post))
    section("CSF before and after infusion", body,
            "Partially matched Wilcoxon test, two-sided (analysis.csf_pre_post)."
            + (f" {_and([w for c, w in _CSF_LINKED if c in linked_csf])} link to the delivered rows of the "
               "samples they were computed from." if linked_csf else ""))
    tests = _of(t.get("intervention_tests"), study)
    if tests is not None and (len(tests) or study is None):
        body, linked_tests = _linked(tests, study, INTERVENTION_TABLE, {"p_value": "p_value"}, links, _display(tests))
        section("Intervention tests", body, "analysis.intervention_tests."
                + (" Each p links to the pairs it tested and the delivered readings or results of each."
                   if linked_tests else ""))
    section("Figures", "".join(_figure_html(n, b) for n, b in figures) or "<p class='muted'>No figures.</p>")


_CSF_LINKED = (("median_pre", "the medians before infusion"), ("median_post", "the medians after infusion"),
               ("p_value", "the p-values"))


def _and(words: list[str]) -> str:
    """`The a, the b and the c` (capitalized: it starts a sentence)."""
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return text[:1].upper() + text[1:]


def _studies_table(studies: pd.DataFrame) -> pd.DataFrame:
    names = {"study_id": "study", "title": "title", "time_mode": "time", "n_subjects": "subjects",
             "n_deliveries": "deliveries", "primary_toxicity_criteria": "toxicity criteria",
             "kinetics_group_by": "kinetics by"}
    return studies[[c for c in names if c in studies.columns]].rename(columns=names)


def render_html(tables: dict[str, pd.DataFrame | None],
                figures: dict[str | None, list[tuple[str, bytes]]] | list[tuple[str, bytes]], *, run_id: str,
                data_version: str, links: dict[Cell, str] | None = None) -> str:
    """The whole report as one HTML string (no external resources). ``figures``: each study's
    figures (study id -> (stem, png) in report order; a list: the one study's)."""
    t = tables
    studies = report_studies(t)
    if not isinstance(figures, dict):
        figures = {studies[0][0]: list(figures)} if len(studies) == 1 else {}
    several = len(studies) > 1
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    publication = t.get("publication")
    published = ""
    if publication is not None and len(publication):
        p = publication.iloc[0]
        published = f"{p['published_at']} (run {p['run_id']})"
    n_deliveries = 0 if t.get("deliveries") is None else t["deliveries"]["delivery_sha256"].nunique()

    sections: list[str] = []

    def section_at(level: int):
        def section(title: str, body: str, note: str = "", anchor: str | None = None) -> None:
            note_html = f"<p class='muted'>{html.escape(note)}</p>" if note else ""
            ident = f" id='{html.escape(anchor)}'" if anchor else ""
            sections.append(f"<h{level}{ident}>{html.escape(title)}</h{level}>{note_html}{body}")
        return section

    section = section_at(2)
    if several:
        overview = t.get("studies")
        study_links = "".join(f"<li><a href='#study-{html.escape(sid)}'>{html.escape(sid)}</a>"
                        f"{html.escape(f': {title}' if title and title != sid else '')}</li>" for sid, title in studies)
        section("Studies", (_table_html(_studies_table(overview)) if overview is not None else "") + f"<ul>{study_links}</ul>",
                "Each study's statistics are computed on its own subjects (marts.dim_studies).")
        for sid, title in studies:
            section(f"Study {sid}" + (f": {title}" if title and title != sid else ""), "", anchor=f"study-{sid}")
            _study_sections(t, sid, figures.get(sid, []), section_at(3), links)
    else:
        _study_sections(t, studies[0][0], figures.get(studies[0][0], []), section, links)

    deliveries = _without_study(t.get("deliveries"), several)
    section("Deliveries", _table_html(None if deliveries is None else deliveries_table(deliveries)),
            "Every delivery file, latest received first, with its status and rows (audit.deliveries).")
    quarantined = _without_study(t.get("quarantined_rows"), several)
    body = _table_html(_without_study(t.get("quarantine"), several))
    if quarantined is not None:
        shown = quarantined.attrs.get("caption", f"{len(quarantined)}")
        body += (f"<p class='muted'>Quarantined rows, {html.escape(shown)}, latest first: row 1 is the file's "
                 f"first data row; the value as delivered, cut to {VALUE_CHARS} characters.</p>"
                 + _table_html(quarantined_rows_table(quarantined)))
    section("Quarantine", body,
            "Rejected rows by source and broken rule, then row by row (audit.quarantine).")
    section("More", "<ul><li>Data quality (Great Expectations Data Docs): <a href='../docs/index.html'>"
            "../docs/index.html</a></li><li>dbt model documentation: <a href='../dbt_docs/static_index.html'>"
            "../dbt_docs/static_index.html</a></li></ul>")

    study_meta = []
    if not several and studies[0][0] is not None:
        sid, title = studies[0]
        study_meta = [("study", sid + (f" ({title})" if title and title != sid else ""))]
    elif several:
        study_meta = [("studies", ", ".join(sid for sid, _ in studies))]
    meta = "".join(
        f"<tr><td class='muted'>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in (*study_meta, ("data version", data_version), ("deliveries (distinct sha256)", n_deliveries),
                     ("Dagster run", run_id), ("serving copy published", published or "unknown"),
                     ("generated", generated))
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>CAR T warehouse report {html.escape(data_version)}</title><style>{_CSS}</style></head><body>"
        "<h1>CAR T-cell therapy biomarker warehouse</h1>"
        "<p class='muted'>Static report from the published serving copy. Aggregates and the audit trail; no identifying data.</p>"
        f"<table class='meta'>{meta}</table>{''.join(sections)}</body></html>\n"
    )
