"""Data quality helpers without Dagster: Great Expectations suites run over DataFrames."""
