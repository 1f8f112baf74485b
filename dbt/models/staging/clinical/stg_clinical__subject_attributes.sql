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
        _delivery_sha256 as delivery_sha256
    from source
)

select * from final
