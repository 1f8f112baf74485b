"""The `bioplex` adapter: a Bio-Plex Manager export -> serum / CSF cytokine rows, via the manifest.

A multiplex core lab hands over one workbook per plate (`.xls` or `.xlsx`): one worksheet per
analyte, each with a block of plate metadata, then the table of wells, then a legend. The lab knows
specimen labels only; the study's `samples` manifest (contract source `samples`) links a label to
its subject, its collection time (or study day) and its specimen. `read_bioplex` turns one workbook
into text rows of `serum_cytokines` / `csf_cytokines`, which then go through the same validation,
duplicates and accounting as contract deliveries (studies-and-inputs.md, "Adapters"). Example study:
examples/studies/bioplex_demo/.

The workbook (what Bio-Plex Manager writes; checked on a real export, LabKey's 10JAN07_plate_1.xls)
------------------------------------------------------------------------------------------------
    File Name: Z:\\...\\10JAN07 plate 1.rbx             plate metadata, one "Key: value" per row
    Analyte: Hu IL-6 (19)                               (first column), above the well table
    Acquisition Date: 11-Jan-2007, 01:20 PM
    Reader Serial Number: LX10001088010
    Plate ID:
    ...
    Analyte | Type | Well | Outlier | Description | FI | ... | Obs Conc | Exp Conc | ... | Dilution
    ...     | B    | H3,H4 | ...                                                  blank
    ...     | S1   | A1,A2 | ...        | 37947.0                                  standards
    ...     | X1   | A3,A4 | ... | 11027-01 | ... | *3.42 |      | ... | 4        unknowns
    (blank row, then the legend: ***, *, OOR, the standard curve's equation)

A sheet is an **analyte sheet** when it holds a well table: a row naming (any order, any case)
`Type`, `Well`, `Description` and `Obs Conc`. Its analyte is the metadata's `Analyte:` label
(else the table's own `Analyte` column, row by row): the `Hu ` prefix and the bead region `(19)`
are stripped (`Hu IL-6 (19)` -> `IL-6`, `Hu IL-12(p70) (75)` -> `IL-12(p70)`) and the rest is
read by schemas/analytes.normalize_analyte with the study's declared spellings and this
module's `BIOPLEX_SPELLINGS` (`IL-17` -> IL17A, `MCP-1(MCAF)` -> MCP1). A spelling that still does
not map is written as is: the validation quarantines it as an unmapped analyte, never guessed.
Any other sheet (Bio-Plex's `Project Template`, a notes sheet) is set aside whole. A workbook
without an analyte sheet is not a Bio-Plex export: rejected (`DeliveryRejected`).

Records (what the accounting counts; every one is mapped, out of scope or quarantined)
--------------------------------------------------------------------------------------
- the plate-metadata block of an analyte sheet: ONE record, out of scope (its content is
  returned as file metadata, below);
- each well row: one record (a row may list several wells, `A3,A4`: Bio-Plex's averaged row);
- the legend and notes below the well table: ONE record, out of scope;
- a sheet that is not an analyte sheet: ONE record, out of scope ("the sheet skipped and
  counted"; its cells are read by nothing and stored nowhere).
Blank rows are not records; the well table's header row is not a record.

Well types (the `Type` column): `B` blank, `S1..` standards, `C1..` controls are not results
(out of scope, reason naming the type); `X1..` are unknown samples; any other type is quarantined
(`unknown_well_type`): it could be a specimen, so it is not set aside silently.

Unknown samples: one result per specimen x analyte
-------------------------------------------------
The wells of one specimen on one sheet are the rows of one `Type` with one `Description` (the
specimen label). Bio-Plex Manager either averages replicates (one row listing the wells, `A3,A4`,
whose `Obs Conc` it computed from the mean FI: the real export is all such rows) or writes a row
per well. The result is formed so:
- a single row: that row is the result;
- an averaged row among per-well rows: the averaged row is the result; the per-well rows are out
  of scope ("replicate well ... the averaged row is the result");
- per-well rows only: the first row is the record that carries the result, the others are out of
  scope ("replicate well ... combined into row N"); the result combines the readings of the wells
  that have one (`***` / `---` wells are left out, as Bio-Plex leaves outliers out of its
  average): numbers -> their mean, extrapolated (`*`) when any well is; all `OOR <` (all
  `OOR >`) -> censored below (above); anything else (a number and an `OOR <`, two directions, a
  text the contract does not read) is quarantined `replicate_wells_disagree` with the readings;
  wells of different dilutions are quarantined `replicate_dilutions_differ`.
The result text (`Obs Conc` already includes the dilution, as Bio-Plex reports it):
- a number -> as written (`73.01`); `*x` -> as written (`*3.42`, extrapolated);
- `OOR <` -> `<L` with L = the lowest standard's `Exp Conc` of that sheet x the row's dilution;
  `OOR >` -> `>U` with the highest. The standards used are those of the curve: a standard
  designated an outlier (`Outlier` non-zero, or `---` / `***` in FI or Obs Conc) is left out
  (in the real export several top standards are; using their Exp Conc would give a range the
  curve never had). Without any usable standard the text stays `OOR <` / `OOR >` with no
  limit, and the contract's rule quarantines it (`oor_below_needs_lloq` / `oor_above_needs_uloq`);
- every result row carries lloq / uloq = that range x its dilution (empty when unknown);
- `***` (value not available), `---` (designated an outlier) or an empty Obs Conc: no result,
  out of scope with that reason;
- any other text is written as is: the validation quarantines it (`assay_result`).
unit `pg/mL`, assay `Bio-Plex`, plate_id the metadata's `Plate ID`, else the instrument file's
name without folders and suffix (`10JAN07 plate 1`), else the delivered file's stem.

The manifest
------------
`manifest`: the study's current `samples` rows (sample_label, subject_id, specimen, collected_at,
study_day; text or typed). A label is matched trimmed and case-insensitively; the row gets
sample_id = the manifest's label, its subject_id, collected_at and study_day as the manifest
gives them (never the plate's acquisition date). Its specimen routes it: `serum` ->
serum_cytokines, `csf` -> csf_cytokines, `plasma` -> serum_cytokines when study.yml says
`plasma_as_serum: true`, else out of scope (the contract has no plasma source, and serum and
plasma differ for VEGF, PDGF-BB, RANTES: mixing them is the study's decision). A label missing
from the manifest is quarantined `sample_not_in_manifest` (value: the label); a label whose
manifest rows disagree, `sample_ambiguous_in_manifest`; an unknown specimen, `unknown_specimen`;
an unknown sample without a label, `sample_label_missing`. A result-less well (`***`) is out of
scope before its label is looked up.

Records that are no specimen's result (metadata, standards, blanks, controls, legends, other
sheets, labels missing from the manifest, plasma set aside) are counted under the plate's
compartment, study.yml `adapters.bioplex.specimen` (serum -> serum_cytokines, csf ->
csf_cytokines).

Locators: `bioplex_demo/bioplex/10JAN07_plate_1.xls, sheet 'Hu IL-6 (19)', row 19 (well A3,A4)`,
`..., rows 1-7 (plate metadata)`, `..., sheet 'Project Template' (not an analyte sheet)`.
`row_number` / `_row_number` is the sheet row (1-based) of the record's first row.

File metadata (`BioplexFile.metadata`, never a sample date): file_name, instrument_file (the
`File Name:` entry without its folders, which may name people or projects), plate_id,
acquired_at (ISO, the instrument's clock), acquisition_date (as written), reader_serial,
analytes (sheet -> code or spelling), sheets_set_aside. A value that differs between sheets is
given as its distinct values joined by "; ".

API
---
read_bioplex(path, file_name, config, manifest, *, analyte_synonyms=None) -> BioplexFile
BioplexFile: a MappedFile (rows, out_of_scope, quarantine, records, data_rows = the well rows of
the analyte sheets; `counts`, `balanced`) plus `metadata`. One quarantine row per quarantined
record. A file that cannot be read raises `DeliveryRejected`; row-level problems never raise.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

import pandas as pd

from dagster_project.lib.adapters.mapped import EXCEL_SUFFIXES, MappedFile, _cell_text
from dagster_project.lib.ingest.reader import DeliveryRejected
from schemas.analytes import normalize_analyte
from schemas.contract import SOURCES
from schemas.study import BioplexAdapter

ASSAY = "Bio-Plex"
UNIT = "pg/mL"  # Bio-Plex Manager's concentration unit (the export's Project Template: "pg/ml")
SPECIMEN_SOURCES = {"serum": "serum_cytokines", "csf": "csf_cytokines"}

# Bio-Plex label spellings that normalize_analyte does not read by itself (normalised keys:
# upper case, letters and digits). The 27-plex's `Hu IL-17` is IL-17A (Bio-Rad's panel sheet);
# `MCP-1(MCAF)` names MCP-1 with its older alias. A study's declared spellings win over these.
BIOPLEX_SPELLINGS = {
    "IL17": "IL17A",
    "MCP1MCAF": "MCP1",
}

# The well table's header: these names (case-insensitive, trimmed) make a row the header.
_HEADER_NAMES = ("type", "well", "description", "obs conc")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")  # as schemas/checks.RESULT_PATTERN
_NO_RESULT = {
    "***": "no result: *** (value not available)",
    "---": "no result: --- (designated an outlier)",
}


@dataclass
class BioplexFile(MappedFile):
    """A MappedFile plus the plate's metadata (acquisition date, reader serial, instrument file):
    file facts for the audit, never a sample's date."""

    metadata: dict[str, Any] = field(default_factory=dict)


# ---- cells and readings --------------------------------------------------------------------------

def _number_text(value: float) -> str:
    """A computed number as text, without float noise (2.32 x 4 -> "9.28")."""
    value = float(f"{value:.12g}")
    return str(int(value)) if value.is_integer() else repr(value)


def _as_number(text: str | None) -> float | None:
    if text is None or not _NUMBER.fullmatch(text):
        return None
    return float(text)


@dataclass(frozen=True)
class _Reading:
    kind: str              # number | extrapolated | below | above | none | other
    text: str | None       # the cell as written
    value: float | None = None


def _reading(text: str | None) -> _Reading:
    """One Obs Conc cell."""
    if text is None:
        return _Reading("none", None)
    if text in _NO_RESULT:
        return _Reading("none", text)
    if _NUMBER.fullmatch(text):
        return _Reading("number", text, float(text))
    star = re.fullmatch(r"\*\s*(" + _NUMBER.pattern + r")", text)
    if star:
        return _Reading("extrapolated", text, float(star.group(1)))
    oor = re.fullmatch(r"OOR\s*([<>])", text, re.IGNORECASE)
    if oor:
        return _Reading("below" if oor.group(1) == "<" else "above", text)
    return _Reading("other", text)


def _no_result_reason(reading: _Reading) -> str:
    return _NO_RESULT.get(reading.text or "", "no result: Obs Conc empty")


def _analyte_spelling(label: str) -> str:
    """`Hu IL-6 (19)` -> `IL-6`: the species prefix and the bead region stripped."""
    text = re.sub(r"^\s*Hu\s+", "", label, flags=re.IGNORECASE)
    return re.sub(r"\s*\(\s*\d+\s*\)\s*$", "", text).strip()


def _analyte_code(label: str, synonyms: dict[str, str]) -> str:
    spelling = _analyte_spelling(label)
    return normalize_analyte(spelling, synonyms) or spelling


# ---- the workbook --------------------------------------------------------------------------------

@dataclass
class _Well:
    number: int                 # sheet row, 1-based
    type: str | None
    wells: str | None
    label: str | None
    obs: str | None
    exp: str | None
    dilution: str | None
    fi: str | None
    outlier: str | None
    analyte: str | None         # the table's Analyte column


@dataclass
class _Sheet:
    name: str
    metadata: dict[str, str]    # lower-cased key -> value, from "Key: value" rows above the table
    metadata_rows: list[int]
    wells: list[_Well]
    notes_rows: list[int]


def _read_grid(path: Path, file_name: str) -> list[tuple[str, list[list[str | None]]]]:
    if path.is_symlink():
        raise DeliveryRejected(file_name, "a symbolic link: not followed")
    suffix = path.suffix.lower()
    if suffix not in EXCEL_SUFFIXES:
        raise DeliveryRejected(file_name, f"unsupported file type '{suffix}' for a Bio-Plex export "
                                          f"(expected {', '.join(EXCEL_SUFFIXES)})")
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises several types for a broken or foreign file
        raise DeliveryRejected(file_name, f"not a readable workbook ({exc})") from exc
    sheets = []
    with workbook:
        for name in workbook.sheet_names:
            try:
                # skip_empty_area=False: row i of the grid is sheet row i + 1, for locators.
                grid = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
            except Exception as exc:
                raise DeliveryRejected(file_name, f"sheet {name!r} cannot be read ({exc})") from exc
            sheets.append((name, [[_cell_text(v) for v in row] for row in grid]))
    return sheets


def _header_index(grid: list[list[str | None]]) -> tuple[int, dict[str, int]] | None:
    """(row index, lower-cased column name -> position) of the well table's header, if any."""
    for i, row in enumerate(grid):
        names = {}
        for c, cell in enumerate(row):
            if cell is not None:
                names.setdefault(" ".join(cell.split()).lower(), c)
        if all(name in names for name in _HEADER_NAMES):
            return i, names
    return None


def _parse_sheet(name: str, grid: list[list[str | None]]) -> _Sheet | None:
    found = _header_index(grid)
    if found is None:
        return None
    header, columns = found
    metadata, metadata_rows = {}, []
    for i, row in enumerate(grid[:header]):
        cells = [c for c in row if c is not None]
        if not cells:
            continue
        metadata_rows.append(i + 1)
        key, sep, value = cells[0].partition(":")
        if sep:
            metadata.setdefault(" ".join(key.split()).lower(), value.strip())

    def cell(row: list[str | None], column: str) -> str | None:
        c = columns.get(column)
        return row[c] if c is not None and c < len(row) else None

    wells, notes_rows = [], []
    for i, row in enumerate(grid[header + 1:], start=header + 2):
        if all(c is None for c in row):
            continue
        if cell(row, "type") is None and cell(row, "well") is None:
            notes_rows.append(i)  # the legend and the standard curve's equation
            continue
        wells.append(_Well(i, cell(row, "type"), cell(row, "well"), cell(row, "description"), cell(row, "obs conc"),
                           cell(row, "exp conc"), cell(row, "dilution"), cell(row, "fi"), cell(row, "outlier"),
                           cell(row, "analyte")))
    return _Sheet(name, metadata, metadata_rows, wells, notes_rows)


def _rows_text(rows: list[int]) -> str:
    return f"row {rows[0]}" if len(rows) == 1 else f"rows {rows[0]}-{rows[-1]}"


def _range(sheet: _Sheet) -> tuple[float | None, float | None]:
    """(lowest, highest) Exp Conc of the sheet's usable standards (not designated outliers)."""
    values = []
    for well in sheet.wells:
        if not (well.type and re.fullmatch(r"S\d+", well.type, re.IGNORECASE)):
            continue
        outlier = _as_number(well.outlier)
        if (outlier is not None and outlier != 0) or well.fi in _NO_RESULT or well.obs in _NO_RESULT:
            continue
        exp = _as_number(well.exp)
        if exp is not None and exp > 0:
            values.append(exp)
    return (min(values), max(values)) if values else (None, None)


def _dilution(text: str | None) -> float | None:
    """The row's dilution factor; an empty cell is 1 (Bio-Plex's default); unreadable -> None."""
    if text is None:
        return 1.0
    value = _as_number(text)
    return value if value is not None and value > 0 else None


def _combined(readings: list[_Reading]) -> tuple[str, _Reading | str]:
    """The result of several wells of one specimen: ("ok", reading), ("none", reason) or
    ("disagree", the readings as text)."""
    usable = [r for r in readings if r.kind != "none"]
    if not usable:
        return "none", "no result in any replicate well (" + ", ".join(r.text or "empty" for r in readings) + ")"
    kinds = {r.kind for r in usable}
    if kinds <= {"number", "extrapolated"}:
        mean = statistics.fmean(r.value for r in usable)
        if "extrapolated" in kinds:
            return "ok", _Reading("extrapolated", "*" + _number_text(mean), mean)
        return "ok", _Reading("number", _number_text(mean), mean)
    if kinds in ({"below"}, {"above"}):
        return "ok", usable[0]
    return "disagree", "; ".join(r.text or "" for r in readings)


def _text(value: Any) -> str | None:
    """A manifest cell as text (None for missing; 7.0 -> "7")."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalars
    return _cell_text(value)


def _manifest_index(manifest: pd.DataFrame | None) -> dict[str, list[dict[str, str | None]]]:
    index: dict[str, list[dict[str, str | None]]] = {}
    if manifest is None or manifest.empty:
        return index
    columns = {str(c).lower(): c for c in manifest.columns}
    wanted = ("sample_label", "subject_id", "specimen", "collected_at", "study_day")
    for values in manifest.itertuples(index=False, name=None):
        row = dict(zip(manifest.columns, values))
        entry = {k: _text(row[columns[k]]) if k in columns else None for k in wanted}
        if entry["sample_label"] is None:
            continue
        index.setdefault(entry["sample_label"].casefold(), []).append(entry)
    return index


def _acquired_at(text: str | None) -> str | None:
    """`11-Jan-2007, 01:20 PM` -> `2007-01-11T13:20:00` (the instrument's clock); None if unread."""
    if not text:
        return None
    for pattern in ("%d-%b-%Y, %I:%M %p", "%d-%b-%Y %I:%M %p", "%d-%b-%Y, %H:%M", "%m/%d/%Y %I:%M:%S %p",
                    "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text.strip(), pattern).isoformat()
        except ValueError:
            continue
    return None


def _instrument_file(text: str | None) -> str | None:
    """The instrument file's name without its folders (a Windows or POSIX path)."""
    return PureWindowsPath(text).name or None if text else None


def _plate_id(sheet: _Sheet, file_name: str) -> str:
    if sheet.metadata.get("plate id"):
        return sheet.metadata["plate id"]
    instrument = _instrument_file(sheet.metadata.get("file name"))
    if instrument:
        return PureWindowsPath(instrument).stem or instrument
    return Path(file_name).stem


def _one(values: list[str | None]) -> str | None:
    distinct = list(dict.fromkeys(v for v in values if v))
    return "; ".join(distinct) if distinct else None


# ---- the adapter ---------------------------------------------------------------------------------

class _Accounts:
    def __init__(self, default_source: str):
        self.default = default_source
        self.rows: dict[str, list[dict]] = {}
        self.out: list[tuple] = []
        self.quarantine: list[tuple] = []
        self.records = 0

    def set_aside(self, number: int, locator: str, reason: str, source: str | None = None) -> None:
        self.records += 1
        self.out.append((source or self.default, number, locator, reason))

    def quarantined(self, number: int, locator: str, column: str | None, rule: str, value: str | None,
                    source: str | None = None) -> None:
        self.records += 1
        self.quarantine.append((source or self.default, number, locator, column, rule, value))

    def mapped(self, source: str, row: dict) -> None:
        self.records += 1
        self.rows.setdefault(source, []).append(row)


def read_bioplex(path: Path, file_name: str, config: BioplexAdapter | None, manifest: pd.DataFrame | None, *,
                 analyte_synonyms: dict[str, str] | None = None) -> BioplexFile:
    """Turn one Bio-Plex Manager workbook into cytokine rows through the study's manifest.

    `file_name` names the file in messages and locators (`bioplex_demo/bioplex/plate1.xls`);
    `config` the study's `adapters.bioplex` (None: the defaults); `manifest` the study's current
    `samples` rows; `analyte_synonyms` the study's declared spellings
    (StudyConfig.analyte_synonyms), looked up before BIOPLEX_SPELLINGS.
    """
    path = Path(path)
    config = config or BioplexAdapter()
    synonyms = {**BIOPLEX_SPELLINGS, **(analyte_synonyms or {})}
    labels = _manifest_index(manifest)
    acc = _Accounts(SPECIMEN_SOURCES[config.specimen])

    grids = _read_grid(path, file_name)
    parsed = [(name, grid, _parse_sheet(name, grid)) for name, grid in grids]
    if not any(sheet for _, _, sheet in parsed):
        raise DeliveryRejected(file_name, "no analyte sheet (a well table with Type, Well, Description and "
                                          "Obs Conc): not a Bio-Plex Manager export")
    data_rows = 0
    set_aside_sheets: list[str] = []
    analytes: dict[str, str] = {}
    plates: list[_Sheet] = []
    for name, grid, sheet in parsed:
        where = f"{file_name}, sheet {name!r}"
        if sheet is None:
            used = [i + 1 for i, row in enumerate(grid) if any(c is not None for c in row)]
            if used:  # an empty sheet is nothing
                set_aside_sheets.append(name)
                acc.set_aside(used[0], f"{where} (not an analyte sheet)",
                              "not an analyte sheet (no well table with Type, Well, Description, Obs Conc): "
                              "set aside whole")
            continue
        plates.append(sheet)
        data_rows += len(sheet.wells)
        label = sheet.metadata.get("analyte") or None
        if label:
            analytes[name] = _analyte_code(label, synonyms)
        if sheet.metadata_rows:
            acc.set_aside(sheet.metadata_rows[0], f"{where}, {_rows_text(sheet.metadata_rows)} (plate metadata)",
                          "plate metadata (file name, analyte, acquisition date, reader): file metadata, not results")
        if sheet.notes_rows:
            acc.set_aside(sheet.notes_rows[0], f"{where}, {_rows_text(sheet.notes_rows)} (notes)",
                          "legend and standard curve below the well table: not results")
        _read_wells(sheet, where, label, file_name, config, labels, synonyms, acc)

    result = BioplexFile(
        rows=_frames(acc.rows),
        out_of_scope=pd.DataFrame(acc.out, columns=["source", "row_number", "locator", "reason"]),
        quarantine=pd.DataFrame(acc.quarantine,
                                columns=["source", "row_number", "locator", "column_name", "rule", "value"]),
        records=acc.records,
        data_rows=data_rows,
        metadata={
            "file_name": file_name,
            "instrument_file": _one([_instrument_file(s.metadata.get("file name")) for s in plates]),
            "plate_id": _one([_plate_id(s, file_name) for s in plates]),
            "acquired_at": _one([_acquired_at(s.metadata.get("acquisition date")) for s in plates]),
            "acquisition_date": _one([s.metadata.get("acquisition date") for s in plates]),
            "reader_serial": _one([s.metadata.get("reader serial number") for s in plates]),
            "analytes": analytes,
            "sheets_set_aside": set_aside_sheets,
        },
    )
    if not result.balanced:  # an invariant of the loops, checked because accounting is the point
        raise RuntimeError(f"{file_name}: records do not balance: {result.counts}")
    return result


def _read_wells(sheet: _Sheet, where: str, label: str | None, file_name: str, config: BioplexAdapter,
                labels: dict[str, list[dict]], synonyms: dict[str, str], acc: _Accounts) -> None:
    low, high = _range(sheet)
    plate_id = _plate_id(sheet, file_name)

    def locator(wells: list[_Well]) -> str:
        names = [w.wells or "?" for w in wells]
        return f"{where}, row {wells[0].number} ({'well' if len(names) == 1 else 'wells'} {' + '.join(names)})"

    groups: dict[tuple[str, str | None], list[_Well]] = {}
    for well in sheet.wells:
        kind = (well.type or "").strip()
        loc = locator([well])
        if re.fullmatch(r"B\d*", kind, re.IGNORECASE):
            acc.set_aside(well.number, loc, f"blank well ({kind}): not a result")
        elif re.fullmatch(r"S\d+", kind, re.IGNORECASE):
            acc.set_aside(well.number, loc, f"standard well ({kind}): not a result")
        elif re.fullmatch(r"C\d+", kind, re.IGNORECASE):
            acc.set_aside(well.number, loc, f"control well ({kind}): not a result")
        elif re.fullmatch(r"X\d+", kind, re.IGNORECASE):
            groups.setdefault((kind.upper(), well.label), []).append(well)
        else:
            acc.quarantined(well.number, loc, "Type", "unknown_well_type", well.type)

    for (kind, specimen_label), wells in groups.items():
        averaged = [w for w in wells if w.wells and "," in w.wells]
        if len(wells) == 1:
            results = [(wells[0], wells)]
        elif averaged:
            results = [(w, [w]) for w in averaged]
            first = averaged[0].number
            for w in wells:
                if w not in averaged:
                    acc.set_aside(w.number, locator([w]), f"replicate well of {specimen_label or kind}: "
                                                          f"the averaged row (row {first}) is the result")
        else:
            results = [(wells[0], wells)]
            for w in wells[1:]:
                acc.set_aside(w.number, locator([w]),
                              f"replicate well of {specimen_label or kind}: combined into row {wells[0].number}")
        for record, contributing in results:
            _result(record, contributing, locator(contributing), specimen_label, label, low, high, plate_id,
                    config, labels, synonyms, acc)


def _result(record: _Well, contributing: list[_Well], loc: str, specimen_label: str | None, label: str | None,
            low: float | None, high: float | None, plate_id: str, config: BioplexAdapter,
            labels: dict[str, list[dict]], synonyms: dict[str, str], acc: _Accounts) -> None:
    number = record.number
    # 1. the reading (a result-less well is out of scope before anything else is asked of it)
    if len(contributing) == 1:
        reading = _reading(record.obs)
        if reading.kind == "none":
            acc.set_aside(number, loc, _no_result_reason(reading))
            return
    else:
        status, outcome = _combined([_reading(w.obs) for w in contributing])
        if status == "none":
            acc.set_aside(number, loc, outcome)
            return
        if status == "disagree":
            acc.quarantined(number, loc, "Obs Conc", "replicate_wells_disagree", outcome)
            return
        if len({w.dilution for w in contributing}) > 1:
            acc.quarantined(number, loc, "Dilution", "replicate_dilutions_differ",
                            "; ".join(w.dilution or "" for w in contributing))
            return
        reading = outcome
    # 2. the specimen, through the manifest
    if specimen_label is None:
        acc.quarantined(number, loc, "Description", "sample_label_missing", record.type)
        return
    entries = labels.get(specimen_label.strip().casefold(), [])
    if not entries:
        acc.quarantined(number, loc, "Description", "sample_not_in_manifest", specimen_label)
        return
    distinct = {tuple(sorted((k, v) for k, v in e.items() if k != "sample_label")) for e in entries}
    if len(distinct) > 1:
        acc.quarantined(number, loc, "Description", "sample_ambiguous_in_manifest", specimen_label)
        return
    sample = entries[0]
    specimen = (sample["specimen"] or "").strip().lower()
    if specimen == "plasma":
        if not config.plasma_as_serum:
            acc.set_aside(number, loc, "plasma specimen: the study does not map plasma to serum_cytokines "
                                       "(study.yml adapters.bioplex.plasma_as_serum)")
            return
        source = "serum_cytokines"
    elif specimen in SPECIMEN_SOURCES:
        source = SPECIMEN_SOURCES[specimen]
    else:
        acc.quarantined(number, loc, "specimen", "unknown_specimen", sample["specimen"])
        return
    # 3. the analyte
    spelling = label or record.analyte
    if not spelling:
        acc.quarantined(number, loc, "Analyte", "analyte_label_missing", None, source=source)
        return
    # 4. the result text, censored at the plate's range x the dilution
    dilution = _dilution(record.dilution)
    lloq = _number_text(low * dilution) if low is not None and dilution is not None else None
    uloq = _number_text(high * dilution) if high is not None and dilution is not None else None
    if reading.kind == "below":
        result = f"<{lloq}" if lloq is not None else "OOR <"
    elif reading.kind == "above":
        result = f">{uloq}" if uloq is not None else "OOR >"
    else:
        result = reading.text  # a number, *x, or a text the validation quarantines
    acc.mapped(source, {
        "sample_id": sample["sample_label"],
        "subject_id": sample["subject_id"],
        "collected_at": sample["collected_at"],
        "study_day": sample["study_day"],
        "analyte": _analyte_code(spelling, synonyms),
        "result": result,
        "unit": UNIT,
        "lloq": lloq,
        "uloq": uloq,
        "plate_id": plate_id,
        "assay": ASSAY,
        "_row_number": number,
        "_locator": loc,
    })


def _frames(produced: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    frames = {}
    for source, items in produced.items():
        columns = [*SOURCES[source].columns, "_row_number", "_locator"]
        frame = pd.DataFrame(items, columns=columns, dtype=object)
        frame = frame.where(frame.notna(), None)
        frames[source] = frame.astype({"_row_number": "int64"})
    return frames


__all__ = ["ASSAY", "BIOPLEX_SPELLINGS", "BioplexFile", "UNIT", "read_bioplex"]
