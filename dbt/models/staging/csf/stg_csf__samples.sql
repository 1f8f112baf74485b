{#- Current CSF samples, one row per sample as delivered: cell counts (/uL) and chemistry
    (mg/dL). The column names carry the units; intermediate unpivots them into measurements. -#}

with

source as (
    {{ versioned_rows('csf', 'csf_samples') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        c.sample_id,
        c.subject_id,
        {{ utc_from_delivered('c.collected_at') }} as collected_at,
        {{ local_date_from_delivered('c.collected_at') }} as local_date,
        date_diff('day', s.infused_on, {{ local_date_from_delivered('c.collected_at') }}) as study_day,
        c.wbc_per_ul,
        c.rbc_per_ul,
        c.protein_mg_dl,
        c.glucose_mg_dl,
        c._delivery_sha256 as delivery_sha256
    from current_rows as c
    left join subjects as s on s.subject_id = c.subject_id
)

select * from final
