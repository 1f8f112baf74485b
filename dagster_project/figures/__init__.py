"""Publication figures (matplotlib -> PNG bytes) from mart and analysis DataFrames (no Dagster)."""
