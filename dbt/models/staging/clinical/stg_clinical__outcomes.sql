with

source as (
    {{ versioned_rows('clinical', 'outcomes') }}
),

current_rows as (
    select * from source where _version = 1
),

final as (
    select
        subject_id,
        progressed_on,
        died_on,
        death_cause,
        last_known_alive_on,
        _delivery_sha256 as delivery_sha256
    from current_rows
)

select * from final
