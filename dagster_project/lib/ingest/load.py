"""Load every new delivery of one source, study by study: read, validate, split duplicates, store.

A delivery already recorded (same bytes and name) is skipped, so running the load again, or
after a crash, changes nothing that was committed. The same bytes under another name are
recorded as a `duplicate` and change nothing else (sources.md).

Each study's deliveries are validated by its own schema (its time mode and declared
vocabularies, Source.schema_for) and checked against its own subjects: a subject is
(study, subject_id). Foreign files (`<study>/mapped/`) are read by their adapter into contract
rows, which then take the same path; see `_load_foreign`.
"""

from __future__ import annotations

import json
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
from dagster_project.lib.ingest.reader import TEXT, DeliveryRejected, read_delivery
from dagster_project.lib.ingest.studies import Landing, Study
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


def known_subjects(con: duckdb.DuckDBPyConnection, study_id: str) -> KnownSubjects:
    """Subject id -> enrollment date (latest delivered version) of every accepted subjects row of a study."""
    store.ensure_tables(con, SOURCES["subjects"])
    latest = con.execute(
        """select subject_id, arg_max(enrolled_on, (_received_at, _file_name, _row_number)) as enrolled_on
           from raw.subjects where _study_id = ? group by subject_id""",
        [study_id],
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
    con: duckdb.DuckDBPyConnection, source: Source, delivery: Delivery, subjects: KnownSubjects | None = None,
    study: Study | None = None,
) -> DeliveryOutcome:
    common = dict(
        study_id=study.study_id if study else "default",
        sha256=delivery.sha256, file_name=delivery.file_name, received_at=delivery.received_at,
        size_bytes=delivery.size_bytes, loaded_at=_now(),
    )
    t0 = time.perf_counter()
    try:
        required = None
        if study is not None:
            schema = source.schema_for(**study.vocabulary)
            required = [name for name, column in schema.columns.items() if column.required]
        frame, extra, malformed = read_delivery(delivery.path, delivery.file_name, source, required)
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
    validated = _validate(frame, source, study)
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


def _validate(frame: pd.DataFrame, source: Source, study: Study | None, day_precision: bool = False):
    if study is None:
        return validate(frame, source)
    schema = source.schema_for(**study.vocabulary, day_precision=day_precision)
    return validate(frame, source, schema, study.config.analyte_synonyms())


def load_source(con: duckdb.DuckDBPyConnection, source: Source, landing: Landing | Path) -> list[DeliveryOutcome]:
    """Load the source's deliveries that are not yet recorded, study by study, in arrival order.
    `landing`: the studies of the landing folder (a bare path: its default study only, as read by
    read_landing with the default id)."""
    from dagster_project.lib.ingest.studies import read_landing

    if isinstance(landing, Path):
        landing = read_landing(landing, "default")
    store.ensure_tables(con, source)
    outcomes = []
    for study in landing.studies:
        outcomes += _load_study_source(con, source, study, landing.root)
        outcomes += _load_foreign(con, source, study, landing.root)
    return outcomes


def _load_study_source(con: duckdb.DuckDBPyConnection, source: Source, study: Study, landing_dir: Path
                       ) -> list[DeliveryOutcome]:
    subjects = None if source.name == "subjects" else known_subjects(con, study.study_id)
    recorded = store.seen(con, source.name, study.study_id)
    done = set(zip(recorded["delivery_sha256"], recorded["file_name"]))
    first = {
        sha: (name, rows)
        for sha, name, status, rows in recorded.itertuples(index=False)
        if status != "duplicate"
    }
    outcomes = []
    for delivery in list_deliveries(landing_dir, source.name, study.source_folder(source.name)):
        if (delivery.sha256, delivery.file_name) in done:
            continue
        if delivery.sha256 in first:
            original, rows = first[delivery.sha256]
            message = f"same bytes as {original}: its rows are loaded once, from there"
            store.write_delivery(
                con, source, study_id=study.study_id, sha256=delivery.sha256, file_name=delivery.file_name,
                received_at=delivery.received_at, size_bytes=delivery.size_bytes, status="duplicate",
                rows_delivered=rows, accepted=None, quarantine=None, message=message, loaded_at=_now(),
            )
            outcomes.append(DeliveryOutcome(delivery.file_name, delivery.sha256, "duplicate", rows, 0, 0, message))
            continue
        outcome = load_delivery(con, source, delivery, subjects, study)
        first[delivery.sha256] = (delivery.file_name, outcome.rows_delivered)
        outcomes.append(outcome)
    return outcomes


# ---- foreign files (adapters) -------------------------------------------------------------------
# A foreign file (`<study>/<format>/`, read by lib/ingest/foreign.py) feeds several sources. The
# `subjects` asset (which every other ingest asset follows) registers each new foreign file: a
# raw.deliveries row for its subjects part with the sources the file feeds (`feeds`), or the
# file's rejection (a mapping that does not fit it, a setting the study lacks, a file its reader
# cannot open) with the reason; each other source's asset then loads its own part. Every part is
# recorded with the digest of what its reading depended on (the mapping, the adapter settings,
# the EX file, the samples manifest): when that changes, the part is read again and replaces its
# earlier rows.


def _foreign_log(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    return con.execute(
        """select delivery_sha256, file_name, source, status, feeds, reader_sha256
           from raw.deliveries where study_id = ? and adapter is not null""",
        [study_id],
    ).df()


def _mapped_part(mapped, source: Source) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(text frame in read_delivery's shape + _file_row, _locator, _seq; out-of-scope rows; adapter
    quarantine rows) of one source's part of a foreign file. `_row_number` numbers the part's
    records (several records may share a file row); `_file_row` is the file's row; `_seq` the
    SDTM record's --SEQ (part of the key: several readings of one test at one time are normal)."""
    rows = mapped.rows.get(source.name)
    rows = rows.reset_index(drop=True) if rows is not None else pd.DataFrame(columns=["_row_number", "_locator"])
    frame = pd.DataFrame(index=rows.index)
    for name in source.columns:
        values = rows[name] if name in rows else pd.Series(pd.NA, index=rows.index)
        frame[name] = values.astype(object).where(values.notna(), None).astype(TEXT)
    frame["_extra"] = None
    frame["_row_number"] = np.arange(1, len(rows) + 1, dtype="int64")
    frame["_file_row"] = rows["_row_number"].astype("int64").to_numpy() if len(rows) else np.array([], "int64")
    frame["_locator"] = rows["_locator"].astype(object).to_numpy() if len(rows) else np.array([], object)
    if "_seq" in rows:
        frame["_seq"] = rows["_seq"].astype(object).where(rows["_seq"].notna(), None).astype(TEXT)
    out = mapped.out_of_scope
    out = out[out["source"] == source.name][["row_number", "locator", "reason"]]
    quarantined = mapped.quarantine
    quarantined = quarantined[quarantined["source"] == source.name]
    return frame, out, quarantined


def _load_foreign(con: duckdb.DuckDBPyConnection, source: Source, study: Study, landing_dir: Path
                  ) -> list[DeliveryOutcome]:
    from dagster_project.lib.ingest.foreign import READ_ERRORS, file_metadata, reader
    from dagster_project.lib.ingest.studies import ADAPTER_FORMATS

    outcomes = []
    for fmt in ADAPTER_FORMATS:
        files = list_deliveries(landing_dir, fmt, study.folder / fmt)
        if not files:
            continue
        how = reader(con, fmt, study, landing_dir)
        log = _foreign_log(con, study.study_id)
        for delivery in files:
            mine = log[(log["delivery_sha256"] == delivery.sha256) & (log["file_name"] == delivery.file_name)]
            part = mine[mine["source"] == source.name]
            if len(part) and (part["reader_sha256"] == how.digest).all():
                continue  # recorded, read as it would be read now
            if source.name != "subjects":
                registered = mine[(mine["source"] == "subjects") & (mine["status"] == "loaded")]
                if registered.empty or source.name not in str(registered["feeds"].iloc[0]).split(","):
                    continue  # not registered (rejected, or subjects not yet run) or not fed by this file
            common = dict(study_id=study.study_id, sha256=delivery.sha256, file_name=delivery.file_name,
                          received_at=delivery.received_at, size_bytes=delivery.size_bytes, loaded_at=_now(),
                          adapter=fmt)
            t0 = time.perf_counter()
            try:
                read = how.read(delivery)
            except READ_ERRORS as exc:
                if source.name == "subjects":
                    store.write_delivery(con, source, status="rejected", rows_delivered=0, accepted=None,
                                         quarantine=None, message=str(exc), reader_sha256=how.digest, **common)
                    outcomes.append(DeliveryOutcome(delivery.file_name, delivery.sha256, "rejected", 0, 0, 0, str(exc)))
                continue
            fed = sorted({*read.rows, *read.out_of_scope["source"], *read.quarantine["source"], *how.feeds})
            frame, out, adapter_quarantine = _mapped_part(read, source)
            t1 = time.perf_counter()
            metadata = file_metadata(read)
            outcome = _load_foreign_part(
                con, source, study, frame, out, adapter_quarantine, common, read.data_rows,
                feeds=fed if source.name == "subjects" else None, reader_sha256=how.digest,
                day_precision=how.day_precision, metadata=metadata)
            outcomes.append(outcome.__class__(**{**outcome.__dict__, "seconds_read": t1 - t0}))
    return outcomes


def _load_foreign_part(con, source: Source, study: Study, frame: pd.DataFrame, out: pd.DataFrame,
                       adapter_quarantine: pd.DataFrame, common: dict, data_rows: int,
                       feeds: list[str] | None, reader_sha256: str | None, day_precision: bool = False,
                       metadata: dict | None = None) -> DeliveryOutcome:
    t1 = time.perf_counter()
    subjects = None if source.name == "subjects" else known_subjects(con, study.study_id)
    validated = _validate(frame, source, study, day_precision)
    kept, duplicate_rows = split_duplicates(validated.accepted, source)
    orphans = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if subjects is not None:
        kept, orphans = _rows_outside_a_subject(kept, subjects, source)
    n_records = len(frame) + len(out) + len(adapter_quarantine)
    file_row = dict(zip(frame["_row_number"], frame["_file_row"]))
    locator = dict(zip(frame["_row_number"], frame["_locator"]))
    # A long export repeats per-subject facts on every row: an identical record is the same fact
    # delivered again, counted once and the copies out of scope (a contract delivery quarantines
    # them: there a copy is a row the site wrote twice).
    copies = duplicate_rows[duplicate_rows["rule"] == "identical_duplicate"]
    duplicate_rows = duplicate_rows[duplicate_rows["rule"] != "identical_duplicate"]
    if len(copies):
        out = pd.concat([out, pd.DataFrame({
            "row_number": copies["row_number"].map(file_row).to_numpy(),
            "locator": copies["row_number"].map(locator).to_numpy(),
            "reason": "identical to an earlier record of this file (counted once)"})], ignore_index=True)
    quarantine = pd.concat(
        [q for q in (validated.quarantine, duplicate_rows, orphans) if len(q)]
        or [pd.DataFrame(columns=QUARANTINE_COLUMNS)], ignore_index=True,
    )
    n_quarantined = int(quarantine["row_number"].nunique()) + len(adapter_quarantine)
    # Shown and stored by the file's own row and locator, never the part's record numbers.
    quarantine = quarantine.assign(locator=quarantine["row_number"].map(locator),
                                   row_number=quarantine["row_number"].map(file_row))
    if len(adapter_quarantine):
        quarantine = pd.concat([quarantine, adapter_quarantine[["row_number", "locator", "column_name", "rule", "value"]]],
                               ignore_index=True)
    kept = kept.assign(_row_number=kept["_row_number"].map(file_row).astype("int64"))
    message = f"feeds {', '.join(feeds)}" if feeds is not None else None
    if metadata:
        message = "; ".join(filter(None, [message, "file: " + json.dumps(metadata, sort_keys=True, default=str)]))
    t2 = time.perf_counter()
    store.write_delivery(con, source, status="loaded", rows_delivered=n_records, accepted=kept,
                         quarantine=quarantine, message=message, n_quarantined=n_quarantined,
                         out_of_scope=out, data_rows=data_rows, reader_sha256=reader_sha256,
                         feeds=",".join(feeds) if feeds is not None else None, **common)
    return DeliveryOutcome(common["file_name"], common["sha256"], "loaded", n_records, len(kept), n_quarantined,
                           message, seconds_validate=t2 - t1, seconds_store=time.perf_counter() - t2)
