"""Read one delivery file into text cells, keeping each row's number in the file.

Every cell is read as text so that nothing is lost or silently converted before validation:
pandera decides what is a number. `row_number` 1 is the first data row after the header.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from schemas.contract import IDENTIFYING_COLUMNS, Source

MISSING_TEXTS = ("", "NA")  # sources.md: empty string and NA mean missing
TEXT = pd.StringDtype("pyarrow")  # the dtype of every delivered cell in the frame read_delivery returns


class DeliveryRejected(Exception):
    """A delivery that cannot be read at all; the message names the file and the cause."""

    def __init__(self, file_name: str, reason: str, rows_delivered: int = 0):
        super().__init__(f"{file_name}: {reason}")
        self.file_name = file_name
        self.reason = reason
        self.rows_delivered = rows_delivered


def count_data_lines(path: Path) -> int:
    """Best-effort count of data rows of an unreadable CSV (lines after the header)."""
    try:
        with path.open("rb") as handle:
            lines = [line for line in handle.read().splitlines() if line.strip()]
        return max(len(lines) - 1, 0)
    except OSError:
        return 0


def _rejected_csv(file_name: str, path: Path, exc: Exception) -> DeliveryRejected:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in reason or "utf-8" in reason.lower():
        reason = "not UTF-8 text"
    else:
        reason = f"not a readable CSV ({reason})"
    return DeliveryRejected(file_name, reason, count_data_lines(path))


def _records(lines: list[str], width: int) -> Iterator[list[str] | str]:
    """Each record's cells, or the reason it is malformed (a str).

    A quoted value may span lines (RFC 4180), but a record that does and still has the wrong
    number of fields (a stray quote) is cut back to its first line, and reading resumes on the
    next one: one stray quote cannot swallow the rest of the file.
    """
    start = 0
    while start < len(lines):
        reader = csv.reader(itertools.islice(lines, start, None))
        done = 0  # lines consumed by the records yielded so far, counted from `start`
        try:
            for row in reader:
                if len(row) != width and reader.line_num - done > 1:
                    break
                done = reader.line_num
                yield row
            else:
                return
            reason = "unclosed quote"
        except csv.Error as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        yield reason
        start += done + 1


def _read_csv_by_rows(path: Path, file_name: str) -> tuple[pa.Table, list[tuple[int, str]]]:
    """Slow path for a CSV whose rows do not all have the header's field count.

    The standard library reader keeps exact row numbers; a row with the wrong number of fields
    (a truncated last line, a stray delimiter, a stray quote) is returned as malformed, the rest
    go on. Blank lines are not rows, as in the fast path: row numbers do not depend on the path.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _rejected_csv(file_name, path, exc) from exc
    lines = list(io.StringIO(text, newline=""))
    header = next(csv.reader(lines[:1]), [])
    if not any(cell.strip() for cell in header):
        raise DeliveryRejected(file_name, "empty file: no header row")
    good, numbers, malformed = [], [], []
    number = 0
    for row in _records(lines[1:], len(header)):
        if isinstance(row, list) and len(row) != len(header) and not any(cell.strip() for cell in row):
            continue  # a blank line is not a row
        number += 1
        if isinstance(row, str):
            malformed.append((number, row))
        elif len(row) == len(header):
            good.append(row)
            numbers.append(number)
        else:
            malformed.append((number, f"{len(row)} fields, header has {len(header)}"))
    columns = {name: pa.array([r[i] for r in good], pa.string()) for i, name in enumerate(header)}
    table = pa.table(columns) if header else pa.table({})
    return table.append_column("_row_number", pa.array(numbers, pa.int64())), malformed


def _read_csv(path: Path, file_name: str) -> tuple[pa.Table, list[tuple[int, str]]]:
    try:
        with path.open("rb") as handle:
            header_line = handle.readline().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _rejected_csv(file_name, path, exc) from exc
    if not header_line.strip():
        raise DeliveryRejected(file_name, "empty file: no header row")
    try:
        names = next(csv.reader([header_line]))
    except csv.Error as exc:  # a bare CR: CR-only line endings make the whole file one line
        reason = "not a readable CSV (bare CR line break; the contract allows LF or CRLF)"
        raise DeliveryRejected(file_name, reason, count_data_lines(path)) from exc
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return _read_csv_by_rows(path, file_name)
    numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
    return table.append_column("_row_number", numbers), []


def _read_table(path: Path, file_name: str) -> tuple[pa.Table, list[tuple[int, str]]]:
    if path.is_symlink():
        raise DeliveryRejected(file_name, "a symbolic link: not followed (deliver regular files into the landing folder)")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            table = pq.read_table(path)
            table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise DeliveryRejected(file_name, f"not a readable parquet file ({exc})") from exc
        numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
        return table.append_column("_row_number", numbers), []
    if suffix != ".csv":
        # Not read, so its rows are unknown: counting newline bytes of a binary file invents rows.
        raise DeliveryRejected(file_name, f"unsupported file type '{suffix}' (expected .csv or .parquet)")
    return _read_csv(path, file_name)


def _extra_json(frame: pd.DataFrame, extra: list[str]) -> np.ndarray:
    """Each row's non-contract columns as a JSON object (pandas' `Series.to_json`), written once
    per distinct combination of their values."""
    codes = np.column_stack([pd.factorize(frame[c], use_na_sentinel=True)[0] for c in extra])
    _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    distinct = frame[extra].iloc[first].astype(object)
    distinct = distinct.where(distinct.notna(), None)
    texts = np.array([row.to_json() for _, row in distinct.iterrows()], dtype=object)
    return texts[inverse.reshape(-1)]


def read_delivery(
    path: Path, file_name: str, source: Source, required: list[str] | None = None
) -> tuple[pd.DataFrame, list[str], list[tuple[int, str]]]:
    """Return (frame, extra_columns, malformed_rows).

    The frame has the contract's columns as text (string[pyarrow]; missing optional ones as
    null), `_row_number`, and `_extra` (JSON of non-contract columns). Identifying columns are dropped here, before
    anything else sees them.
    """
    table, malformed = _read_table(path, file_name)
    row_numbers = table["_row_number"]
    table = table.drop_columns(["_row_number"])
    lowered = [name.strip().lower() for name in table.column_names]
    if len(set(lowered)) != len(lowered):
        dupes = sorted({n for n in lowered if lowered.count(n) > 1})
        raise DeliveryRejected(file_name, f"duplicate column(s) {', '.join(dupes)}", table.num_rows + len(malformed))
    table = table.rename_columns(lowered)
    keep = [name for name in lowered if name not in IDENTIFYING_COLUMNS]
    table = table.select(keep)
    # `required`: the header columns of the study's schema (a relative-time study's differ).
    missing = [c for c in (source.required_columns if required is None else required) if c not in keep]
    if missing:
        raise DeliveryRejected(
            file_name, f"missing required column(s) {', '.join(missing)}", table.num_rows + len(malformed)
        )
    # Empty string and NA mean missing.
    columns = {}
    for name in keep:
        col = pc.if_else(pc.is_in(table[name], pa.array(MISSING_TEXTS)), None, table[name])
        columns[name] = col
    # Text cells stay Arrow strings (string[pyarrow]): no Python object per cell.
    frame = pa.table(columns).to_pandas(types_mapper={pa.string(): TEXT}.get)
    for name in source.columns:
        if name not in frame:
            frame[name] = pd.Series(pd.NA, index=frame.index, dtype=TEXT)
    extra = [c for c in keep if c not in source.columns]
    frame["_extra"] = _extra_json(frame, extra) if extra else None
    frame["_row_number"] = row_numbers.to_numpy()
    return frame[[*source.columns, "_extra", "_row_number"]], extra, malformed
