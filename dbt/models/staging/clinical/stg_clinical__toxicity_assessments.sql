with

source as (
    {{ versioned_rows('clinical', 'toxicity_assessments') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        t.subject_id,
        t.assessed_on,
        date_diff('day', s.infused_on, t.assessed_on) as study_day,
        cast(t.crs_grade as integer) as crs_grade,
        cast(t.icans_grade as integer) as icans_grade,
        t.criteria,
        t._delivery_sha256 as delivery_sha256
    from current_rows as t
    left join subjects as s on s.subject_id = t.subject_id
)

select * from final
