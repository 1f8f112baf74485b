with

source as (
    {{ versioned_rows('clinical', 'response_assessments') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        r.subject_id,
        r.assessed_on,
        date_diff('day', s.infused_on, r.assessed_on) as study_day,
        r.response,
        r.criteria,
        r._delivery_sha256 as delivery_sha256
    from current_rows as r
    left join subjects as s on s.subject_id = r.subject_id
)

select * from final
