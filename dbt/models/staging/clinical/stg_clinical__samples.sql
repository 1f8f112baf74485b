{#- Current sample manifest: the specimen label an instrument writes, linked to its subject,
    specimen and collection time (or study day in a relative study). -#}
with

source as (
    {{ current_rows('clinical', 'samples') }}
),

final as (
    select
        _study_id as study_id,
        sample_label,
        subject_id,
        specimen,
        {{ utc_from_delivered('collected_at') }} as collected_at,
        {{ local_date_from_delivered('collected_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('collected_at')) }} as study_day,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
