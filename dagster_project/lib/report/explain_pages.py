"""The report's explain pages: for every toxicity rate the HTML report shows (a cell of
marts.agg_toxicity_rates), one static page listing what `warehouse explain` shows for it (README,
"Explain a number"): the counted subjects and, for each, the delivered rows that decided its
max grade (file, row number, study day, the values as loaded) with the rows they corrected.

Pure (no Dagster). The pages are rendered from the explain document (lib/lineage/explain.py),
never from anything else: it carries no identifying column (dropped at ingest), so neither do
the pages. Every value is escaped. One `explain` per study over the rate table (a document row
per cell, the same rows `explain --where` gives cell by cell), reading the serving and warehouse
files read-only; a page's name is a hash of study, table and key, so the same cell keeps its
page from run to run. Pages of cells no longer shown are removed.

The other published numbers (response rates, Kaplan-Meier medians, log-rank and Wilcoxon
p-values) have no row-level lineage yet and are not linked (README, "Explain a number").
"""

from __future__ import annotations

import hashlib
import html
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from dagster_project.lib.lineage.explain import ExplainError, explain
from dagster_project.lib.report.formatting import rate_text
from schemas.lineage import LINEAGE_KEYS, SEPARATOR

RATES_TABLE = "marts.agg_toxicity_rates"
RATE_COLUMN = "n_subjects"
PAGES_DIR = "explain"  # beside the report: <reports>/explain/<name>.html


def lineage_key(table: str, values: dict[str, Any]) -> str:
    """A row's lineage key as `schemas.lineage.key_sql` builds it in SQL (text values)."""
    return SEPARATOR.join(f"{c}={'' if _missing(values.get(c)) else values.get(c)}" for c in LINEAGE_KEYS[table])


def page_name(study_id: str | None, table: str, key: str) -> str:
    """Short, deterministic file name of a cell's page."""
    return hashlib.sha256(f"{study_id}\n{table}\n{key}".encode()).hexdigest()[:16] + ".html"


def write_rate_pages(serving_path: Path, warehouse_path: Path, reports_dir: Path,
                     shown: Iterable[tuple[str | None, str]]) -> dict[tuple[str | None, str], str]:
    """A page per shown rate cell ((study_id, lineage key) of marts.agg_toxicity_rates), under
    `reports_dir`/explain/; returns (study_id, key) -> the link relative to the report. Raises
    ExplainError when the cells cannot be explained (no lineage published, a locked file)."""
    wanted = set(shown)
    out_dir = Path(reports_dir) / PAGES_DIR
    links: dict[tuple[str | None, str], str] = {}
    written: set[str] = set()
    for study in sorted({s for s, _ in wanted}, key=str):
        document = explain(Path(serving_path), Path(warehouse_path), RATES_TABLE,
                           [("study_id", study)] if study is not None else [], RATE_COLUMN)
        for row in document["rows"]:
            ident = (row["study_id"], row["key"])
            if ident not in wanted:
                continue
            name = page_name(row["study_id"], RATES_TABLE, row["key"])
            cell = {**document, "where": {"study_id": row["study_id"], **_key_values(row["values"])},
                    "n_rows": 1, "rows": [row]}
            out_dir.mkdir(parents=True, exist_ok=True)
            _write(out_dir / name, render_page(cell))
            written.add(name)
            links[ident] = f"{PAGES_DIR}/{name}"
    if out_dir.is_dir():
        for old in out_dir.glob("*.html"):
            if old.name not in written:
                old.unlink()
    return links


def _key_values(values: dict[str, Any]) -> dict[str, Any]:
    return {c: values.get(c) for c in LINEAGE_KEYS[RATES_TABLE]}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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
    return value is None or (isinstance(value, float) and pd.isna(value))


def _values(values: dict[str, Any] | None) -> str:
    if not values:
        return ""
    return " ".join(f"{c}={v}" for c, v in ((c, _text(v)) for c, v in values.items() if v is not None))


def command(document: dict[str, Any]) -> str:
    """The `warehouse explain` command that prints the same document."""
    wheres = " ".join(f"--where {c}={_text(v)}" for c, v in document["where"].items())
    column = f" --column {document['column']}" if document.get("column") else ""
    return f"uv run warehouse explain {document['table']} {wheres}{column}"


def render_page(document: dict[str, Any]) -> str:
    """One rate cell's page (a document of one row of marts.agg_toxicity_rates) as HTML."""
    row = document["rows"][0]
    v = row["values"]
    number = rate_text(v["n_subjects"], v["n_total"], v["pct"], v["ci_low_pct"], v["ci_high_pct"]) \
        if all(not _missing(v.get(c)) for c in ("n_subjects", "n_total")) else _text(v.get("n_subjects"))
    label = ", ".join(f"{c} {_text(v.get(c))}" for c in LINEAGE_KEYS[RATES_TABLE])
    body: list[str] = [
        f"<h1>{_e(v.get('toxicity'))} {_e(v.get('grade_category'))}: {_e(number)}</h1>",
        f"<p class='muted'>{_e(document['table'])}, study {_e(row['study_id'])}: {_e(label)}. "
        "The subjects counted in n, and for each the delivered rows that decided the value "
        "(row 1 = the file's first data row after the header; values as loaded, no identifying column).</p>",
        f"<p>The same in a terminal: <code>{_e(command(document))}</code></p>",
        "<p><a href='../warehouse_report.html'>Back to the report</a></p>",
    ]
    for node in row["explained"]:
        body.append(_explained(node))
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(v.get('toxicity'))} {_e(v.get('grade_category'))} {_e(v.get('group_by'))}="
        f"{_e(v.get('group_value'))}: explain</title><style>{_CSS}</style></head><body>"
        + "".join(body) + "</body></html>\n"
    )


def _explained(node: dict[str, Any]) -> str:
    """A value explained: the targets that decided it (the counted subjects), then each target's
    delivered rows."""
    targets = [n for n in node.get("upstream") or [] if n["kind"] == "target"]
    delivered = [n for n in node.get("upstream") or [] if n["kind"] == "delivered_row"]
    out = [f"<h2>{_e(node['column'])} = {_e(node['value'])}</h2>"]
    if node.get("note"):
        out.append(f"<p class='muted'>{_e(node['note'])}</p>")
    if targets:
        subjects = [_subject(t) for t in targets]
        out.append(f"<p>{len(targets)} counted subject{'s' if len(targets) != 1 else ''}"
                   f"{' (' + _e(targets[0]['table']) + ')' if targets else ''}:</p>")
        head = "<tr><th>subject</th><th>value</th><th>deciding rows</th></tr>"
        lines = "".join(
            f"<tr class='subject' data-subject='{_e(s)}'><td><a href='#{_anchor(t)}'>{_e(s)}</a></td>"
            f"<td>{_e(t['column'])} = {_e(t['value'])}</td><td>{len(_delivered_under(t))}</td></tr>"
            for s, t in zip(subjects, targets))
        out.append(f"<table class='t subjects'>{head}{lines}</table>")
    if delivered:
        out.append(_rows_table(delivered))
    for target in targets:
        out.append(_target(target, 3))
    return "".join(out)


def _subject(node: dict[str, Any]) -> str:
    row = node.get("row") or {}
    return _text(row.get("subject_id")) if row.get("subject_id") is not None else _text(node["key"])


def _anchor(node: dict[str, Any]) -> str:
    return "t-" + hashlib.sha256(f"{node['table']}\n{node['key']}\n{node['column']}".encode()).hexdigest()[:12]


def _delivered_under(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for child in node.get("upstream") or []:
        found.extend([child] if child["kind"] == "delivered_row" else _delivered_under(child))
    return found


def _target(node: dict[str, Any], level: int) -> str:
    h = min(level, 6)
    out = [f"<h{h} id='{_anchor(node)}'>{_e(node['table'])} {_e(node['key'])}: "
           f"{_e(node['column'])} = {_e(node['value'])}</h{h}>"]
    if node.get("note"):
        out.append(f"<p class='muted'>{_e(node['note'])}</p>")
    delivered = [n for n in node.get("upstream") or [] if n["kind"] == "delivered_row"]
    if delivered:
        out.append(_rows_table(delivered, subject=_subject(node)))
    for child in node.get("upstream") or []:
        if child["kind"] == "target":
            out.append(_target(child, level + 1))
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
        lines.append(
            f"<tr class='delivered'{subject_attr} data-file='{_e(n['file_name'])}' data-row='{_e(n['row_number'])}'>"
            f"<td>{_e(n['source'])}</td><td>{_e(n['file_name'])}</td><td>{_e(row)}</td>"
            f"<td>{'' if n.get('study_day') is None else _e(n['study_day'])}</td>"
            f"<td><code>{_e(str(n['delivery_sha256'])[:12])}</code></td><td>{'yes' if n.get('in_force', True) else 'no'}</td>"
            f"<td>{'<br>'.join(_e(x) for x in values if x)}</td><td>{'<br>'.join(_e(c) for c in corrections)}</td></tr>")
    return f"<table class='t rows'>{head}{''.join(lines)}</table>"


__all__ = ["ExplainError", "lineage_key", "page_name", "render_page", "write_rate_pages", "command"]
