"""Adapters: foreign delivery formats into contract rows, without Dagster (studies-and-inputs.md).

mapped.py   a trial team's own CSV or Excel export, described once by a YAML mapping file
"""
