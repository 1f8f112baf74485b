with

source as (
    {{ versioned_rows('clinical', 'medications') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        m.subject_id,
        m.drug,
        {{ utc_from_delivered('m.administered_at') }} as administered_at,
        {{ local_date_from_delivered('m.administered_at') }} as local_date,
        date_diff('day', s.infused_on, {{ local_date_from_delivered('m.administered_at') }}) as study_day,
        m.dose,
        m.dose_unit,
        m.route,
        m.indication,
        m._delivery_sha256 as delivery_sha256
    from current_rows as m
    left join subjects as s on s.subject_id = m.subject_id
)

select * from final
