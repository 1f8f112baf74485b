"""How a study's foreign files are read: one reader per adapter format (lib/adapters/).

A study's `<study>/<format>/` folder holds files of that format. `reader(con, format, study,
landing_dir)` gives what the loader needs to read one of them: the function that turns a file into
contract rows (a MappedFile), and the digest of everything that reading depends on besides the
file's bytes (the mapping, the study's adapter settings, the SDTM EX file that dates the
infusions, the Bio-Plex samples manifest). A file part recorded under another digest is read again.

A setting the format needs and the study lacks is raised when a file is read (ForeignFileError and
the adapters' own errors, READ_ERRORS), so the loader records that file as rejected, with the
message, and the study's other files still load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.lib.adapters.bioplex import read_bioplex
from dagster_project.lib.adapters.mapped import MappedFile, MappingError, load_mapping, read_mapped
from dagster_project.lib.adapters.sdtm import SdtmError, infusion_dates, read_dataset, read_sdtm
from dagster_project.lib.ingest.landing import Delivery, delivery_paths, sha256_of
from dagster_project.lib.ingest.reader import DeliveryRejected
from dagster_project.lib.ingest.studies import ADAPTER_FORMATS, Study


class ForeignFileError(ValueError):
    """A study that does not say how to read its files of a format; names study.yml and the key."""


READ_ERRORS = (ForeignFileError, MappingError, SdtmError, DeliveryRejected, OSError, ValueError)


@dataclass(frozen=True)
class Reader:
    adapter: str
    digest: str
    read: Callable[[Delivery], MappedFile]
    # sources a file of this format may feed whatever its content (a Bio-Plex plate's results go
    # by the manifest, which may change): their parts are loaded even when empty
    feeds: tuple[str, ...] = ()
    day_precision: bool = False  # datetimes may be a date alone (a reading of that day, time unknown)


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _settings(study: Study, fmt: str):
    settings = getattr(study.config.adapters, fmt)
    if settings is None and fmt != "bioplex":
        raise ForeignFileError(f"{study.study_file or study.study_id + '/study.yml'}: adapters.{fmt}: the study "
                               f"names no {fmt} settings, so its {fmt}/ files cannot be read")
    return settings


def _mapped(study: Study, landing_dir: Path) -> Reader:
    adapter = study.config.adapters.mapped
    path = study.folder / adapter.mapping if adapter else None

    def read(delivery: Delivery) -> MappedFile:
        _settings(study, "mapped")
        if not path.is_file():
            raise ForeignFileError(f"{study.study_file}: adapters.mapped.mapping: {adapter.mapping} is not a file "
                                   f"of the study folder")
        shown = path.relative_to(landing_dir).as_posix()
        return read_mapped(delivery.path, delivery.file_name, load_mapping(path, shown), shown)

    return Reader("mapped", _digest(sha256_of(path) if path and path.is_file() else None), read)


def _sdtm(study: Study, landing_dir: Path) -> Reader:
    """SDTM: DM needs each subject's infusion date from the study's EX file (infusion_from: ex),
    so every file's reading depends on the EX file's bytes too."""
    settings = study.config.adapters.sdtm
    folder = study.folder / "sdtm"
    ex_files = [p for p in delivery_paths(folder) if p.stem.lower() == "ex"]

    @cache
    def infusions() -> dict[str, str | None] | None:
        if settings is None or settings.infusion_from != "ex" or not ex_files:
            return None
        dates: dict[str, str | None] = {}
        for path in ex_files:  # an .xpt and a .json of EX give the same dates
            dates.update(infusion_dates(path, path.relative_to(landing_dir).as_posix(), settings))
        return dates

    def read(delivery: Delivery) -> MappedFile:
        config = _settings(study, "sdtm")
        needs_dates = read_dataset(delivery.path, delivery.file_name).domain == "DM"
        return read_sdtm(delivery.path, delivery.file_name, config, study.config.time_mode,
                         infusions() if needs_dates else None)

    digest = _digest(settings.model_dump() if settings else None, study.config.time_mode,
                     [sha256_of(p) for p in ex_files])
    return Reader("sdtm", digest, read, day_precision=True)


def current_manifest(con: duckdb.DuckDBPyConnection, study_id: str) -> pd.DataFrame:
    """The study's current `samples` rows (the latest delivered version of each label)."""
    from dagster_project.lib.ingest.store import ensure_tables
    from schemas.contract import SOURCES

    ensure_tables(con, SOURCES["samples"])
    return con.execute(
        """select sample_label, subject_id, specimen, collected_at, cast(study_day as varchar) as study_day
           from raw.samples where _study_id = ?
           qualify row_number() over (partition by upper(trim(sample_label))
                                      order by _received_at desc, _file_name desc, _row_number desc) = 1
           order by sample_label""",
        [study_id],
    ).df()


def _bioplex(con: duckdb.DuckDBPyConnection, study: Study) -> Reader:
    settings = study.config.adapters.bioplex
    manifest = current_manifest(con, study.study_id)

    def read(delivery: Delivery) -> MappedFile:
        return read_bioplex(delivery.path, delivery.file_name, settings, manifest,
                            analyte_synonyms=study.config.analyte_synonyms())

    digest = _digest(settings.model_dump() if settings else None, study.config.analytes,
                     manifest.to_csv(index=False))
    return Reader("bioplex", digest, read, feeds=("serum_cytokines", "csf_cytokines"))


def reader(con: duckdb.DuckDBPyConnection, fmt: str, study: Study, landing_dir: Path) -> Reader:
    if fmt == "mapped":
        return _mapped(study, landing_dir)
    if fmt == "sdtm":
        return _sdtm(study, landing_dir)
    if fmt == "bioplex":
        return _bioplex(con, study)
    raise ValueError(f"no adapter for format {fmt!r} (formats: {', '.join(ADAPTER_FORMATS)})")


def file_metadata(read: MappedFile) -> dict | None:
    """Facts about the file an adapter reports (a Bio-Plex plate's acquisition, reader serial)."""
    return getattr(read, "metadata", None) or None
