{#- Corrections across deliveries (sources.md, "Where files land"): for each natural key the row
    from the latest delivery wins, deliveries ordered by modification time, then name. The key
    is var('natural_keys'), passed as --vars from schemas/contract.py on every dbt call
    (dagster_project/lib/transform/project.py, dbt_cli_vars): the contract is its one source.

    `current_rows` is what staging reads: the current version of every natural key, raw columns
    as loaded. `versioned_rows` returns every raw row with `_version` (1 = current); audit counts
    the rest as superseded (with only_repeated, just the rows of keys that arrived more than once).

    Staging models have no dbt unit_tests: they are tested by tests/test_dbt_biomarkers.py on a
    real warehouse file (censoring forms, unit factors, corrections, time zones). -#}

{#- Key normalization, the one rule (the same as the Python ingest's duplicate check,
    dagster_project/lib/ingest/duplicates.py `_normalized`): two key values are equal when
    their text is equal after
      - text stripped (Python str.strip whitespace), upper-cased;
      - in datetime columns (`*_at`) the `T` separator equals a space.
    Only `*_at` columns get the `T` rule: a `T` inside an identifier or an analyte code is a
    letter. A value that is not text (a date) is compared as its text.

    Python's whitespace is every character for which str.isspace() is true: the regex class
    below, by code point (the same set as Python's over all of Unicode). Not trim(): DuckDB's
    trim() strips spaces only, and trim() with a character list is 7x slower than this regex
    (3 M rows). -#}
{% macro normalized_key(table_name) -%}
    {%- set whitespace = '[\\x{9}-\\x{d}\\x{1c}-\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}]' -%}
    {%- for col in natural_key_of(table_name) %}
    {%- set stripped_upper -%}
        upper(regexp_replace(cast({{ col }} as varchar), '^{{ whitespace }}+|{{ whitespace }}+$', '', 'g'))
    {%- endset %}
    {%- if col.endswith('_at') %}
    replace({{ stripped_upper }}, 'T', ' ') as _key_{{ loop.index }}{{ "," if not loop.last }}
    {%- else %}
    {{ stripped_upper }} as _key_{{ loop.index }}{{ "," if not loop.last }}
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{% macro natural_key_of(table_name) -%}
    {{- return(var('natural_keys')[table_name]) -}}
{%- endmacro %}

{% macro key_columns(table_name) -%}
    {%- for col in natural_key_of(table_name) -%}
    _key_{{ loop.index }}{{ ", " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Joined on `is not distinct from`: a null in a key column matches a null, as in the
    window's partitions. -#}
{% macro same_key(table_name, left, right) -%}
    {%- for col in natural_key_of(table_name) -%}
    {{ left }}._key_{{ loop.index }} is not distinct from {{ right }}._key_{{ loop.index }}{{ " and " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- Most keys arrive once: only rows whose key arrives more than once are ranked (a hash
    count, then a window over those few rows), instead of a window over every row. Same
    result as ranking every row; 20% less time for staging, 3-4x less for the audit, which
    only wants the repeated keys (DuckDB, 3 M serum rows). -#}
{% macro versioned_rows(source_name, table_name, only_repeated=false) -%}
    {%- set keys = key_columns(table_name) -%}
    with keyed as (
        select *, {{ normalized_key(table_name) }}
        from {{ source(source_name, table_name) }}
        {#- an incremental staging build reads only the studies it rewrites (macros/changed_studies.sql) #}
        where {{ changed_studies_only('_study_id') }}
    ),
    repeated as (
        select {{ keys }} from keyed group by all having count(*) > 1
    )
    {%- if not only_repeated %}
    select * exclude ({{ keys }}), 1 as _version
    from keyed anti join repeated on {{ same_key(table_name, 'keyed', 'repeated') }}
    union all
    {%- endif %}
    select
        * exclude ({{ keys }}),
        row_number() over (
            partition by {{ keys }}
            order by _received_at desc, _file_name desc, _row_number desc
        ) as _version
    from keyed semi join repeated on {{ same_key(table_name, 'keyed', 'repeated') }}
{%- endmacro %}

{#- The current version of each natural key of one source: the rows staging renames and casts.
    Raw columns as loaded, with the ingest's _delivery_sha256, _file_name, _row_number and
    _received_at; _version (always 1 here) left out. -#}
{% macro current_rows(source_name, table_name) -%}
    select * exclude (_version)
    from (
        {{ versioned_rows(source_name, table_name) }}
    ) as versions
    where _version = 1
{%- endmacro %}
