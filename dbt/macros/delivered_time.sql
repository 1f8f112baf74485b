{#- Delivered ISO 8601 datetime text -> UTC timestamp (sources.md, "Times"): an offset or `Z`
    converts by itself; a naive time is local site time in var('site_timezone'). -#}
{% macro utc_from_delivered(column) -%}
    case
        when regexp_matches({{ column }}, '(Z|[+-]\d\d(:?\d\d)?)$')
            then cast({{ column }} as timestamptz) at time zone 'UTC'
        else timezone('{{ var("site_timezone") }}', cast({{ column }} as timestamp)) at time zone 'UTC'
    end
{%- endmacro %}

{#- The site's local calendar date as written in the delivery, before any conversion
    (sources.md, "Study time": study day = this date - infused_on). -#}
{% macro local_date_from_delivered(column) -%}
    cast(substr({{ column }}, 1, 10) as date)
{%- endmacro %}
