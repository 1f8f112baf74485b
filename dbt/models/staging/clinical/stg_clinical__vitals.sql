with

source as (
    {{ current_rows('clinical', 'vitals') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        {{ utc_from_delivered('recorded_at') }} as recorded_at,
        {{ local_date_from_delivered('recorded_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('recorded_at')) }} as study_day,
        temperature_c,
        cast(systolic_bp_mmhg as integer) as systolic_bp_mmhg,
        -- an empty vasopressors cell means none
        nullif(trim(vasopressors), '') as vasopressors,
        o2_device,
        o2_flow_l_min,
        spo2_pct,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
