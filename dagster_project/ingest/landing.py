"""The landing folder: `<landing>/<source>/<delivery file>` (sources.md, "Where files land")."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

DELIVERY_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Delivery:
    source: str
    path: Path
    file_name: str  # relative to the landing folder, e.g. "vitals/2021-05-01_site01.csv"
    sha256: str
    received_at: datetime  # the file's modification time, UTC (naive, as DuckDB TIMESTAMP)
    size_bytes: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_deliveries(landing_dir: Path, source: str) -> list[Delivery]:
    """Every delivery file of a source, in arrival order: modification time, then name."""
    folder = landing_dir / source
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        # Names starting with "." are uploads in progress (rsync, scp temp files): not yet a delivery.
        if path.name.startswith("."):
            continue
        if path.is_symlink():
            # Never followed: it could point outside the landing folder. Identified by the link
            # text, and rejected by the reader with a message.
            stat = path.lstat()
            digest = hashlib.sha256(b"symlink:" + os.readlink(path).encode()).hexdigest()
        elif path.is_file():
            stat = path.stat()
            digest = sha256_of(path)
        else:
            continue
        found.append(
            Delivery(
                source=source,
                path=path,
                file_name=path.relative_to(landing_dir).as_posix(),
                sha256=digest,
                received_at=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc).replace(tzinfo=None),
                size_bytes=stat.st_size,
            )
        )
    return sorted(found, key=lambda d: (d.received_at, d.file_name))


def unknown_folders(landing_dir: Path, known: set[str]) -> list[str]:
    """Folders under the landing folder that are not a contract source: reported, not ingested."""
    if not landing_dir.is_dir():
        return []
    return sorted(p.name for p in landing_dir.iterdir() if p.is_dir() and p.name not in known)
