"""The report's explain pages: for every published number the HTML report shows that has
row-level lineage, one static page listing what `warehouse explain` shows for it (README,
"Explain a number"). The numbers linked (LINKED, table -> its linked columns):

- marts.agg_consort n_subjects: a CONSORT step -> the delivered row of each subject counted (its
  subjects row; for evaluable_response its first response assessment of days 1..100);
- marts.agg_toxicity_rates n_subjects: a toxicity rate -> the counted subjects' max grades -> the
  assessments that decided them;
- marts.agg_response_rates n_subjects: a response rate -> the counted subjects' best response by
  day 100 -> the assessment holding it;
- analysis.km_summary median_days: a Kaplan-Meier median -> the subjects whose event time is the
  median (every subject used when it is not reached) -> their time and event -> the outcome rows;
- analysis.km_logrank p_value: a log-rank p -> the compared subjects' times and events;
- analysis.csf_pre_post median_pre, median_post, p_value: a CSF median or p -> the delivered rows
  of the samples chosen, directly (no subject level);
- analysis.intervention_tests p_value: a test around an anakinra course -> its pairs (each
  subject's window row) -> the two readings or results of each pair.

A page names the number and its row (`OS median, overall: NR`), gives the `warehouse explain`
command that prints the same, then the upstream targets (the subjects), each with its values and
the delivered rows that decided them, or the delivered rows directly under the value: file, row
number, study day, the values as loaded, the rows they corrected.

Pure (no Dagster). The pages are rendered from the explain document (lib/lineage/explain.py),
never from anything else: it carries no identifying column (dropped at ingest), so neither do
the pages. Every value is escaped. One `explain` per study and table (a document row per row of
the table, the same rows `explain --where` gives row by row; --column when the table has one
linked column, else every explained column and the linked ones picked from the document),
reading the serving and warehouse files read-only. A table `explain` cannot answer (no lineage
published for it yet, a locked file) is left unlinked and its reason kept; the others are linked.
A page's name is a hash of study, table and key (and column, for a table with several linked
columns), so the same number keeps its page from run to run. Pages of numbers no longer linked
are removed.
"""

from __future__ import annotations

import hashlib
import html
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dagster_project.lib.lineage.explain import ExplainError, explain
from dagster_project.lib.report.formatting import NOT_AVAILABLE, NOT_REACHED, num, p_text, rate_text
from schemas.lineage import LINEAGE_KEYS, key_text
from schemas.vocabulary import OVERALL

CONSORT_TABLE = "marts.agg_consort"
RATES_TABLE = "marts.agg_toxicity_rates"
RESPONSE_TABLE = "marts.agg_response_rates"
KM_TABLE = "analysis.km_summary"
LOGRANK_TABLE = "analysis.km_logrank"
CSF_TABLE = "analysis.csf_pre_post"
INTERVENTION_TABLE = "analysis.intervention_tests"
RATE_COLUMN = "n_subjects"
# The published numbers the report links to their page: table -> the columns linked, in the
# report's order. Each table is explained once per study.
LINKED: dict[str, tuple[str, ...]] = {
    CONSORT_TABLE: (RATE_COLUMN,),
    RATES_TABLE: (RATE_COLUMN,),
    RESPONSE_TABLE: (RATE_COLUMN,),
    KM_TABLE: ("median_days",),
    LOGRANK_TABLE: ("p_value",),
    CSF_TABLE: ("median_pre", "median_post", "p_value"),
    INTERVENTION_TABLE: ("p_value",),
}
PAGES_DIR = "explain"  # beside the report: <reports>/explain/<name>.html

Row = tuple[str | None, str, str]  # (study_id, table, lineage key) of a shown row
Cell = tuple[str | None, str, str, str]  # (study_id, table, lineage key, column) of a linked number


@dataclass
class Pages:
    """What write_pages wrote: the link of each number (relative to the report), and why a
    table's numbers are not linked (table -> the explain message)."""

    links: dict[Cell, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def lineage_key(table: str, values: dict[str, Any]) -> str:
    """A row's lineage key as `schemas.lineage.key_sql` builds it in SQL (schemas.lineage.key_text)."""
    return key_text(table, values)


def page_name(study_id: str | None, table: str, key: str, column: str | None = None) -> str:
    """Short, deterministic file name of a number's page (`column` only for a table with several
    linked columns)."""
    text = f"{study_id}\n{table}\n{key}" + (f"\n{column}" if column is not None else "")
    return hashlib.sha256(text.encode()).hexdigest()[:16] + ".html"


def cell_page(study_id: str | None, table: str, key: str, column: str) -> str:
    """The page name of a linked number of `table`."""
    return page_name(study_id, table, key, column if len(LINKED[table]) > 1 else None)


def write_pages(serving_path: Path, warehouse_path: Path, reports_dir: Path, shown: Iterable[Row]) -> Pages:
    """A page per linked column of each shown row ((study_id, table, lineage key), table of
    LINKED), under `reports_dir`/explain/. A table that cannot be explained is left out (its
    reason in `errors`); every page not written now is removed."""
    wanted = {r for r in shown if r[1] in LINKED}
    out_dir = Path(reports_dir) / PAGES_DIR
    pages = Pages()
    written: set[str] = set()
    for table, columns in LINKED.items():
        studies = sorted({s for s, t, _ in wanted if t == table}, key=str)
        for study in studies:
            try:
                document = explain(Path(serving_path), Path(warehouse_path), table,
                                   [("study_id", study)] if study is not None else [],
                                   columns[0] if len(columns) == 1 else None)
            except ExplainError as exc:
                pages.errors.setdefault(table, str(exc))
                continue
            for row in document["rows"]:
                if (row["study_id"], table, row["key"]) not in wanted:
                    continue
                for node in row["explained"]:
                    if node["column"] not in columns:
                        continue
                    name = cell_page(row["study_id"], table, row["key"], node["column"])
                    cell = {**document, "where": {"study_id": row["study_id"], **_key_values(table, row["values"])},
                            "column": node["column"], "n_rows": 1, "rows": [{**row, "explained": [node]}]}
                    out_dir.mkdir(parents=True, exist_ok=True)
                    _write(out_dir / name, render_page(cell))
                    written.add(name)
                    pages.links[(row["study_id"], table, row["key"], node["column"])] = f"{PAGES_DIR}/{name}"
    if out_dir.is_dir():
        for old in out_dir.glob("*.html"):
            if old.name not in written:
                old.unlink()
    return pages


def _key_values(table: str, values: dict[str, Any]) -> dict[str, Any]:
    return {c: values.get(c) for c in LINEAGE_KEYS[table]}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---- what a number is ---------------------------------------------------------------------------

def _group(v: dict[str, Any]) -> str:
    """`overall`, or `disease LBCL` (a missing value is its own group)."""
    if v.get("group_by") == OVERALL:
        return OVERALL
    return f"{_text(v.get('group_by'))} {'(missing)' if _missing(v.get('group_value')) else _text(v.get('group_value'))}"


def _rate(v: dict[str, Any]) -> str:
    if all(not _missing(v.get(c)) for c in ("n_subjects", "n_total")):
        return rate_text(v["n_subjects"], v["n_total"], v.get("pct"), v.get("ci_low_pct"), v.get("ci_high_pct"))
    return _text(v.get("n_subjects"))


def _unit(v: dict[str, Any]) -> str:
    return "" if _missing(v.get("unit")) else f" {v['unit']}"


def number_label(table: str, column: str, v: dict[str, Any]) -> tuple[str, str]:
    """(what the number is, the number as the report prints it) of `column` of a row of `table`
    (its values `v`): ("OS median, overall", "412 days")."""
    if table == RATES_TABLE and column == RATE_COLUMN:
        criteria = "" if _missing(v.get("criteria")) else f" ({v['criteria']})"
        return f"{_text(v.get('toxicity'))} {_text(v.get('grade_category'))}{criteria}, {_group(v)}", _rate(v)
    if table == CONSORT_TABLE and column == RATE_COLUMN:
        return f"CONSORT: {_text(v.get('step'))}", f"{_text(v.get(column))} subjects"
    if table == RESPONSE_TABLE and column == RATE_COLUMN:
        return f"{_text(v.get('measure'))} by day 100, {_group(v)}", _rate(v)
    if table == KM_TABLE and column == "median_days":
        median = v.get("median_days")
        return (f"{_text(v.get('endpoint'))} median, {_group(v)}",
                f"{NOT_REACHED} (not reached)" if _missing(median) else f"{num(median, 0)} days")
    if table == LOGRANK_TABLE and column == "p_value":
        return (f"{_text(v.get('endpoint'))} log-rank p, {_text(v.get('group_by'))} {_text(v.get('comparison'))}",
                p_text(v.get("p_value")))
    if table == CSF_TABLE and column in ("median_pre", "median_post"):
        when = "before" if column == "median_pre" else "after"
        value = v.get(column)
        return (f"CSF {_text(v.get('analyte'))} median {when} infusion",
                NOT_AVAILABLE if _missing(value) else f"{num(value, 2)}{_unit(v)}")
    if table == CSF_TABLE and column == "p_value":
        return f"CSF {_text(v.get('analyte'))} before vs after infusion, p", p_text(v.get("p_value"))
    if table == INTERVENTION_TABLE and column == "p_value":
        return (f"{_text(v.get('measure'))} before the first vs after the last anakinra dose, {_text(v.get('test'))} p",
                p_text(v.get("p_value")))
    key = ", ".join(f"{c} {_text(v.get(c))}" for c in LINEAGE_KEYS.get(table, ()))
    return f"{column}, {key}" if key else column, _text(v.get(column))


# ---- rendering ---------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#1b1f24;padding:0 1rem;line-height:1.4}
h2{border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem} h3{margin-top:1.4rem}
.muted{color:#57606a}
table.t{border-collapse:collapse;font-size:.86rem;margin:.5rem 0}
table.t th,table.t td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
table.t th{background:#f6f8fa}
code{background:#f6f8fa;padding:0 .25rem}
"""


def _e(value: Any) -> str:
    return html.escape(_text(value), quote=True)


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return format(value, ".15g")
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def _values(values: dict[str, Any] | None) -> str:
    if not values:
        return ""
    return " ".join(f"{c}={v}" for c, v in ((c, _text(v)) for c, v in values.items() if v is not None))


def command(document: dict[str, Any]) -> str:
    """The `warehouse explain` command that prints the same document (a null key value cannot be
    matched by --where: it is left out, and the command may print the row's neighbours too)."""
    wheres = " ".join(f"--where {shlex.quote(f'{c}={_text(v)}')}" for c, v in document["where"].items()
                      if not _missing(v))
    column = f" --column {document['column']}" if document.get("column") else ""
    return f"uv run warehouse explain {document['table']} {wheres}{column}"


def render_page(document: dict[str, Any]) -> str:
    """One number's page as HTML: a document of one row whose `explained` holds the one value
    (node) the page is about."""
    row = document["rows"][0]
    node = row["explained"][0]
    v = row["values"]
    what, number = number_label(document["table"], node["column"], v)
    key = ", ".join(f"{c} {_text(v.get(c))}" for c in LINEAGE_KEYS.get(document["table"], ()))
    body: list[str] = [
        f"<h1>{_e(what)}: {_e(number)}</h1>",
        f"<p class='muted'>{_e(document['table'])}.{_e(node['column'])}, study {_e(row['study_id'])}"
        f"{': ' + _e(key) if key else ''}. What decided it and, down to them, the delivered rows "
        "(row 1 = the file's first data row after the header; values as loaded, no identifying column).</p>",
        f"<p>The same in a terminal: <code>{_e(command(document))}</code></p>",
        "<p><a href='../warehouse_report.html'>Back to the report</a></p>",
    ]
    for explained in row["explained"]:
        body.append(_explained(explained))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(what)}: explain</title><style>{_CSS}</style></head><body>"
        + "".join(body) + "</body></html>\n"
    )


def _explained(node: dict[str, Any]) -> str:
    """A value explained: the targets that decided it (the subjects: one line each, with their
    values), the delivered rows directly under it, then each target's delivered rows."""
    upstream = node.get("upstream") or []
    groups = _groups([n for n in upstream if n["kind"] == "target"])
    delivered = _distinct([n for n in upstream if n["kind"] == "delivered_row"])
    out = [f"<h2>{_e(node['column'])} = {_e(node['value'])}</h2>"]
    if node.get("note"):
        out.append(f"<p class='muted'>{_e(node['note'])}</p>")
    if groups:
        n = len(groups)
        subjects = all(_row_of(g).get("subject_id") is not None for g in groups)
        noun = ("subject" if subjects else "row") + ("s" if n != 1 else "")
        counted = "counted " if node["column"] == RATE_COLUMN else ""
        tables = ", ".join(dict.fromkeys(g[0]["table"] for g in groups))
        out.append(f"<p>{n} {counted}{noun} ({_e(tables)}):</p>")
        head = f"<tr><th>{'subject' if subjects else 'row'}</th><th>values</th><th>deciding rows</th></tr>"
        lines = "".join(
            f"<tr class='subject' data-subject='{_e(_label(g))}'><td><a href='#{_anchor(g[0])}'>{_e(_label(g))}</a></td>"
            f"<td>{_e(_target_values(g))}</td><td>{len(_distinct([d for t in g for d in _delivered_under(t)]))}</td></tr>"
            for g in groups)
        out.append(f"<table class='t subjects'>{head}{lines}</table>")
    if delivered:
        out.append(f"<p>{len(delivered)} delivered row{'s' if len(delivered) != 1 else ''}:</p>")
        out.append(_rows_table(delivered))
    for group in groups:
        out.append(_group_html(group, 3))
    return "".join(out)


def _groups(targets: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Targets by row (table, key), in order: a subject's time and event are one subject."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for t in targets:
        found.setdefault((t["table"], t["key"]), []).append(t)
    return [sorted(group, key=lambda t: str(t["column"])) for group in found.values()]


def _row_of(group: list[dict[str, Any]]) -> dict[str, Any]:
    return next((t["row"] for t in group if t.get("row")), {})


def _label(group: list[dict[str, Any]]) -> str:
    row = _row_of(group)
    return _text(row["subject_id"]) if row.get("subject_id") is not None else _text(group[0]["key"])


def _target_values(group: list[dict[str, Any]]) -> str:
    return "; ".join(f"{t['column']} = {_text(t['value'])}" for t in group)


def _anchor(node: dict[str, Any]) -> str:
    return "t-" + hashlib.sha256(f"{node['table']}\n{node['key']}".encode()).hexdigest()[:12]


def _delivered_under(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for child in node.get("upstream") or []:
        found.extend([child] if child["kind"] == "delivered_row" else _delivered_under(child))
    return found


def _distinct(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delivered rows once each (a subject's time and event may rest on the same row)."""
    seen: dict[tuple, dict[str, Any]] = {}
    for n in nodes:
        seen.setdefault((n["source"], n["delivery_sha256"], n["file_name"], n["row_number"], n.get("record_seq")), n)
    return list(seen.values())


def _group_html(group: list[dict[str, Any]], level: int) -> str:
    """A target row (a subject): its values, the delivered rows under them, then its own targets."""
    h = min(level, 6)
    first = group[0]
    out = [f"<h{h} id='{_anchor(first)}'>{_e(_label(group))}: {_e(first['table'])} {_e(first['key'])}</h{h}>"]
    for target in group:
        note = f" <span class='muted'>({_e(target['note'])})</span>" if target.get("note") else ""
        out.append(f"<p>{_e(target['column'])} = {_e(target['value'])}{note}</p>")
    delivered = _distinct([n for t in group for n in t.get("upstream") or [] if n["kind"] == "delivered_row"])
    if delivered:
        subject = _row_of(group).get("subject_id")
        out.append(_rows_table(delivered, subject=None if subject is None else _text(subject)))
    for child in _groups([n for t in group for n in t.get("upstream") or [] if n["kind"] == "target"]):
        out.append(_group_html(child, level + 1))
    return "".join(out)


def _rows_table(nodes: list[dict[str, Any]], subject: str | None = None) -> str:
    head = ("<tr><th>source</th><th>file</th><th>row</th><th>study day</th><th>delivery sha256</th>"
            "<th>in force</th><th>values as loaded</th><th>corrections</th></tr>")
    lines = []
    for n in nodes:
        row = _text(n["row_number"]) + (f", seq {_text(n['record_seq'])}" if n.get("record_seq") is not None else "")
        values = [_values(n.get("values"))] + [_values(o) for o in n.get("other_records") or []]
        if n.get("note"):
            values.append(_text(n["note"]))
        corrections = [f"supersedes {o['file_name']} row {_text(o['row_number'])} (sha256 "
                       f"{str(o['delivery_sha256'])[:12]}, version_rank {_text(o['version_rank'])}): {_values(o['values'])}"
                       for o in n.get("superseded_by_this") or []]
        if not n.get("in_force", True):
            corrections.insert(0, "superseded by a later delivery")
        subject_attr = f" data-subject='{_e(subject)}'" if subject is not None else ""
        day = "" if n.get("study_day") is None else _e(n["study_day"])
        lines.append(
            f"<tr class='delivered'{subject_attr} data-source='{_e(n['source'])}' data-file='{_e(n['file_name'])}' "
            f"data-row='{_e(n['row_number'])}' data-day='{day}'>"
            f"<td>{_e(n['source'])}</td><td>{_e(n['file_name'])}</td><td>{_e(row)}</td><td>{day}</td>"
            f"<td><code>{_e(str(n['delivery_sha256'])[:12])}</code></td><td>{'yes' if n.get('in_force', True) else 'no'}</td>"
            f"<td>{'<br>'.join(_e(x) for x in values if x)}</td><td>{'<br>'.join(_e(c) for c in corrections)}</td></tr>")
    return f"<table class='t rows'>{head}{''.join(lines)}</table>"


__all__ = ["LINKED", "ExplainError", "Pages", "cell_page", "command", "lineage_key", "number_label", "page_name",
           "render_page", "write_pages"]
