"""Custom pandera checks shared by the source models (registered once, used by name).

Each check returns a boolean Series; pandera turns every False into a failure case that the
ingest step writes to `audit.quarantine` with the check's name as the rule.

A check whose answer for a cell depends on that cell's text only is decorated `per_value`: it
runs once on the column's distinct values (a 300,000-row delivery holds a few thousand distinct
dates) and the answers are spread back over the rows. The check's own code is unchanged and sees
what it saw before, an object Series of Python strings and missing values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandera import extensions

_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_DATETIME = _ISO_DATE + r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"

# A cytokine `result` as the assay exports it (sources.md): a non-negative number,
# `<x` / `< x` / `OOR <` (below LLOQ), `>x` / `> x` / `OOR >` (above ULOQ), `*x` (extrapolated).
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
RESULT_PATTERN = re.compile(
    rf"^\s*(?:{_NUMBER}|[<>]\s*{_NUMBER}|\*\s*{_NUMBER}|OOR\s*[<>])\s*$", re.IGNORECASE
)


def per_value(check: Callable[..., pd.Series]) -> Callable[..., pd.Series]:
    """Run an element-wise check once per distinct value of the column (and once for missing)."""

    @functools.wraps(check)
    def on_distinct_values(series: pd.Series, *args, **kwargs) -> pd.Series:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        values = pd.Series(np.array([*np.asarray(uniques, dtype=object), pd.NA], dtype=object))
        answers = np.asarray(check(values, *args, **kwargs), dtype=bool)
        return pd.Series(answers[codes], index=series.index)  # code -1 (missing) -> the last answer

    return on_distinct_values


def _parses(values: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(values, errors="coerce", format=fmt).notna()


@extensions.register_check_method()
@per_value
def iso_date(series: pd.Series) -> pd.Series:
    """`YYYY-MM-DD` and a real calendar date."""
    text = series.astype("string")
    shaped = text.str.fullmatch(_ISO_DATE).fillna(False).astype(bool)
    return shaped & _parses(text.where(shaped), "%Y-%m-%d")


@extensions.register_check_method()
@per_value
def iso_datetime(series: pd.Series) -> pd.Series:
    """ISO 8601 date and time, optional seconds and offset (`Z`, `+02:00`); a real instant."""
    text = series.astype("string")
    shaped = text.str.fullmatch(_ISO_DATETIME).fillna(False).astype(bool)
    local = text.where(shaped).str.slice(0, 16).str.replace("T", " ", regex=False)
    # Seconds 60..99 match the shape but are no instant (and break the cast in staging).
    seconds = pd.to_numeric(text.where(shaped).str.extract(r"^.{16}:(\d{2})", expand=False), errors="coerce")
    return (shaped & _parses(local, "%Y-%m-%d %H:%M") & ~(seconds >= 60).fillna(False)).astype(bool)


@extensions.register_check_method()
@per_value
def iso_datetime_or_date(series: pd.Series) -> pd.Series:
    """An ISO 8601 datetime (iso_datetime), or a date alone: a reading of that day whose time is
    unknown (an SDTM --DTC with a day and no time, studies-and-inputs.md). Never a coarser date."""
    return iso_datetime(series) | iso_date(series)


@extensions.register_check_method()
@per_value
def not_in_future(series: pd.Series) -> pd.Series:
    """The calendar date written (first 10 characters) is not after tomorrow (UTC).

    Our rule where the contract is silent: a measurement cannot come from the future; one day of
    slack covers sites east of UTC. An unparseable value passes here (iso_date/iso_datetime
    reports it), so one bad cell breaks one rule.
    """
    limit = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=1)
    dates = pd.to_datetime(series.astype("string").str.slice(0, 10), errors="coerce", format="%Y-%m-%d")
    return (dates.isna() | (dates <= limit)).astype(bool)


@extensions.register_check_method()
@per_value
def assay_result(series: pd.Series) -> pd.Series:
    """A number or one of the contract's out-of-range forms (see RESULT_PATTERN)."""
    return series.astype("string").str.match(RESULT_PATTERN).fillna(False).astype(bool)


@extensions.register_check_method(statistics=["allowed"])
@per_value
def agent_list(series: pd.Series, *, allowed: tuple[str, ...]) -> pd.Series:
    """`;`-separated list whose every element is an allowed code (empty = none)."""
    allowed_set = set(allowed)

    def ok(value: object) -> bool:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return True
        parts = [p.strip() for p in str(value).split(";")]
        return all(p in allowed_set for p in parts if p)

    return series.map(ok).astype(bool)
