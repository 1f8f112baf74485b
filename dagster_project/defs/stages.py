"""The asset groups of the Dagster graph: exactly the stages a delivery flows through, in the order
the flow reads (docs/architecture.md).

| group | assets |
|---|---|
| `ingest` | raw/<source>, one per contract source, and raw/deliveries, raw/quarantine (the ingest log the ingest assets write) |
| `audit` | audit/* (dbt models/audit/: deliveries, quarantine, superseded rows as analysts read them) |
| `staging` | staging/stg_* (dbt models/staging/) |
| `intermediate` | staging/int_* (dbt models/intermediate/; built in the staging schema, hence the key) |
| `reference` | staging/<seed> (dbt seeds: unit conversions, steroid equivalents, response ranks, O2 devices) |
| `marts` | marts/* (dbt models/marts/) |
| `analysis` | analysis/* (statistics tables and figures) |
| `serving` | serving/warehouse (the analysts' copy) |
| `reports` | reports/html_report, reports/dbt_docs (built from the serving copy; their own stage in the architecture) |

raw/deliveries and raw/quarantine are in `ingest`, not `audit`: they are raw tables written by the
ingest assets in the same transaction as the rows; `audit` is the published dbt view of them.
"""

INGEST = "ingest"
AUDIT = "audit"
STAGING = "staging"
INTERMEDIATE = "intermediate"
REFERENCE = "reference"
MARTS = "marts"
ANALYSIS = "analysis"
SERVING = "serving"
REPORTS = "reports"

STAGES = (INGEST, AUDIT, STAGING, INTERMEDIATE, REFERENCE, MARTS, ANALYSIS, SERVING, REPORTS)

# What `warehouse run` shows a person while it runs (dagster_project/run_display.py): a step's stage is
# that of its assets' groups (dbt builds five groups in its one step); a step that only runs checks
# (a Great Expectations suite) is `checks`. In the order a run goes through them.
CHECKS_STAGE = "checks"
RUN_STAGES: dict[str, tuple[str, ...]] = {
    "ingest": (INGEST,),
    "dbt build": (AUDIT, STAGING, INTERMEDIATE, REFERENCE, MARTS),
    "analysis": (ANALYSIS,),
    CHECKS_STAGE: (),
    "publish": (SERVING,),
    "report": (REPORTS,),
}
