"""Turn a rendered figure into Dagster metadata: the PNG inline (the asset page shows it) and
the file it was saved to under data/figures/."""

from __future__ import annotations

import base64
from pathlib import Path

import dagster as dg


def figure_metadata(png: bytes, path: Path, caption: str = "") -> dict[str, dg.MetadataValue]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    text = f"![{path.stem}](data:image/png;base64,{encoded})"
    if caption:
        text += f"\n\n{caption}"
    return {
        f"figure_{path.stem}": dg.MetadataValue.md(text),
        f"figure_{path.stem}_path": dg.MetadataValue.path(str(path)),
    }
