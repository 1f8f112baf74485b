with

source as (
    {{ current_rows('clinical', 'outcomes') }}
),

final as (
    select
        subject_id,
        progressed_on,
        died_on,
        death_cause,
        last_known_alive_on,
        _delivery_sha256 as delivery_sha256
    from source
)

select * from final
