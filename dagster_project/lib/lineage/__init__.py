"""Row-level lineage for readers: `warehouse explain` (explain.py builds the document, render.py
prints it)."""
