"""Turn a rendered figure into Dagster metadata: the PNG as a markdown image (a data URI) with
its catalogue caption, and the file it was saved to under data/figures/<study_id>/.

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

from dagster_project.figures.catalogue import caption, explain_hint


def figure_metadata(png: bytes, folder: Path, stem: str, note: str = "", study: str | None = None
                    ) -> dict[str, dg.MetadataValue]:
    """Save ``png`` as ``folder/<stem>.png`` (``folder``: the study's, ``<figures dir>/<study_id>``)
    and describe it by its caption in :mod:`dagster_project.figures.catalogue` (KeyError for a
    stem not catalogued) followed by ``note``, what this run adds (points drawn, LLNs, subjects
    without a pair ...). ``study``: the study to name when the warehouse holds several (keys
    ``figure_<stem> (<study>)``, the text starting with the study); None keeps ``figure_<stem>``."""
    text = " ".join(part.strip() for part in (f"Study {study}." if study else "", caption(stem), note,
                                              explain_hint(stem)) if part.strip())
    path = folder / f"{stem}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    suffix = f" ({study})" if study else ""
    return {
        f"figure_{stem}{suffix}": dg.MetadataValue.md(f"![{stem}](data:image/png;base64,{encoded})\n\n{text}"),
        f"figure_{stem}_path{suffix}": dg.MetadataValue.path(str(path)),
    }
