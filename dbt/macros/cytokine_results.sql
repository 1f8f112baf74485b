{#- Current cytokine results of one source (sources.md, "Cytokine analytes and results"),
    shared by stg_serum__cytokines and stg_csf__cytokines: the two sources share one contract.
    `result` is the assay's text, already validated at ingest to be a number or one of the
    censored forms: `<x` / `< x` / `OOR <` (below LLOQ; the limit is x, else the row's lloq),
    `>x` / `> x` / `OOR >` (above ULOQ; x, else uloq), `*x` (extrapolated, value x).
    A censored row's value is its limit. Units are harmonized to pg/mL with the
    unit_conversions seed; lloq and uloq take the same factor. Per study: the study's time zone
    and subjects (macros/delivered_time.sql, macros/study_day.sql); a relative study gives the
    study day and no collection time. -#}
{% macro cytokine_results(source_name, table_name, specimen) %}
with

source as (
    {{ current_rows(source_name, table_name) }}
),

conversions as (
    select from_unit, to_unit, factor
    from {{ ref('unit_conversions') }}
    where specimen = '{{ specimen }}' and analyte = 'CYTOKINE'
),

parsed as (
    select
        *,
        case
            when regexp_matches(result, '^\s*(<|OOR\s*<)', 'i') then 'below_lloq'
            when regexp_matches(result, '^\s*(>|OOR\s*>)', 'i') then 'above_uloq'
            when regexp_matches(result, '^\s*\*') then 'extrapolated'
            else 'none'
        end as censoring,
        try_cast(
            nullif(regexp_extract(result, '((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)', 1), '') as double
        ) as result_number
    from source
),

final as (
    select
        p._study_id as study_id,
        p.sample_id,
        p.subject_id,
        {{ utc_from_delivered('p.collected_at', 'p._study_id') }} as collected_at,
        {{ local_date_from_delivered('p.collected_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('p.collected_at'), 'p.subject_id', 'p._study_id', 'p.study_day') }} as study_day,
        p.analyte,
        p._analyte_as_delivered as analyte_as_delivered,
        p.result as result_as_delivered,
        p.censoring,
        case p.censoring
            when 'below_lloq' then coalesce(p.result_number, p.lloq)
            when 'above_uloq' then coalesce(p.result_number, p.uloq)
            else p.result_number
        end * c.factor as value,
        c.to_unit as unit,
        p.lloq * c.factor as lloq,
        p.uloq * c.factor as uloq,
        p.unit as unit_as_delivered,
        c.factor as unit_factor,
        p.plate_id,
        p.assay,
        p._delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        p._file_name as file_name,
        p._row_number as row_number
    from parsed as p
    left join conversions as c on c.from_unit = p.unit
)

select * from final
{% endmacro %}
