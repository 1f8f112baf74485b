"""What the Dagster UI shows on the asset pages after a real park2023 run: groups that are the
stages, column types, headline rows (CRS any cell recomputed here from fct_subject_endpoints, NR
for a median not reached) and described dbt checks.

The expected numbers are computed here from the warehouse's endpoint rows with scipy's beta
quantiles, not from the warehouse's rate mart or its statistics code.
"""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pytest
from scipy.stats import beta

from dagster_project.defs.stages import STAGES

TOXICITY_RATES = dg.AssetKey(["marts", "agg_toxicity_rates"])
KM_SUMMARY = dg.AssetKey(["analysis", "km_summary"])


@pytest.fixture(scope="module")
def definitions():
    from dagster_project.definitions import defs

    return defs()


@pytest.fixture(scope="module")
def materialized(park_run):
    """Latest materialization metadata of every asset of the run, by key."""
    assert park_run.exit_code == 0, park_run.output[-3000:]
    with dg.DagsterInstance.from_config(str(park_run.dagster_home)) as instance:
        keys = instance.get_asset_keys()
        events = {key: instance.get_latest_materialization_event(key) for key in keys}
    return {key: e.asset_materialization.metadata for key, e in events.items() if e is not None}


def _markdown_header(table) -> list[str]:
    """The column names of a table metadata value (TableMetadataValue.value: a TableMetadataSet)."""
    return [c.name for c in table.schema.columns]


def _markdown_rows(table) -> list[list[str]]:
    """The rows of a table metadata value, cells in column order."""
    names = _markdown_header(table)
    return [[record.data[name] for name in names] for record in table.records]


def test_groups_are_the_stages(definitions):
    graph = definitions.resolve_asset_graph()
    groups = {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert set(groups.values()) == set(STAGES)
    for key, group in groups.items():
        schema, name = key.path[0], key.path[-1]
        if schema == "raw":  # every source and the ingest log (raw/deliveries, raw/quarantine)
            assert group == "ingest", key
        elif schema == "staging" and name.startswith("stg_"):
            assert group == "staging", key
        elif schema == "staging" and name.startswith("int_"):
            assert group == "intermediate", key
        elif schema == "staging":  # the dbt seeds
            assert group == "reference", key
        else:  # audit, marts, analysis, serving, reports: the schema names the stage
            assert group == schema, key
    assert groups[dg.AssetKey(["raw", "deliveries"])] == "ingest"
    assert groups[dg.AssetKey(["staging", "unit_conversions"])] == "reference"


def test_every_dbt_check_is_described(definitions):
    from dagster_project.defs.transform.assets import warehouse_dbt_models

    specs = {spec.key: spec for spec in warehouse_dbt_models().check_specs}
    assert specs and all(spec.description for spec in specs.values())
    by_name = {(key.asset_key, key.name): spec.description for key, spec in specs.items()}
    assert by_name[(TOXICITY_RATES, "accepted_values_agg_toxicity_rates_toxicity__CRS__ICANS__IEC_HS")] == (
        "accepted_values on toxicity: CRS, ICANS, IEC-HS")
    assert by_name[(TOXICITY_RATES, "not_null_agg_toxicity_rates_toxicity")].startswith("not_null on toxicity")
    relationships = [spec for spec in specs.values() if spec.name.startswith("relationships_")]
    assert relationships and all(
        re.fullmatch(r"relationships on \w+: every value is in \w+\.\w+", spec.description)
        or re.fullmatch(r"relationships_in_study on \w+: every \(study_id, value\) is in \w+\.\(study_id, \w+\)",
                        spec.description)
        for spec in relationships)
    endpoints = dg.AssetKey(["marts", "fct_subject_endpoints"])
    assert by_name[(endpoints, "relationships_in_study_fct_subject_endpoints_subject_id__subject_id__ref_dim_subjects_")] == (
        "relationships_in_study on subject_id: every (study_id, value) is in dim_subjects.(study_id, subject_id)")
    custom = [d for (key, name), d in by_name.items() if name.startswith("rate_groups_sum_to_overall")]
    assert custom and all("group_by: " in d and "overall row" in d for d in custom)


def test_toxicity_rates_carry_types_and_the_crs_any_headline(park_run, materialized):
    metadata = materialized[TOXICITY_RATES]
    schema = metadata["dagster/column_schema"].value
    types = {c.name: c.type for c in schema.columns}
    assert types["toxicity"] == "varchar" and types["pct"] == "double"
    assert types["n_subjects"] in ("bigint", "integer", "hugeint")
    descriptions = {c.name: c.description for c in schema.columns}
    assert descriptions["n_total"].startswith("Infused subjects")  # from the dbt yml

    with duckdb.connect(str(park_run.warehouse), read_only=True) as con:
        n, total = con.execute(
            "select count(*) filter (where crs_max_grade >= 1), count(*) from marts.fct_subject_endpoints "
            "where infused_on is not null"
        ).fetchone()
        rows = con.execute("select count(*) from marts.agg_toxicity_rates").fetchone()[0]
    low = 0.0 if n == 0 else beta.ppf(0.025, n, total - n + 1)
    high = 1.0 if n == total else beta.ppf(0.975, n + 1, total - n)
    cell = f"{n}/{total} {100 * n / total:.1f}% ({100 * low:.1f}-{100 * high:.1f})"
    headline = metadata["headline"].value
    header = _markdown_header(headline)
    crs = next(r for r in _markdown_rows(headline) if r[0] == "CRS")
    assert crs[header.index("any")] == cell, headline
    assert metadata["dagster/row_count"].value == rows
    # how to explain a number of it (issue 17): the command, filtering on the table's own columns
    hint = metadata["explain"].value
    assert "uv run warehouse explain marts.agg_toxicity_rates --where" in hint
    assert set(re.findall(r"--where (\w+)=", hint)) == {"toxicity", "criteria", "group_by", "group_value",
                                                        "grade_category"} <= set(types)


def test_every_dbt_model_and_analysis_table_has_typed_columns(definitions, materialized):
    from dagster_project.defs.analysis import analysis_keys
    from dagster_project.defs.transform.assets import warehouse_dbt_models

    with_tables = [*warehouse_dbt_models().keys, *analysis_keys()]
    figures_only = {k for k in analysis_keys() if k.path[-1].endswith("figure") or k.path[-1].endswith("figures")}
    for key in with_tables:
        if key in figures_only:
            continue
        schema = materialized[key].get("dagster/column_schema")
        assert schema is not None, key
        assert schema.value.columns and all(c.type and c.type != "?" for c in schema.value.columns), key


def test_marts_and_analysis_tables_have_headlines(materialized):
    expected = ["marts/agg_consort", "marts/agg_toxicity_rates", "marts/agg_response_rates", "analysis/km_summary",
                "analysis/km_logrank", "analysis/csf_pre_post", "analysis/cytokine_curves",
                "analysis/intervention_tests"]
    for name in expected:
        headline = materialized[dg.AssetKey(name.split("/"))]["headline"].value
        # a table with columns, or none at all where the analysis has no rows (no anakinra course)
        assert _markdown_header(headline) or not headline.records, (name, headline)
    consort = dict(r[:2] for r in _markdown_rows(materialized[dg.AssetKey(["marts", "agg_consort"])]["headline"].value))
    assert consort["enrolled"] == "34" and consort["infused"] == "31"
    response = _markdown_rows(materialized[dg.AssetKey(["marts", "agg_response_rates"])]["headline"].value)
    assert [r[0] for r in response][:2] == ["ORR", "CR"]


def test_km_summary_headline_says_nr_where_the_median_is_not_reached(park_run, materialized):
    with duckdb.connect(str(park_run.warehouse), read_only=True) as con:
        summary = con.execute(
            "select endpoint, group_value, median_days from analysis.km_summary"
        ).fetchall()
    headline = materialized[KM_SUMMARY]["headline"].value
    assert not any("nan" in cell.lower() for row in _markdown_rows(headline) for cell in row)
    header = _markdown_header(headline)
    median = header.index("median, days (95% CI)")
    rows = {(r[0], r[header.index("group")]): r for r in _markdown_rows(headline)}
    assert len(rows) == len(summary)
    not_reached = [(e, g) for e, g, m in summary if m is None]
    assert not_reached  # park2023: overall OS is not reached
    for endpoint, group, days in summary:
        cell = rows[(endpoint, group)][median]
        assert cell.startswith("NR (") if days is None else cell.startswith(f"{days:.0f} ("), (endpoint, group, cell)
    types = {c.name: c.type for c in materialized[KM_SUMMARY]["dagster/column_schema"].value.columns}
    assert types["median_days"] == "double" and types["endpoint"] == "varchar"
