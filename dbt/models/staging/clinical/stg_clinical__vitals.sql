with

source as (
    {{ versioned_rows('clinical', 'vitals') }}
),

current_rows as (
    select * from source where _version = 1
),

subjects as (
    select subject_id, infused_on from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        v.subject_id,
        {{ utc_from_delivered('v.recorded_at') }} as recorded_at,
        {{ local_date_from_delivered('v.recorded_at') }} as local_date,
        date_diff('day', s.infused_on, {{ local_date_from_delivered('v.recorded_at') }}) as study_day,
        v.temperature_c,
        cast(v.systolic_bp_mmhg as integer) as systolic_bp_mmhg,
        nullif(trim(v.vasopressors), '') as vasopressors,
        v.o2_device,
        v.o2_flow_l_min,
        v.spo2_pct,
        v._delivery_sha256 as delivery_sha256
    from current_rows as v
    left join subjects as s on s.subject_id = v.subject_id
)

select * from final
