with

source as (
    {{ current_rows('clinical', 'neuro_assessments') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        {{ utc_from_delivered('assessed_at') }} as assessed_at,
        {{ local_date_from_delivered('assessed_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('assessed_at')) }} as study_day,
        cast(ice_score as integer) as ice_score,
        consciousness,
        seizure,
        motor_weakness,
        cerebral_edema,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
