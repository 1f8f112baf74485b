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
