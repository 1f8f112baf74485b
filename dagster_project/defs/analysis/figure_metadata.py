"""Turn a rendered figure into Dagster metadata: the PNG inline (the asset page shows it) with
its catalogue caption, and the file it was saved to under data/figures/."""

from __future__ import annotations

import base64
from pathlib import Path

import dagster as dg

from dagster_project.figures.catalogue import caption


def figure_metadata(png: bytes, folder: Path, stem: str, note: str = "") -> dict[str, dg.MetadataValue]:
    """Save ``png`` as ``folder/<stem>.png`` and describe it by its caption in
    :mod:`dagster_project.figures.catalogue` (KeyError for a stem not catalogued) followed by
    ``note``, what this run adds (points drawn, LLNs, subjects without a pair ...)."""
    text = " ".join(part.strip() for part in (caption(stem), note) if part.strip())
    path = folder / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    return {
        f"figure_{stem}": dg.MetadataValue.md(f"![{stem}](data:image/png;base64,{encoded})\n\n{text}"),
        f"figure_{stem}_path": dg.MetadataValue.path(str(path)),
    }
