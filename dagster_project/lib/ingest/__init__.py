"""Loading deliveries into the warehouse, without Dagster: find, read, validate, store.

landing.py   which delivery files are there (sha256, modification time)
reader.py    one file -> a frame of text cells with row numbers (or a DeliveryRejected)
validation.py  pandera, lazily, -> accepted rows + quarantine rows
duplicates.py  identical and conflicting rows inside one delivery
store.py     the raw, quarantine and delivery-log tables in DuckDB, one transaction per delivery
load.py      the steps above for one source
"""
