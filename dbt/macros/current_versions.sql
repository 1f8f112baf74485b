{#- Corrections across deliveries (sources.md, "Where files land"): for each natural key the row
    from the latest delivery wins, deliveries ordered by modification time, then name. The key
    is var('natural_keys') (the same keys as schemas/contract.py; a test keeps
    the two equal), compared after normalization (case, `T` vs space in datetimes).

    `versioned_rows` returns every raw row with `_version` (1 = current); staging keeps version 1
    and audit counts the rest as superseded. -#}
{% macro natural_key_of(table_name) -%}
    {{- return(var('natural_keys')[table_name]) -}}
{%- endmacro %}

{% macro versioned_rows(source_name, table_name) -%}
    {%- set key = natural_key_of(table_name) -%}
    select
        *,
        row_number() over (
            partition by
                {%- for col in key %}
                upper(replace(trim(cast({{ col }} as varchar)), 'T', ' ')){{ "," if not loop.last }}
                {%- endfor %}
            order by _received_at desc, _file_name desc, _row_number desc
        ) as _version
    from {{ source(source_name, table_name) }}
{%- endmacro %}
