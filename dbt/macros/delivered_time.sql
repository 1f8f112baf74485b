{#- Delivered ISO 8601 datetime text -> UTC timestamp (sources.md, "Times"): an offset or `Z`
    converts by itself; a naive time is local site time in the study's IANA time zone
    (site_timezone_of). A relative study delivers no datetime: null in, null out; a date alone
    (a reading of that day whose time is unknown) gives null too. -#}
{% macro utc_from_delivered(column, study_id_expr='_study_id') -%}
    case
        -- a date alone (an SDTM --DTC without a time): a reading of that day, time unknown. No
        -- instant is invented; its study day comes from the date (local_date_from_delivered).
        when length(trim({{ column }})) = 10 then null
        when regexp_matches({{ column }}, '(Z|[+-]\d\d(:?\d\d)?)$')
            then cast({{ column }} as timestamptz) at time zone 'UTC'
        else timezone({{ site_timezone_of(study_id_expr) }}, cast({{ column }} as timestamp)) at time zone 'UTC'
    end
{%- endmacro %}

{#- The site time zone of a study: its study.yml `site_timezone` (raw.studies.settings_json, read
    by stg_ingest__studies), else var('site_timezone') (WAREHOUSE_SITE_TIMEZONE, default UTC),
    also for a study that raw.studies does not list. A scalar subquery, as study_day (macros/
    study_day.sql): one select line, planned as a hash join. -#}
{% macro site_timezone_of(study_id_expr='_study_id') -%}
    coalesce((
        select zones.site_timezone
        from (
            select study_id as zone_study_id, site_timezone
            from {{ ref('stg_ingest__studies') }}
        ) as zones
        where zones.zone_study_id = {{ study_id_expr }}
    ), '{{ var("site_timezone") }}')
{%- endmacro %}

{#- The site's local calendar date as written in the delivery, before any conversion
    (sources.md, "Study time": study day = this date - infused_on). Null in a relative study. -#}
{% macro local_date_from_delivered(column) -%}
    cast(substr({{ column }}, 1, 10) as date)
{%- endmacro %}

{#- A yes/no text cell (subjects.infused, toxicity_summaries.present; any case) as a boolean:
    true for var('true_texts'), the contract's TRUE_TEXTS (schemas/clinical.py; tests/
    test_dbt_rules.py keeps the two equal), false otherwise, null when empty. -#}
{% macro is_true_text(column) -%}
    case
        when nullif(trim({{ column }}), '') is null then null
        else lower(trim({{ column }})) in ({% for t in var('true_texts') %}'{{ t }}'{{ ", " if not loop.last }}{% endfor %})
    end
{%- endmacro %}
