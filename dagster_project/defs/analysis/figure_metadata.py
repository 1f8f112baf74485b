"""Turn a rendered figure into Dagster metadata: the PNG as a markdown image (a data URI) with
its catalogue caption, and the file it was saved to under data/figures/.

Dagster 1.13 has no image metadata type (``MetadataValue`` offers text, url, path, notebook,
json, md, table, ...). Its UI renders a markdown value in place only when it is shorter than
1,000 characters, which a PNG data URI never is; a longer one opens from "[Show Markdown]" in a
pop-up at most 80% of the window wide, showing the image at its pixel size (the UI's markdown
allows no raw HTML, so no width attribute). Hence one click, and figures no wider than
``figures.render.MAX_WIDTH_PX`` so that they fit that pop-up.
"""

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
