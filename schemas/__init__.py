"""The source contract as code: one pandera DataFrameModel per delivery source.

`contract.SOURCES` is the registry the ingest assets iterate over; the models in
`clinical`, `serum` and `csf` are the user-facing copy of `../shared/spec/sources.md`.
"""
