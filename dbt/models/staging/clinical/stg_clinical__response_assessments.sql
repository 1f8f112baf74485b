with

source as (
    {{ current_rows('clinical', 'response_assessments') }}
),

final as (
    select
        subject_id,
        assessed_on,
        {{ study_day('assessed_on') }} as study_day,
        response,
        criteria,
        _delivery_sha256 as delivery_sha256
    from source
)

select * from final
