"""One ingest asset per contract source: new deliveries -> pandera -> raw tables + quarantine.

Each asset carries a blocking check that every delivered row was accepted or quarantined
(after byte-identical deliveries are set aside), with the counts as metadata.

Every asset here is in the `ingest` group (defs/stages.py), the source assets and the ingest log
alike: raw/deliveries and raw/quarantine are raw tables the ingest assets write in the same
transaction as the rows, so they sit with them, not in `audit` (the published dbt models built
from them, audit/deliveries and audit/quarantine).
"""



import dagster as dg
import duckdb
import pandas as pd

from dagster_project.defs.stages import INGEST
from dagster_project.lib.ingest.load import load_source
from dagster_project.lib.ingest.studies import read_landing
from dagster_project.lib.ingest.store import record_studies
from dagster_project.defs.table_metadata import frame_table
from dagster_project.lib.ingest.store import VALUE_CHARS, ensure_tables, latest_deliveries, latest_quarantined
from dagster_project.settings import Settings
from schemas.contract import SOURCES, Source

ACCOUNTING_CHECK = "rows_accounted"
# Metadata of a source's materialization: rows of this run's deliveries accepted (`warehouse run` adds them up).
NEW_ROWS_ACCEPTED = "new_rows_accepted"
STUDIES_KEY = dg.AssetKey(["raw", "studies"])

_ACCOUNTING_SQL = """
select count(*) filter (where status <> 'duplicate') as deliveries,
       coalesce(sum(rows_delivered) filter (where status <> 'duplicate'), 0) as delivered,
       coalesce(sum(rows_accepted), 0) as accepted,
       coalesce(sum(rows_quarantined), 0) as quarantined,
       coalesce(sum(rows_out_of_scope), 0) as out_of_scope,
       count(*) filter (where status = 'duplicate') as duplicate_deliveries,
       count(*) filter (where status = 'rejected') as rejected_deliveries
from raw.deliveries where source = ?
"""


def accounting(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, int]:
    row = con.execute(_ACCOUNTING_SQL, [source]).fetchone()
    keys = ("deliveries", "delivered", "accepted", "quarantined", "out_of_scope", "duplicate_deliveries",
            "rejected_deliveries")
    return {k: int(v) for k, v in zip(keys, row)}


def column_schema(source: Source) -> dg.TableSchema:
    """raw.<source> columns, each described by the pandera rules that guard it."""
    columns = []
    for name, column in source.schema.columns.items():
        rules = ", ".join(str(check.error or check.name) for check in column.checks) or "no value rule"
        presence = "required" if column.required else "optional column"
        nulls = "may be empty" if column.nullable else "never empty"
        columns.append(
            dg.TableColumn(name, source.raw_type(name).lower(), description=f"{presence}; {nulls}; {rules}")
        )
    columns.append(dg.TableColumn("_delivery_sha256", "varchar", description="the delivery this row came from"))
    columns.append(dg.TableColumn("_row_number", "bigint", description="1 = first data row of the file"))
    return dg.TableSchema(columns=columns)


def _ingest_asset(source: Source) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", source.name])

    @dg.asset(
        key=key,
        group_name=INGEST,
        kinds={"duckdb", "pandera"},
        description=(
            f"Deliveries of `{source.name}` from the landing folder, validated by "
            f"`schemas.{source.model.__module__.split('.')[-1]}.{source.model.__name__}` and stored in "
            f"raw.{source.name} (accepted rows) and raw.quarantine (rejected rows, with the rule). "
            f"Natural key: {', '.join(source.natural_key)}."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                ACCOUNTING_CHECK,
                asset=key,
                blocking=True,
                description="Every delivered row is accepted or quarantined, and every record of a foreign file "
                "mapped, quarantined or out of scope: delivered = accepted + quarantined + out of scope.",
            )
        ],
        metadata={"dagster/column_schema": column_schema(source), "natural_key": ", ".join(source.natural_key)},
        retry_policy=dg.RetryPolicy(max_retries=3, delay=5),
        # Rows of every other source must name a known subject, so subjects load first (and
        # register the foreign files, lib/ingest/load.py).
        # A Bio-Plex plate's cytokines find their subjects through the samples manifest.
        deps=[STUDIES_KEY] if source.name == "subjects" else [dg.AssetKey(["raw", "subjects"])] + (
            [dg.AssetKey(["raw", "samples"])] if source.has_analyte else []),
    )
    def ingest(context: dg.AssetExecutionContext, settings: Settings):
        landing = read_landing(settings.landing, settings.default_study)
        with duckdb.connect(settings.db_path, config=settings.duckdb_config()) as con:
            outcomes = load_source(con, source, landing)
            totals = accounting(con, source.name)
            table_rows = con.execute(f'select count(*) from raw."{source.name}"').fetchone()[0]
        for o in outcomes:
            if o.status == "rejected":
                context.log.warning(f"rejected delivery {o.message}")
        new = [o for o in outcomes if o.status == "loaded"]
        yield dg.MaterializeResult(
            metadata={
                "new_deliveries": len(outcomes),
                NEW_ROWS_ACCEPTED: sum(o.rows_accepted for o in new),
                "new_rows_quarantined": sum(o.rows_quarantined for o in outcomes),
                "deliveries": frame_table(pd.DataFrame(
                    [(o.file_name, o.status, o.rows_delivered, o.rows_accepted, o.rows_quarantined) for o in outcomes],
                    columns=["file", "status", "delivered", "accepted", "quarantined"],
                )) if outcomes else dg.MetadataValue.text("no new deliveries"),
                "dagster/row_count": int(table_rows),
                # Wall seconds of this materialization's new deliveries, by phase (where ingest time goes;
                # benchmarks/ reads these three names).
                "seconds_read": round(sum(o.seconds_read for o in outcomes), 3),
                "seconds_validate": round(sum(o.seconds_validate for o in outcomes), 3),
                "seconds_store": round(sum(o.seconds_store for o in outcomes), 3),
                **{f"total_{k}": v for k, v in totals.items()},
            }
        )
        yield dg.AssetCheckResult(
            check_name=ACCOUNTING_CHECK,
            passed=totals["delivered"] == totals["accepted"] + totals["quarantined"] + totals["out_of_scope"],
            metadata=totals,
        )

    return ingest


@dg.asset(
    key=STUDIES_KEY,
    group_name=INGEST,
    kinds={"duckdb", "pydantic"},
    description="raw.studies: every study of the landing folder (studies-and-inputs.md) with the settings of "
    "its study.yml, validated by `schemas.study.StudyConfig`; a study whose file does not validate is "
    "`invalid`, with the error naming the file and the key, and its deliveries wait in the landing folder.",
)
def studies(context: dg.AssetExecutionContext, settings: Settings):
    landing = read_landing(settings.landing, settings.default_study)
    with duckdb.connect(settings.db_path, config=settings.duckdb_config()) as con:
        record_studies(con, landing)
    for problem in landing.invalid:
        context.log.error(f"study {problem.study_id} not loaded: {problem.message}")
    if landing.unknown:
        context.log.warning(f"not read (neither a source, a study nor an adapter format): {list(landing.unknown)}")
    return dg.MaterializeResult(metadata={
        "studies": frame_table(pd.DataFrame(
            [(s.study_id, s.config.title, s.config.time_mode, s.study_file or "(none)", "valid", "") for s in landing.studies]
            + [(p.study_id, None, None, p.study_file, "invalid", p.message) for p in landing.invalid],
            columns=["study", "title", "time mode", "study file", "status", "error"])),
        "invalid_studies": len(landing.invalid),
        "not_read": ", ".join(landing.unknown) or "none",
    })


ingest_assets = [studies, *(_ingest_asset(source) for source in SOURCES.values())]


_INGEST_KEYS = [a.key for a in ingest_assets]


_DELIVERY_COLUMNS = {
    "study_id": "study", "file_name": "file", "received_at": "received (UTC)", "status": "status", "rows_delivered": "delivered",
    "rows_accepted": "accepted", "rows_quarantined": "quarantined", "message": "message",
}
_QUARANTINE_COLUMNS = {
    "study_id": "study", "file_name": "file", "row_number": "row", "locator": "where", "column_name": "column",
    "rule": "rule", "value": "value",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", "deliveries"],
            group_name=INGEST,
            kinds={"duckdb"},
            deps=_INGEST_KEYS,
            description="raw.deliveries: one row per delivery file seen (loaded, duplicate, rejected), written by "
            "the ingest assets. Metadata `latest_deliveries`: the latest files, one row each.",
        ),
        dg.AssetSpec(
            ["raw", "out_of_scope"],
            group_name=INGEST,
            kinds={"duckdb"},
            deps=_INGEST_KEYS,
            description="raw.out_of_scope: one row per record of a foreign file (an adapter's) that feeds no "
            "contract row, with the reason, written by the ingest assets. Metadata `by_reason`: the counts.",
        ),
        dg.AssetSpec(
            ["raw", "quarantine"],
            group_name=INGEST,
            kinds={"duckdb"},
            deps=_INGEST_KEYS,
            description="raw.quarantine: one row per rejected row x broken rule (file, row, column, rule, value), "
            "written by the ingest assets. Metadata `latest_rows`: the latest quarantined rows (values as "
            f"delivered, of contract columns only, cut to {VALUE_CHARS} characters); `by_rule`: the counts.",
        ),
    ]
)
def delivery_log(context: dg.AssetExecutionContext, settings: Settings):
    """Summarise the ingest log after every ingest (the tables themselves are written per delivery)."""
    with duckdb.connect(settings.db_path, config=settings.duckdb_config()) as con:
        for source in SOURCES.values():  # a fresh warehouse with no deliveries still has the tables
            ensure_tables(con, source)
        statuses = dict(con.execute("select status, count(*) from raw.deliveries group by all").fetchall())
        rules = con.execute("select rule, count(*) from raw.quarantine group by all order by 2 desc").fetchall()
        reasons = con.execute("select study_id, reason, count(*) from raw.out_of_scope group by all "
                              "order by 3 desc, 1, 2 limit 100").fetchall()
        deliveries = latest_deliveries(con)
        quarantined = latest_quarantined(con)
    unknown = list(read_landing(settings.landing, settings.default_study).unknown)
    if unknown:
        context.log.warning(f"not read (neither a source, a study nor an adapter format): {unknown}")
    yield dg.MaterializeResult(
        asset_key=["raw", "deliveries"],
        metadata={
            "dagster/row_count": deliveries.total,
            **{f"deliveries_{k}": int(v) for k, v in statuses.items()},
            "unknown_folders": ", ".join(unknown) or "none",
            "latest_deliveries": frame_table(deliveries.rows, _DELIVERY_COLUMNS),
            "latest_deliveries_shown": f"{deliveries.caption.capitalize()} delivery files, latest received first",
        },
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "out_of_scope"],
        metadata={
            "dagster/row_count": sum(n for _, _, n in reasons),
            "by_reason": frame_table(pd.DataFrame(reasons, columns=["study", "reason", "records"])),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "quarantine"],
        metadata={
            "dagster/row_count": quarantined.total,
            "by_rule": frame_table(pd.DataFrame(rules, columns=["rule", "rows"])),
            "latest_rows": frame_table(quarantined.rows, _QUARANTINE_COLUMNS),
            "latest_rows_shown": f"{quarantined.caption.capitalize()} quarantined rows, latest first (row 1 = the "
            f"file's first data row; values as delivered, cut to {VALUE_CHARS} characters)",
        },
    )
