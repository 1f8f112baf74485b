"""The `mapped` adapter: a trial team's own CSV or Excel export -> contract rows, by a YAML mapping.

A study describes each of its exports once, declaratively, in a mapping file (no Python per site).
`load_mapping` validates it; `read_mapped` turns one export file into text rows per contract source
and accounts for every record: mapped, out of scope (with a reason) or quarantined (with a rule).
The rows then go through the same validation as contract deliveries. Example, commented:
examples/studies/cd22/mapping.yml.

Mapping file
------------
Top level: `files`, a list of file entries; the first entry whose `match` fits the file is used.

files[].match            fnmatch glob on the export's file name (case-insensitive): "labs_*.csv"
files[].sheet            Excel: the worksheet's name; default (null) the first sheet. Not for CSV.
files[].header_rows      header rows above the data, 1 (default) or more. In a multi-row header a
                         blank cell of an upper row takes the value to its left (a merged cell),
                         unless a row above starts a new group at that column; a column is named
                         by its header cells joined with " / ", blanks skipped, each cell's
                         whitespace trimmed (inner runs of whitespace become one space):
                         "Inflammatory Markers / Day 7 (5-9) Timepoint / CRP (mg/L)".
files[].na_values        cell texts meaning missing in this file, besides "" and "NA" (e.g. "N/A")
files[].drop             identifying columns (names, MRNs, link keys to hospital records): dropped
                         on read; their values are in no output, frame or message. An output
                         cannot use them.
files[].ignore           columns read by nothing (documented as such in the mapping's comments)
files[].outputs          a list of outputs, each producing one record per data row:
  source                 the contract source fed (schemas/contract.py SOURCES)
  for_each               optional {name: [values]}: one record per row per value (several names:
                         per combination); "{name}" is replaced by the value in `column`,
                         `template`, `value` and `skip_when_blank` below
  skip_when_blank        source columns: a record whose listed cells are all blank is out of
                         scope, reason "no value in <column>"
  columns                contract column -> exactly one of
                           {column: <source column>}              the cell as text
                           {column: ..., codes: {<cell>: <text>}} the cell translated; a cell
                               not in the table quarantines the record (rule `unmapped_code`);
                               a blank cell stays blank; "" as a translation means blank
                           {template: "{patient_id}-d{days}"}     cells put into a text (for_each
                               names are replaced first, any other {name} is a column); blank if
                               any cell it names is blank
                           {value: pg/mL}                         a constant
                         A contract column the output does not list is left empty.
`drop` and `ignore` entries are column names or fnmatch globs ("CYTOKINES / *"); a name equal to
the entry matches too, so a name with brackets needs no escaping. Column names are compared
exactly (after the trimming above). Unquoted YAML numbers and booleans are read as the reader
reads cells (1 and 1.0 -> "1", true -> "true"); quoting codes is clearer. A key given twice in one
YAML mapping is an error (PyYAML would silently keep the last).

Rules that keep nothing silent (each a MappingError naming the mapping file and key path):
every column of the file is used by an output or matched by `ignore` / `drop`; a column an output
names exists in the file; a used column is not also ignored or dropped; sources and contract
columns exist. Unknown keys and wrong types are pydantic errors, reported the same way.

Cells and records
-----------------
CSV: UTF-8 with optional BOM, standard library `csv`. Excel (.xlsx, .xlsm, .xlsb, .xls, .ods):
python-calamine. Every cell becomes trimmed text; a whole float from Excel becomes an integer
text (0.0 -> "0"), other floats Python's shortest round-trip text (0.2381944444423425), dates ISO
8601, booleans "true"/"false". None, "", "NA" and the file's `na_values` are missing.
A record is one data row x one output (x one for_each value); fully blank rows are not records.
`_row_number` 1 is the first data row after the header rows (positions in the file: a blank row
keeps its number); `_locator` names the file, the sheet, the row (and its sheet row or CSV line),
the output and the for_each value: "cd22/mapped/clinical.xlsx, sheet 'Sel Data', data row 7
(sheet row 10), output 4 (serum_labs), tp=Day 7 (5-9) Timepoint".

API
---
load_mapping(path, shown_as=None) -> Mapping       validated; `shown_as` names it in messages
read_mapped(path, file_name, mapping, mapping_name=None) -> MappedFile
MappedFile: rows (source -> text frame: the outputs' columns in contract order, `_row_number`,
`_locator`), out_of_scope (source, row_number, locator, reason), quarantine (source, row_number,
locator, column_name, rule, value: one row per bad cell), records, data_rows; `counts` and
`balanced` give records == mapped + out_of_scope + quarantined (read_mapped checks it).

Errors: a mapping that is invalid or does not fit the file raises `MappingError` (no rows are
produced from that file); a file that cannot be read (missing, not UTF-8, not a workbook, fewer rows than its
header, two columns of one name) raises the ingest's `DeliveryRejected`, as a contract delivery
would. Row-level problems never raise: they are quarantine rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import itertools
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import yaml
from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator,
)

from dagster_project.lib.ingest.reader import MISSING_TEXTS, DeliveryRejected  # "" and NA mean missing
from schemas.contract import SOURCES

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")

class MappingError(ValueError):
    """A mapping file that is invalid or does not fit the export; names the mapping and the key."""


# ---- cells ---------------------------------------------------------------------------------------

def _cell_text(value: Any) -> str | None:
    """One cell (or one YAML scalar) as trimmed text; None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, (dt.date, dt.time)):  # datetime is a date
        text = value.isoformat()
    else:
        text = str(value)
    return text.strip() or None


def _scalar(value: Any) -> Any:
    """YAML numbers and booleans as the reader reads cells; anything else is left to pydantic."""
    if isinstance(value, (bool, int, float)):
        return _cell_text(value) or ""
    return value


Text = Annotated[str, BeforeValidator(_scalar)]


# ---- the mapping (pydantic) ----------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRule(_Strict):
    column: Text | None = None
    template: Text | None = None
    value: Text | None = None
    codes: dict[Text, Text] | None = None

    @field_validator("codes")
    @classmethod
    def _trim_keys(cls, codes: dict[str, str] | None) -> dict[str, str] | None:
        return None if codes is None else {key.strip(): text for key, text in codes.items()}

    @model_validator(mode="after")
    def _one_kind(self) -> ColumnRule:
        if sum(x is not None for x in (self.column, self.template, self.value)) != 1:
            raise ValueError("give exactly one of column, template, value")
        if self.codes is not None and self.column is None:
            raise ValueError("codes translate a column: give column with codes")
        return self


class Output(_Strict):
    source: str
    for_each: dict[str, list[Text]] = Field(default_factory=dict)
    skip_when_blank: list[Text] = Field(default_factory=list)
    columns: dict[str, ColumnRule] = Field(min_length=1)

    @field_validator("for_each")
    @classmethod
    def _names_and_values(cls, for_each: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in for_each.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r}: a name is letters, digits and _")
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{name}: give one or more distinct values")
        return for_each


class FileMapping(_Strict):
    match: str = Field(min_length=1)
    sheet: Text | None = None
    header_rows: int = Field(1, ge=1, le=50)
    na_values: list[Text] = Field(default_factory=list)
    drop: list[Text] = Field(default_factory=list)
    ignore: list[Text] = Field(default_factory=list)
    outputs: list[Output] = Field(min_length=1)


class Mapping(_Strict):
    files: list[FileMapping] = Field(min_length=1)
    _shown_as: str = PrivateAttr(default="mapping")  # the file's name in messages


def _contract_columns(source: str) -> list[str] | None:
    return SOURCES[source].columns if source in SOURCES else None


def _location(loc: tuple) -> str:
    """A pydantic error location as a key path: files[1].outputs[0].columns.study_day."""
    path = ""
    for item in loc:
        path += f"[{item}]" if isinstance(item, int) else f".{item}" if path else str(item)
    return path or "(top level)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently,
    which would hide a copy-pasted column rule)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_mapping(path: Path, shown_as: str | None = None) -> Mapping:
    """Read and validate a mapping file; `shown_as` is its name in messages (default: file name)."""
    name = shown_as or Path(path).name
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{name}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise MappingError(f"{name}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise MappingError(f"{name}: expected keys (files: ...), got {type(data).__name__}")
    try:
        mapping = Mapping.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            lines.append(f"{name}: {_location(error['loc'])}: {message.removeprefix('Value error, ')}")
        raise MappingError("\n".join(lines)) from None
    for i, file in enumerate(mapping.files):
        for j, output in enumerate(file.outputs):
            where = f"{name}: files[{i}].outputs[{j}]"
            known = _contract_columns(output.source)
            if known is None:
                raise MappingError(f"{where}.source: unknown contract source {output.source!r} "
                                   f"(sources: {', '.join(sorted(SOURCES))})")
            for column in output.columns:
                if column not in known:
                    raise MappingError(f"{where}.columns.{column}: not a column of {output.source} "
                                       f"(columns: {', '.join(known)})")
    mapping._shown_as = name
    return mapping


# ---- reading the file ----------------------------------------------------------------------------

@dataclass
class _Table:
    where: str                      # "clinical.xlsx, sheet 'Sel Data'" or "labs.csv"
    names: list[str]                # column names, dropped columns removed
    rows: list[tuple[int, str, list[str | None]]]  # (data row number, its place, cells): no blank rows
    data_rows: int


def _grid(path: Path, file_name: str, file: FileMapping, at: str) -> tuple[str, list[list[str | None]], list[str]]:
    """The file's cells as text, the locator prefix, and each row's place (sheet row / CSV line)."""
    if path.is_symlink():
        raise DeliveryRejected(file_name, "a symbolic link: not followed")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_path(str(path))
        except Exception as exc:  # calamine raises several types for a broken or foreign file
            raise DeliveryRejected(file_name, f"not a readable workbook ({exc})") from exc
        with workbook:
            names = workbook.sheet_names
            sheet = file.sheet if file.sheet is not None else (names or [None])[0]
            if sheet is None:
                raise DeliveryRejected(file_name, "a workbook without sheets")
            if sheet not in names:
                raise MappingError(f"{at}.sheet: no sheet {sheet!r} in {file_name} (sheets: {names})")
            try:
                # skip_empty_area=False: row i of the grid is sheet row i + 1, for locators.
                grid = workbook.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DeliveryRejected(file_name, f"sheet {sheet!r} cannot be read ({exc})") from exc
        cells = [[_cell_text(v) for v in row] for row in grid]
        return f"{file_name}, sheet {sheet!r}", cells, [f"sheet row {i + 1}" for i in range(len(cells))]
    if suffix != ".csv":
        raise DeliveryRejected(file_name, f"unsupported file type '{suffix}' (expected .csv or {', '.join(EXCEL_SUFFIXES)})")
    if file.sheet is not None:
        raise MappingError(f"{at}.sheet: {file_name} is a CSV file, without sheets")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise DeliveryRejected(file_name, f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise DeliveryRejected(file_name, "not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    cells, places, line = [], [], 1
    try:
        for row in reader:
            cells.append([_cell_text(v) for v in row])
            places.append(f"line {line}")
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DeliveryRejected(file_name, f"not a readable CSV (line {reader.line_num}: {exc})") from exc
    return file_name, cells, places


def _header_names(header: list[list[str | None]]) -> list[str]:
    """Column names of a header of one or more rows.

    Hand-written because no reader knows the layout: an upper header cell spanning several
    columns (merged, or centred across a selection) has its text in its first column only, and a
    CSV has no merge information at all. So a blank upper cell takes the text to its left, except
    where a row above starts a new group (a merge never crosses its parent's boundary).
    """
    top = [[c or "" for c in row] for row in header]
    filled = [row[:] for row in top]
    for r in range(len(top) - 1):  # the last row names fields: never filled
        for c in range(1, len(top[r])):
            if not any(top[u][c] for u in range(r + 1)):
                filled[r][c] = filled[r][c - 1]
    width = len(top[0]) if top else 0
    return [" / ".join(" ".join(row[c].split()) for row in filled if row[c].strip()) for c in range(width)]


def _matches(pattern: str, name: str) -> bool:
    return name == pattern or fnmatchcase(name, pattern)


def _read_table(path: Path, file_name: str, file: FileMapping, at: str) -> _Table:
    where, grid, places = _grid(path, file_name, file, at)
    width = max((len(row) for row in grid), default=0)
    grid = [row + [None] * (width - len(row)) for row in grid]
    if len(grid) < file.header_rows or not any(any(row) for row in grid[:file.header_rows]):
        raise DeliveryRejected(file_name, f"no header: the mapping expects {file.header_rows} header row(s)")
    names = _header_names(grid[:file.header_rows])
    body = grid[file.header_rows:]
    # A column without a name and without any value (an Excel range's trailing column) is nothing.
    keep = [c for c in range(width)
            if (names[c] or any(row[c] is not None for row in body))
            and not any(_matches(p, names[c]) for p in file.drop)]
    kept_names = [names[c] for c in keep]
    twice = sorted({n for n in kept_names if kept_names.count(n) > 1})
    if twice:
        raise DeliveryRejected(file_name, f"two or more columns named {', '.join(map(repr, twice))}")
    missing = {*MISSING_TEXTS, *file.na_values}
    rows = []
    for number, (row, place) in enumerate(zip(body, places[file.header_rows:]), start=1):
        if all(cell is None for cell in row):
            continue  # a fully blank row is not a record (its number is kept by the next rows)
        cells = [None if row[c] is None or row[c] in missing else row[c] for c in keep]
        rows.append((number, place, cells))
    return _Table(where, kept_names, rows, len(rows))


# ---- outputs -------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _fill(text: str, item: dict[str, str]) -> str:
    """Replace the for_each names in a text (other {...} are left as they are)."""
    return _PLACEHOLDER.sub(lambda m: item.get(m.group(1), m.group(0)), text)


@dataclass
class _Plan:
    """One output for one for_each item, its names resolved to column positions."""

    number: int                     # 1-based output number in the file entry, for locators
    source: str
    item: dict[str, str]
    skip: list[int]
    skip_names: list[str]
    # contract column -> ("cell", position, codes, name) | ("template", parts) | ("value", text)
    columns: dict[str, tuple]


def _plans(table: _Table, file: FileMapping, shown: str, i: int, file_name: str) -> list[_Plan]:
    at = f"files[{i}]"  # key paths; messages start with the mapping's name
    index = {name: c for c, name in enumerate(table.names)}
    used: dict[int, str] = {}

    def position(name: str, key: str, item: dict[str, str]) -> int:
        if name in index:
            used.setdefault(index[name], key)
            return index[name]
        what = f" (for_each {item})" if item else ""
        if any(_matches(p, name) for p in file.drop):
            raise MappingError(f"{shown}: {key}: column {name!r}{what} is listed in drop: "
                               "identifying columns are never mapped")
        close = difflib.get_close_matches(name, table.names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise MappingError(f"{shown}: {key}: column {name!r}{what} is not in {file_name}{hint}")

    plans = []
    for j, output in enumerate(file.outputs):
        key = f"{at}.outputs[{j}]"
        names = list(output.for_each)
        for values in itertools.product(*output.for_each.values()):
            item = dict(zip(names, values))
            skip_names = [_fill(n, item) for n in output.skip_when_blank]
            skip = [position(n, f"{key}.skip_when_blank", item) for n in skip_names]
            columns = {}
            for target, rule in output.columns.items():
                rule_key = f"{key}.columns.{target}"
                if rule.column is not None:
                    name = _fill(rule.column, item)
                    columns[target] = ("cell", position(name, f"{rule_key}.column", item), rule.codes, name)
                elif rule.template is not None:
                    parts = _PLACEHOLDER.split(_fill(rule.template, item))  # odd positions: names
                    columns[target] = ("template", [
                        part if k % 2 == 0 else position(part, f"{rule_key}.template", item)
                        for k, part in enumerate(parts)])
                else:
                    columns[target] = ("value", _fill(rule.value, item))
            plans.append(_Plan(j + 1, output.source, item, skip, skip_names, columns))

    for pattern in file.ignore:
        for c in used:
            if _matches(pattern, table.names[c]):
                raise MappingError(f"{shown}: {at}.ignore: {pattern!r} matches column {table.names[c]!r}, "
                                   f"which {used[c]} uses")
    unmapped = [name for c, name in enumerate(table.names)
                if c not in used and not any(_matches(p, name) for p in file.ignore)]
    if unmapped:
        shown = ", ".join(map(repr, unmapped[:20])) + (f" and {len(unmapped) - 20} more" if len(unmapped) > 20 else "")
        raise MappingError(f"{shown}: {at}: {len(unmapped)} column(s) of {file_name} neither mapped nor ignored "
                           f"(map them, or list them under ignore): {shown}")
    return plans


# ---- the adapter ---------------------------------------------------------------------------------

@dataclass
class MappedFile:
    rows: dict[str, pd.DataFrame]   # contract source -> text frame: output columns + _row_number + _locator
    out_of_scope: pd.DataFrame      # source, row_number, locator, reason
    quarantine: pd.DataFrame        # source, row_number, locator, column_name, rule, value
    records: int                    # data rows x outputs (x for_each values)
    data_rows: int                  # non-blank rows of the file (not records)

    @property
    def counts(self) -> dict[str, int]:
        """The accounting: records == mapped + out_of_scope + quarantined (a quarantined record
        may have several quarantine rows, one per bad cell; its locator is unique)."""
        return {
            "records": self.records,
            "mapped": sum(len(frame) for frame in self.rows.values()),
            "out_of_scope": len(self.out_of_scope),
            "quarantined": self.quarantine["locator"].nunique(),
        }

    @property
    def balanced(self) -> bool:
        c = self.counts
        return c["records"] == c["mapped"] + c["out_of_scope"] + c["quarantined"]


def _entry(mapping: Mapping, name: str, file_name: str, shown: str) -> tuple[int, FileMapping]:
    for i, file in enumerate(mapping.files):
        if fnmatchcase(name.lower(), file.match.lower()):
            return i, file
    patterns = ", ".join(repr(f.match) for f in mapping.files)
    raise MappingError(f"{shown}: files: no entry matches {file_name} (match patterns: {patterns})")


def read_mapped(path: Path, file_name: str, mapping: Mapping, mapping_name: str | None = None) -> MappedFile:
    """Turn one export file into contract rows, as its mapping entry says.

    `file_name` names the file in messages and locators (e.g. `cd22/mapped/clinical.xlsx`);
    `mapping_name` the mapping (default: the name `load_mapping` was given).
    """
    path = Path(path)
    shown = mapping_name or mapping._shown_as
    i, file = _entry(mapping, path.name, file_name, shown)
    at = f"{shown}: files[{i}]"
    table = _read_table(path, file_name, file, at)
    plans = _plans(table, file, shown, i, file_name)

    produced: dict[str, list[dict]] = {plan.source: [] for plan in plans}
    out_of_scope, quarantine = [], []
    records = 0
    for plan in plans:
        suffix = f", output {plan.number} ({plan.source})" + "".join(f", {k}={v}" for k, v in plan.item.items())
        for number, place, cells in table.rows:
            records += 1
            locator = f"{table.where}, data row {number} ({place}){suffix}"
            if plan.skip and all(cells[c] is None for c in plan.skip):
                out_of_scope.append((plan.source, number, locator, f"no value in {', '.join(plan.skip_names)}"))
                continue
            row, bad = {}, []
            for target, (kind, *spec) in plan.columns.items():
                if kind == "value":
                    row[target] = spec[0] or None
                elif kind == "template":
                    texts = [part if k % 2 == 0 else cells[part] for k, part in enumerate(spec[0])]
                    row[target] = None if None in texts else "".join(texts)
                else:
                    c, codes, name = spec
                    value = cells[c]
                    if codes is not None and value is not None:
                        if value not in codes:
                            bad.append((plan.source, number, locator, name, "unmapped_code", value))
                            continue
                        value = codes[value] or None
                    row[target] = value
            if bad:
                quarantine.extend(bad)
                continue
            row["_row_number"], row["_locator"] = number, locator
            produced[plan.source].append(row)

    rows = {}
    for source, items in produced.items():
        order = _contract_columns(source)
        targets = dict.fromkeys(t for plan in plans if plan.source == source for t in plan.columns)
        columns = sorted(targets, key=lambda t: order.index(t)) + ["_row_number", "_locator"]
        frame = pd.DataFrame(items, columns=columns, dtype=object)
        frame = frame.where(frame.notna(), None)  # a column another output of the source lacks
        rows[source] = frame.astype({"_row_number": "int64"})
    result = MappedFile(
        rows=rows,
        out_of_scope=pd.DataFrame(out_of_scope, columns=["source", "row_number", "locator", "reason"]),
        quarantine=pd.DataFrame(quarantine, columns=["source", "row_number", "locator", "column_name", "rule", "value"]),
        records=records,
        data_rows=table.data_rows,
    )
    if not result.balanced:  # an invariant of the loop above, checked because accounting is the point
        raise RuntimeError(f"{file_name}: records do not balance: {result.counts}")
    return result


__all__ = ["MappedFile", "Mapping", "MappingError", "load_mapping", "read_mapped"]
