"""Pure functions that compute the `analysis` schema tables from mart DataFrames (no Dagster)."""
