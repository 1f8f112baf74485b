with

source as (
    {{ current_rows('clinical', 'medications') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        drug,
        {{ utc_from_delivered('administered_at') }} as administered_at,
        {{ local_date_from_delivered('administered_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('administered_at')) }} as study_day,
        dose,
        dose_unit,
        route,
        indication,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
