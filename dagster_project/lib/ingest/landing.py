"""Delivery files of the landing folder (sources.md, "Where files land"; the studies and their
folders: lib/ingest/studies.py)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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


def delivery_paths(folder: Path) -> list[Path]:
    """The files of a delivery folder (`<landing>/[<study>/]<source or format>/`), by name: the one
    scan the ingest assets and the landing sensor share. Names starting with "." are uploads in
    progress (rsync, scp temp files): not yet a delivery. Any other name is one, whatever its
    suffix: one the reader cannot read, or a symlink, is rejected with a message, not ignored."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if not p.name.startswith(".") and (p.is_symlink() or p.is_file()))


def delivery_identity(path: Path) -> tuple[str, os.stat_result]:
    """(sha256, stat) of a delivery. A symlink is never followed (it could point outside the
    landing folder): it is identified by its link text."""
    if path.is_symlink():
        return hashlib.sha256(b"symlink:" + os.readlink(path).encode()).hexdigest(), path.lstat()
    return sha256_of(path), path.stat()


def list_deliveries(landing_dir: Path, source: str, folder: Path | None = None) -> list[Delivery]:
    """Every delivery file of a folder (default `<landing>/<source>`), in arrival order:
    modification time, then name; file names relative to the landing folder."""
    found = []
    for path in delivery_paths(folder if folder is not None else landing_dir / source):
        digest, stat = delivery_identity(path)
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


def new_deliveries(landing_dir: Path, folders: Iterable[Path], known: dict[str, list],
                   loaded: Iterable[str] = ()) -> tuple[dict[str, list], dict[str, str]]:
    """What arrived since `known` (the landing sensor's cursor) and is not among `loaded` (the
    sha256s the warehouse already recorded): (state, {new sha256: file name}), where state maps
    file name -> [size, mtime, sha256]. A file whose size and modification time are unchanged is
    not hashed again, so a look costs one directory listing when nothing arrived."""
    state: dict[str, list] = {}
    new: dict[str, str] = {}
    seen = {v[2] for v in known.values()} | set(loaded)
    for folder in folders:
        for path in delivery_paths(folder):
            name = path.relative_to(landing_dir).as_posix()
            stat = path.lstat()
            before = known.get(name)
            if before and before[0] == stat.st_size and before[1] == stat.st_mtime:
                state[name] = before
                continue
            digest, _ = delivery_identity(path)
            state[name] = [stat.st_size, stat.st_mtime, digest]
            if digest not in seen:
                new.setdefault(digest, name)
    return state, dict(sorted(new.items()))

