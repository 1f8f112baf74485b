"""The text of `warehouse explain` (without --json): for each target row its key, each value
explained and, indented under it, what decided it down to the delivered rows, each as
`file row N (day D): column=value ...` with the rows it corrected under it."""

from __future__ import annotations

from typing import Any

INDENT = "  "


def render_text(document: dict[str, Any]) -> str:
    lines: list[str] = []
    where = " ".join(f"{c}={v}" for c, v in document["where"].items())
    n = document["n_rows"]
    lines.append(f"{document['table']} where {where}: {n} row{'s' if n != 1 else ''}")
    for row in document["rows"]:
        lines.append("")
        lines.append(f"{row['key'] or _row_label(row['values'])}  (study {row['study_id']})")
        for node in row["explained"]:
            if node["column"] is None:  # a row-grain mart: the row itself
                for child in node["upstream"]:
                    _node(child, 1, lines)
                continue
            lines.append(f"{INDENT}{node['column']} = {_text(node['value'])}")
            _children(node, 2, lines)
    return "\n".join(lines)


def _row_label(values: dict[str, Any]) -> str:
    shown = [f"{c}={_text(values[c])}" for c in ("measurement_id", "subject_id", "analyte") if values.get(c) is not None]
    return " ".join(shown) or "row"


def _children(node: dict[str, Any], depth: int, lines: list[str]) -> None:
    if node.get("note"):
        lines.append(f"{INDENT * depth}{node['note']}")
    for child in node.get("upstream") or []:
        _node(child, depth, lines)


def _node(node: dict[str, Any], depth: int, lines: list[str]) -> None:
    pad = INDENT * depth
    if node["kind"] == "target":
        lines.append(f"{pad}<- {node['table']} {node['key']}: {node['column']} = {_text(node['value'])}")
        _children(node, depth + 1, lines)
        return
    day = f", day {_text(node['study_day'])}" if node.get("study_day") is not None else ""
    seq = f", seq {node['record_seq']}" if node.get("record_seq") is not None else ""
    state = "" if node.get("in_force", True) else "  [superseded by a later delivery]"
    lines.append(f"{pad}<- {node['source']}: {node['file_name']} row {node['row_number']}{seq}{day}"
                 f" (sha256 {str(node['delivery_sha256'])[:12]}){state}")
    if node.get("values") is not None:
        lines.append(f"{pad}   {_values(node['values'])}")
    for other in node.get("other_records") or []:
        lines.append(f"{pad}   {_values(other)}")
    if node.get("note"):
        lines.append(f"{pad}   {node['note']}")
    for old in node.get("superseded_by_this") or []:
        lines.append(f"{pad}   supersedes {old['file_name']} row {old['row_number']} (sha256 {str(old['delivery_sha256'])[:12]},"
                     f" version_rank {old['version_rank']}): {_values(old['values'])}")


def _values(values: dict[str, Any]) -> str:
    return " ".join(f"{c}={_text(v)}" for c, v in values.items() if v is not None)


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return format(value, ".15g")
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)
