"""Row-level lineage (issue 17): the tables `audit.lineage` links and the key of one of their rows.

`audit.lineage` (dbt/models/audit/audit_lineage.sql) has one row per edge from a value of a row
(target_table, target_key, target_column) to what decided it: another lineage target
(upstream_table, upstream_key, upstream_column) or a delivered row (upstream_table `raw.<source>`,
delivery_sha256, file_name, row_number, record_seq). A key is text, `col=value|col=value` over
the columns below (after study_id, which is its own column); dbt builds it with `key_sql`
(passed as the dbt var `lineage_key_sql`) and `warehouse explain` computes the key of the rows it
matched with the same function, so the format is written here only.

Dependency-free: dbt_project vars and the explain command import it.
"""

from __future__ import annotations

# table -> the columns that identify one of its rows within a study
LINEAGE_KEYS: dict[str, tuple[str, ...]] = {
    "int_toxicity_max_grades": ("subject_id", "toxicity", "criteria"),
    "marts.fct_subject_endpoints": ("subject_id",),
    "marts.agg_toxicity_rates": ("toxicity", "criteria", "group_by", "group_value", "grade_category"),
    "marts.agg_response_rates": ("measure", "group_by", "group_value"),
    "marts.agg_consort": ("step",),
    "marts.fct_cytokine_kinetics": ("subject_id", "specimen", "analyte"),
    # analysis tables: their edges are written by the analysis code (ANALYSIS_LINEAGE_TABLE)
    "analysis.csf_pre_post": ("analyte",),
    "analysis.km_summary": ("endpoint", "group_by", "group_value"),
    "analysis.km_logrank": ("endpoint", "group_by", "comparison"),
    "analysis.intervention_windows": ("subject_id", "measure"),
    "analysis.intervention_tests": ("measure",),
}

LINEAGE_TABLE = "audit.lineage"  # the edges dbt writes (audit_lineage.sql)
# The targets of the analysis code's edges; every other table of LINEAGE_KEYS is dbt's.
ANALYSIS_TARGETS: tuple[str, ...] = tuple(t for t in LINEAGE_KEYS if t.startswith("analysis."))
DBT_TARGETS: tuple[str, ...] = tuple(t for t in LINEAGE_KEYS if t not in ANALYSIS_TARGETS)
# The edges of the analysis tables, written by the analysis assets with their tables (the same
# columns); `warehouse explain` reads both.
ANALYSIS_LINEAGE_TABLE = "audit.analysis_lineage"
# The columns of an edge, in order (audit_lineage.sql writes the same through its macros).
EDGE_COLUMNS: dict[str, str] = {
    "study_id": "varchar",
    "target_table": "varchar",
    "target_key": "varchar",
    "target_column": "varchar",
    "upstream_table": "varchar",
    "upstream_key": "varchar",
    "upstream_column": "varchar",
    "source": "varchar",
    "delivery_sha256": "varchar",
    "file_name": "varchar",
    "row_number": "bigint",
    "record_seq": "varchar",
    "study_day": "double",
}

SEPARATOR = "|"


def key_sql(table: str, alias: str | None = None) -> str:
    """The SQL text of a row's lineage key, e.g. `'subject_id=' || coalesce(cast(subject_id as
    varchar), '')`, for the table's LINEAGE_KEYS columns (qualified by `alias` when given)."""
    prefix = f"{alias}." if alias else ""
    parts = [f"'{column}=' || coalesce(cast({prefix}{column} as varchar), '')" for column in LINEAGE_KEYS[table]]
    return f" || '{SEPARATOR}' || ".join(parts)


def key_text(table: str, values) -> str:
    """The key `key_sql(table)` gives a row, from the row's values in Python (a mapping of
    column -> value; None is empty text). For keys of text columns: the analysis code writes
    its edges' keys with it, the report finds a cell's page by it."""
    return SEPARATOR.join(f"{c}={_text(values.get(c))}" for c in LINEAGE_KEYS[table])


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType":
        return ""  # None, NaN, pandas' NA
    return str(value)


def dbt_vars() -> dict[str, dict[str, str]]:
    """The dbt var `lineage_key_sql`: table -> key_sql(table), for the models that write keys."""
    return {"lineage_key_sql": {table: key_sql(table) for table in LINEAGE_KEYS}}


# Row-grain marts that name their delivered row in their own columns (delivery_sha256, file_name,
# row_number): `warehouse explain` reads it back by the row's id.
ROW_GRAIN_IDS: dict[str, str] = {"marts.fct_biomarker_results": "measurement_id"}


def explain_hint(table: str) -> str | None:
    """How to explain a number of `table` (its asset page says it), None when it has no lineage."""
    if table in ROW_GRAIN_IDS:
        columns: tuple[str, ...] = (ROW_GRAIN_IDS[table],)
    elif table in LINEAGE_KEYS and table.startswith(("marts.", "analysis.")):
        columns = LINEAGE_KEYS[table]
    else:
        return None
    wheres = " ".join(f"--where {c}=..." for c in columns)
    return (f"Explain a number of this table down to its delivered rows: `uv run warehouse explain {table} "
            f"{wheres} [--column COL] [--json]` (README, \"Explain a number\").")
