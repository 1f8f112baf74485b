"""Publication figures (matplotlib -> PNG bytes) from mart and analysis DataFrames (no Dagster).

One module per analysis, named as in ``lib/analysis/`` and ``defs/analysis/``: ``toxicity``,
``response``, ``survival``, ``cytokine_curves``, ``csf_pre_post``, ``intervention``. What they
share (PNG bytes, p-value text, palettes, panel helpers) is in ``render``; every figure the
assets write, with its caption and report order, is in ``catalogue``.
"""
