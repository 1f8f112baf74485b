{#- Every biomarker measurement as one long table (marts.md, fct_biomarker_results): serum
    cytokines, serum labs, CSF samples (one row per non-empty WBC, RBC, PROTEIN, GLUCOSE) and
    CSF cytokines, in harmonized units, with the analysis value given by the substitution rule.

    Substitution rule (sources.md, "Cytokine analytes and results"; our default, configurable
    with the dbt var `substitution_rule`, whose name is stored in every row):
      lloq_half_uloq  below LLOQ -> limit / 2,        above ULOQ -> limit   (default)
      lloq_uloq       below LLOQ -> limit,            above ULOQ -> limit
      lloq_sqrt2_uloq below LLOQ -> limit / sqrt(2),  above ULOQ -> limit
                      (Hornung & Reed, Appl Occup Environ Hyg 1990;5:46)
    `limit` is the censored row's value (the number written, else the row's lloq / uloq).
    Extrapolated (`*x`) and uncensored results enter as they are. -#}

{%- set rule = var('substitution_rule') -%}
{%- set below_divisor = {'lloq_half_uloq': '2.0', 'lloq_uloq': '1.0', 'lloq_sqrt2_uloq': 'sqrt(2.0)'} -%}
{%- if rule not in below_divisor -%}
    {{ exceptions.raise_compiler_error(
        "var substitution_rule = '" ~ rule ~ "' is not one of " ~ (below_divisor.keys() | list | join(', '))) }}
{%- endif %}

with

{#- The two cytokine sources share one contract (cytokine_results): the same columns. -#}
{%- for source_name, specimen, model in [('serum_cytokines', 'serum', 'stg_serum__cytokines'),
                                          ('csf_cytokines', 'csf', 'stg_csf__cytokines')] %}
{{ source_name }} as (
    select
        study_id,
        '{{ source_name }}' as source,
        '{{ specimen }}' as specimen,
        analyte,
        sample_id,
        subject_id,
        collected_at,
        local_date,
        study_day,
        value,
        unit,
        censoring,
        lloq,
        uloq,
        result_as_delivered,
        unit_as_delivered,
        delivery_sha256,
        file_name,
        row_number,
        cast(null as varchar) as record_seq
    from {{ ref(model) }}
),
{% endfor %}
serum_labs as (
    select
        study_id,
        'serum_labs' as source,
        'serum' as specimen,
        test as analyte,
        cast(null as varchar) as sample_id,
        subject_id,
        collected_at,
        local_date,
        study_day,
        value,
        unit,
        'none' as censoring,
        cast(null as double) as lloq,
        cast(null as double) as uloq,
        cast(value_as_delivered as varchar) as result_as_delivered,
        unit_as_delivered,
        delivery_sha256,
        file_name,
        row_number,
        record_seq
    from {{ ref('stg_serum__labs') }}
),

csf_sample_values as (
    -- unpivot; a measurement left empty in the delivery is no row (marts.md)
    select study_id, sample_id, subject_id, collected_at, local_date, study_day, delivery_sha256, file_name, row_number,
           'WBC' as analyte, '/uL' as unit_as_delivered, wbc_per_ul as value_as_delivered
    from {{ ref('stg_csf__samples') }} where wbc_per_ul is not null
    union all
    select study_id, sample_id, subject_id, collected_at, local_date, study_day, delivery_sha256, file_name, row_number,
           'RBC', '/uL', rbc_per_ul
    from {{ ref('stg_csf__samples') }} where rbc_per_ul is not null
    union all
    select study_id, sample_id, subject_id, collected_at, local_date, study_day, delivery_sha256, file_name, row_number,
           'PROTEIN', 'mg/dL', protein_mg_dl
    from {{ ref('stg_csf__samples') }} where protein_mg_dl is not null
    union all
    select study_id, sample_id, subject_id, collected_at, local_date, study_day, delivery_sha256, file_name, row_number,
           'GLUCOSE', 'mg/dL', glucose_mg_dl
    from {{ ref('stg_csf__samples') }} where glucose_mg_dl is not null
),

conversions as (
    select analyte, from_unit, to_unit, factor
    from {{ ref('unit_conversions') }}
    where specimen = 'csf'
),

csf_samples as (
    select
        v.study_id,
        'csf_samples' as source,
        'csf' as specimen,
        v.analyte,
        v.sample_id,
        v.subject_id,
        v.collected_at,
        v.local_date,
        v.study_day,
        v.value_as_delivered * c.factor as value,
        c.to_unit as unit,
        'none' as censoring,
        cast(null as double) as lloq,
        cast(null as double) as uloq,
        cast(v.value_as_delivered as varchar) as result_as_delivered,
        v.unit_as_delivered,
        v.delivery_sha256,
        v.file_name,
        v.row_number,
        cast(null as varchar) as record_seq
    from csf_sample_values as v
    left join conversions as c on c.analyte = v.analyte and c.from_unit = v.unit_as_delivered
),

measurements as (
    select * from serum_cytokines
    union all
    select * from serum_labs
    union all
    select * from csf_samples
    union all
    select * from csf_cytokines
),

final as (
    select
        study_id,
        -- the measurement's natural key within its study (the study is not part of it, so that a
        -- study's rows are the same whatever other studies the warehouse holds); a serum lab
        -- has no sample id: subject @ collection time, or @ study day in a relative study
        md5(concat_ws('|', source, coalesce(
            sample_id, subject_id || '@' || coalesce(cast(collected_at as varchar), 'day ' || cast(study_day as varchar))
            || coalesce('#' || record_seq, '')
        ), analyte)) as measurement_id,
        source,
        case source
            when 'serum_labs' then 'lab'
            when 'csf_samples' then 'csf_chemistry'
            else 'cytokine'
        end as analyte_kind,
        specimen,
        subject_id,
        sample_id,
        analyte,
        collected_at,
        local_date,
        study_day,
        value,
        unit,
        censoring,
        lloq,
        uloq,
        case censoring
            when 'below_lloq' then value / {{ below_divisor[rule] }}
            else value
        end as analysis_value,
        '{{ rule }}' as substitution_rule,
        result_as_delivered,
        unit_as_delivered,
        delivery_sha256,
        -- the delivered row it was read from (issue 17: a row-grain mart carries its lineage)
        file_name,
        row_number,
        record_seq
    from measurements
)

select * from final
