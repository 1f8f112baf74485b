with

source as (
    {{ current_rows('clinical', 'subject_attributes') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        attribute,
        value,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
