"""Load every new delivery of one source: read, validate, split duplicates, store.

A delivery already recorded (same bytes and name) is skipped, so running the load again, or
after a crash, changes nothing that was committed. The same bytes under another name are
recorded as a `duplicate` and change nothing else (sources.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.ingest import store
from dagster_project.ingest.duplicates import split_duplicates
from dagster_project.ingest.landing import Delivery, list_deliveries
from dagster_project.ingest.reader import DeliveryRejected, read_delivery
from dagster_project.ingest.validation import QUARANTINE_COLUMNS, validate
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


def known_subjects(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Subject ids of every accepted subjects row: rows of other sources must name one of them."""
    store.ensure_tables(con, SOURCES["subjects"])
    return {row[0] for row in con.execute("select distinct subject_id from raw.subjects").fetchall()}


def _unknown_subject_rows(kept: pd.DataFrame, subjects: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows naming a subject the warehouse has never received go to quarantine (`unknown_subject`).

    Our choice where the contract is silent: a measurement of nobody cannot enter a mart, and a
    later subjects delivery does not revive it (the site re-delivers the rows). Load subjects first.
    """
    unknown = ~kept["subject_id"].isin(subjects)
    quarantine = pd.DataFrame(
        {
            "row_number": kept.loc[unknown, "_row_number"].to_numpy(),
            "column_name": "subject_id",
            "rule": "unknown_subject",
            "value": kept.loc[unknown, "subject_id"].to_numpy(),
        }
    )
    return kept[~unknown], quarantine


def load_delivery(
    con: duckdb.DuckDBPyConnection, source: Source, delivery: Delivery, subjects: set[str] | None = None
) -> DeliveryOutcome:
    common = dict(
        sha256=delivery.sha256, file_name=delivery.file_name, received_at=delivery.received_at,
        size_bytes=delivery.size_bytes, loaded_at=_now(),
    )
    try:
        frame, extra, malformed = read_delivery(delivery.path, delivery.file_name, source)
    except DeliveryRejected as rejected:
        quarantine = _rejected_rows(rejected.rows_delivered, rejected.reason)
        store.write_delivery(
            con, source, status="rejected", rows_delivered=rejected.rows_delivered, accepted=None,
            quarantine=quarantine, message=str(rejected), **common,
        )
        return DeliveryOutcome(delivery.file_name, delivery.sha256, "rejected", rejected.rows_delivered,
                               0, rejected.rows_delivered, str(rejected))
    validated = validate(frame, source)
    kept, duplicate_rows = split_duplicates(validated.accepted, source)
    orphans = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if subjects is not None:
        kept, orphans = _unknown_subject_rows(kept, subjects)
    quarantine = pd.concat(
        [q for q in (_malformed_rows(malformed), validated.quarantine, duplicate_rows, orphans) if len(q)]
        or [pd.DataFrame(columns=QUARANTINE_COLUMNS)],
        ignore_index=True,
    )
    rows_delivered = len(frame) + len(malformed)
    n_quarantined = int(quarantine["row_number"].nunique())
    message = f"extra columns ignored: {', '.join(extra)}" if extra else None
    store.write_delivery(
        con, source, status="loaded", rows_delivered=rows_delivered, accepted=kept,
        quarantine=quarantine, message=message, **common,
    )
    return DeliveryOutcome(delivery.file_name, delivery.sha256, "loaded", rows_delivered, len(kept),
                           n_quarantined, message)


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
