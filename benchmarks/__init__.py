"""Tools that measure the warehouse from outside; not part of the product (not in the wheel).

    uv run python -m benchmarks.warehouse_bench --subjects 1000,3000,10000 --incremental   (or `make bench`)
"""
