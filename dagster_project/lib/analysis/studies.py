"""Statistics per study (studies-and-inputs.md, "Studies"): every analysis table has `study_id` as
its first column and is computed separately for each study, on that study's rows alone (subject
ids are unique only within a study), so a study's rows are the same whether the warehouse holds
it alone or beside others.

Pure pandas. The analysis modules keep their one-study functions (what the tests hold to R) and
build the table of several studies with these helpers: :func:`study_rows` (one study's rows,
without the column), :func:`with_study` (the column put first) and :func:`stack` (the studies'
tables one under the other, typed also when every study's table is empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

__all__ = ["STUDY_ID", "stack", "studies_of", "study_rows", "with_study"]

STUDY_ID = "study_id"


def studies_of(*frames: pd.DataFrame) -> list[str]:
    """The study ids present in any of ``frames``, sorted (frames without the column add none)."""
    found: set[str] = set()
    for frame in frames:
        if STUDY_ID in frame.columns:
            found.update(str(s) for s in frame[STUDY_ID].dropna().unique())
    return sorted(found)


def study_rows(frame: pd.DataFrame, study_id: str) -> pd.DataFrame:
    """The rows of ``study_id`` without the ``study_id`` column, in their order (index reset).
    A frame without the column is taken as one study's rows already."""
    if STUDY_ID not in frame.columns:
        return frame.reset_index(drop=True)
    rows = frame[frame[STUDY_ID].to_numpy() == study_id] if len(frame) else frame
    return rows.drop(columns=STUDY_ID).reset_index(drop=True)


def with_study(frame: pd.DataFrame, study_id: str) -> pd.DataFrame:
    """``frame`` with ``study_id`` as its first column (VARCHAR in DuckDB, also when empty)."""
    out = frame.drop(columns=STUDY_ID, errors="ignore").copy()
    out.insert(0, STUDY_ID, pd.array([study_id] * len(out), dtype="string"))
    return out


def stack(parts: Sequence[tuple[str, pd.DataFrame]] | Iterable[tuple[str, pd.DataFrame]],
          columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One table of the studies' tables (``(study_id, table)`` pairs, in the order given), with
    ``study_id`` first. Empty tables add no row and take no part in the column types (so one
    study without rows does not turn another's numbers into objects); when every table is empty,
    the first one's columns and types are kept. ``columns`` (without study_id) is the column
    order when there is no part at all."""
    parts = list(parts)
    if not parts:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or [])})
        return with_study(empty, "").iloc[0:0]
    filled = [with_study(frame, study) for study, frame in parts if len(frame)]
    if not filled:
        return with_study(parts[0][1], parts[0][0]).iloc[0:0]
    if len(filled) == 1:
        return filled[0].reset_index(drop=True)
    return pd.concat(filled, ignore_index=True)
