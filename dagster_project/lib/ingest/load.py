"""Load every new delivery of one source: read, validate, split duplicates, store.

A delivery already recorded (same bytes and name) is skipped, so running the load again, or
after a crash, changes nothing that was committed. The same bytes under another name are
recorded as a `duplicate` and change nothing else (sources.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from dagster_project.lib.ingest import store
from dagster_project.lib.ingest.duplicates import split_duplicates
from dagster_project.lib.ingest.landing import Delivery, list_deliveries
from dagster_project.lib.ingest.reader import DeliveryRejected, read_delivery
from dagster_project.lib.ingest.validation import QUARANTINE_COLUMNS, validate
from schemas.contract import SOURCES, Source


@dataclass(frozen=True)
class DeliveryOutcome:
    file_name: str
    sha256: str
    status: str  # loaded | duplicate | rejected
    rows_delivered: int
    rows_accepted: int
    rows_quarantined: int
    message: str | None
    # Wall seconds of the delivery's phases (the asset sums them as metadata, which benchmarks/
    # reads): read = file -> frame, validate = pandera + duplicates + unknown subjects,
    # store = the DuckDB transaction.
    seconds_read: float = 0.0
    seconds_validate: float = 0.0
    seconds_store: float = 0.0


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _rejected_rows(n_rows: int, reason: str) -> pd.DataFrame:
    """A rejected delivery's rows all go to quarantine, so delivered = accepted + quarantined."""
    return pd.DataFrame(
        {"row_number": range(1, n_rows + 1), "column_name": None, "rule": "delivery_rejected", "value": reason}
    )


def _malformed_rows(malformed: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(n, None, "malformed_row", why) for n, why in malformed], columns=QUARANTINE_COLUMNS
    )


@dataclass(frozen=True)
class KnownSubjects:
    """Every subject the warehouse has accepted, kept in the shapes the per-delivery checks use.

    Built once per source load. A delivery of a few hundred rows must not pay for the whole
    cohort: pandas' `isin` on Arrow strings turns its value list into Python objects on every
    call (0.8 s per file at 100,000 subjects, 1,100 files); here both lookups go through the
    hash table of one index, built once.
    """

    enrolled_on: pd.Series  # datetime64, indexed by subject_id (object)

    def _positions(self, subject_ids: pd.Series) -> np.ndarray:
        return self.enrolled_on.index.get_indexer(subject_ids.astype(object))  # -1: not known

    def contains(self, subject_ids: pd.Series) -> np.ndarray:
        return self._positions(subject_ids) >= 0

    def enrollment_of(self, subject_ids: pd.Series) -> pd.Series:
        """Each row's subject's enrollment date; NaT for a subject not known (none may be)."""
        dates = np.append(self.enrolled_on.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
        return pd.Series(dates[self._positions(subject_ids)], index=subject_ids.index)  # -1: the NaT appended


def known_subjects(con: duckdb.DuckDBPyConnection) -> KnownSubjects:
    """Subject id -> enrollment date (latest delivered version) of every accepted subjects row."""
    store.ensure_tables(con, SOURCES["subjects"])
    latest = con.execute(
        """select subject_id, arg_max(enrolled_on, (_received_at, _file_name, _row_number)) as enrolled_on
           from raw.subjects group by subject_id"""
    ).df()
    ids = latest["subject_id"].astype(object)
    enrolled = pd.to_datetime(latest["enrolled_on"], errors="coerce").to_numpy()
    return KnownSubjects(enrolled_on=pd.Series(enrolled, index=pd.Index(ids, dtype=object)))


def _rows_outside_a_subject(
    kept: pd.DataFrame, subjects: KnownSubjects, source: Source
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows that cannot belong to a subject's record go to quarantine.

    Our choices where the contract is silent:
    - `unknown_subject`: the row names a subject the warehouse has never received. A measurement
      of nobody cannot enter a mart, and a later subjects delivery does not revive it (the site
      re-delivers the rows): load subjects first.
    - `before_enrollment`: the row's event date (the site's local date as written) is before the
      subject's enrolled_on: a record of someone not yet in the study.
    """
    unknown = pd.Series(~subjects.contains(kept["subject_id"]), index=kept.index)
    early = pd.Series(False, index=kept.index)
    if source.event_column is not None:
        enrolled = subjects.enrollment_of(kept["subject_id"])
        happened = pd.to_datetime(
            kept[source.event_column].astype("string").str.slice(0, 10), errors="coerce", format="%Y-%m-%d"
        )
        early = (~unknown & (happened < enrolled)).fillna(False).astype(bool)
    quarantine = pd.concat(
        [
            pd.DataFrame(
                {
                    "row_number": kept.loc[unknown, "_row_number"].to_numpy(),
                    "column_name": "subject_id",
                    "rule": "unknown_subject",
                    "value": kept.loc[unknown, "subject_id"].astype(object).to_numpy(),
                }
            ),
            pd.DataFrame(
                {
                    "row_number": kept.loc[early, "_row_number"].to_numpy(),
                    "column_name": source.event_column,
                    "rule": "before_enrollment",
                    "value": kept.loc[early, source.event_column].astype(object).to_numpy()
                    if source.event_column
                    else [],
                }
            ),
        ],
        ignore_index=True,
    )
    return kept[~unknown & ~early], quarantine


def load_delivery(
    con: duckdb.DuckDBPyConnection, source: Source, delivery: Delivery, subjects: KnownSubjects | None = None
) -> DeliveryOutcome:
    common = dict(
        sha256=delivery.sha256, file_name=delivery.file_name, received_at=delivery.received_at,
        size_bytes=delivery.size_bytes, loaded_at=_now(),
    )
    t0 = time.perf_counter()
    try:
        frame, extra, malformed = read_delivery(delivery.path, delivery.file_name, source)
    except DeliveryRejected as rejected:
        t1 = time.perf_counter()
        quarantine = _rejected_rows(rejected.rows_delivered, rejected.reason)
        store.write_delivery(
            con, source, status="rejected", rows_delivered=rejected.rows_delivered, accepted=None,
            quarantine=quarantine, message=str(rejected), **common,
        )
        return DeliveryOutcome(delivery.file_name, delivery.sha256, "rejected", rejected.rows_delivered,
                               0, rejected.rows_delivered, str(rejected),
                               seconds_read=t1 - t0, seconds_store=time.perf_counter() - t1)
    t1 = time.perf_counter()
    validated = validate(frame, source)
    kept, duplicate_rows = split_duplicates(validated.accepted, source)
    orphans = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if subjects is not None:
        kept, orphans = _rows_outside_a_subject(kept, subjects, source)
    quarantine = pd.concat(
        [q for q in (_malformed_rows(malformed), validated.quarantine, duplicate_rows, orphans) if len(q)]
        or [pd.DataFrame(columns=QUARANTINE_COLUMNS)],
        ignore_index=True,
    )
    rows_delivered = len(frame) + len(malformed)
    n_quarantined = int(quarantine["row_number"].nunique())
    message = f"extra columns ignored: {', '.join(extra)}" if extra else None
    t2 = time.perf_counter()
    store.write_delivery(
        con, source, status="loaded", rows_delivered=rows_delivered, accepted=kept,
        quarantine=quarantine, message=message, **common,
    )
    return DeliveryOutcome(delivery.file_name, delivery.sha256, "loaded", rows_delivered, len(kept),
                           n_quarantined, message, seconds_read=t1 - t0, seconds_validate=t2 - t1,
                           seconds_store=time.perf_counter() - t2)


def load_source(con: duckdb.DuckDBPyConnection, source: Source, landing_dir: Path) -> list[DeliveryOutcome]:
    """Load the source's deliveries that are not yet recorded, in arrival order."""
    store.ensure_tables(con, source)
    subjects = None if source.name == "subjects" else known_subjects(con)
    recorded = store.seen(con, source.name)
    done = set(zip(recorded["delivery_sha256"], recorded["file_name"]))
    first = {
        sha: (name, rows)
        for sha, name, status, rows in recorded.itertuples(index=False)
        if status != "duplicate"
    }
    outcomes = []
    for delivery in list_deliveries(landing_dir, source.name):
        if (delivery.sha256, delivery.file_name) in done:
            continue
        if delivery.sha256 in first:
            original, rows = first[delivery.sha256]
            message = f"same bytes as {original}: its rows are loaded once, from there"
            store.write_delivery(
                con, source, sha256=delivery.sha256, file_name=delivery.file_name,
                received_at=delivery.received_at, size_bytes=delivery.size_bytes, status="duplicate",
                rows_delivered=rows, accepted=None, quarantine=None, message=message, loaded_at=_now(),
            )
            outcomes.append(DeliveryOutcome(delivery.file_name, delivery.sha256, "duplicate", rows, 0, 0, message))
            continue
        outcome = load_delivery(con, source, delivery, subjects)
        first[delivery.sha256] = (delivery.file_name, outcome.rows_delivered)
        outcomes.append(outcome)
    return outcomes
