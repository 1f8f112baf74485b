{#- Row-level lineage (issue 17; schemas/lineage.py). `delivered_row(source)` is a reference to
    the delivered row a staging row was read from, as one value: a model that decides a value
    from rows keeps the references of the deciding rows (a list of them) beside the value, and
    audit_lineage unnests them. Staging rows carry delivery_sha256, file_name, row_number.
    Dispatched: a struct is written differently by other engines (Spark: named_struct). -#}
{% macro delivered_row(source, study_day='study_day', record_seq='null') -%}
    {{ return(adapter.dispatch('delivered_row')(source, study_day, record_seq)) }}
{%- endmacro %}

{% macro default__delivered_row(source, study_day, record_seq) -%}
    struct_pack(
        source := '{{ source }}',
        delivery_sha256 := delivery_sha256,
        file_name := file_name,
        row_number := row_number,
        record_seq := cast({{ record_seq }} as varchar),
        study_day := cast({{ study_day }} as double)
    )
{%- endmacro %}

{#- The lineage key of a row of `table` (schemas/lineage.py key_sql, through the dbt var
    lineage_key_sql: the format lives there). -#}
{% macro lineage_key(table) -%}
    {{ var('lineage_key_sql')[table] }}
{%- endmacro %}

{#- The columns of one audit.lineage edge (audit_lineage.sql), written once:
    `lineage_edge_to_row` - to the delivered row `row` (a delivered_row struct);
    `lineage_edge_to_target` - to another lineage target's value. -#}
{% macro lineage_edge_to_row(target_table, target_key, target_column, row) -%}
        '{{ target_table }}' as target_table,
        {{ target_key }} as target_key,
        '{{ target_column }}' as target_column,
        'raw.' || {{ row }}.source as upstream_table,
        cast(null as varchar) as upstream_key,
        cast(null as varchar) as upstream_column,
        {{ row }}.source as source,
        {{ row }}.delivery_sha256 as delivery_sha256,
        {{ row }}.file_name as file_name,
        {{ row }}.row_number as row_number,
        {{ row }}.record_seq as record_seq,
        {{ row }}.study_day as study_day
{%- endmacro %}

{% macro lineage_edge_to_target(target_table, target_key, target_column, upstream_table, upstream_key, upstream_column) -%}
        '{{ target_table }}' as target_table,
        {{ target_key }} as target_key,
        {{ target_column }} as target_column,
        '{{ upstream_table }}' as upstream_table,
        {{ upstream_key }} as upstream_key,
        '{{ upstream_column }}' as upstream_column,
        cast(null as varchar) as source,
        cast(null as varchar) as delivery_sha256,
        cast(null as varchar) as file_name,
        cast(null as bigint) as row_number,
        cast(null as varchar) as record_seq,
        cast(null as double) as study_day
{%- endmacro %}
