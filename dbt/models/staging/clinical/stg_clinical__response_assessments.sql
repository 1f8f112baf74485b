with

source as (
    {{ current_rows('clinical', 'response_assessments') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        assessed_on,
        {{ study_day_of('assessed_on') }} as study_day,
        response,
        criteria,
        mrd,
        _delivery_sha256 as delivery_sha256
    from source
)

select * from final
