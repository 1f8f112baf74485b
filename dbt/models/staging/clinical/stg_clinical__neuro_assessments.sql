with

source as (
    {{ versioned_rows('clinical', 'neuro_assessments') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        n.subject_id,
        {{ utc_from_delivered('n.assessed_at') }} as assessed_at,
        {{ local_date_from_delivered('n.assessed_at') }} as local_date,
        date_diff('day', s.infused_on, {{ local_date_from_delivered('n.assessed_at') }}) as study_day,
        cast(n.ice_score as integer) as ice_score,
        n.consciousness,
        n.seizure,
        n.motor_weakness,
        n.cerebral_edema,
        n._delivery_sha256 as delivery_sha256
    from current_rows as n
    left join subjects as s on s.subject_id = n.subject_id
)

select * from final
