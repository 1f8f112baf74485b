with

quarantine as (
    select * from {{ source('ingest_audit', 'quarantine') }}
),

final as (
    select
        study_id,
        source,
        delivery_sha256,
        file_name,
        row_number,
        column_name,
        rule,
        value,
        quarantined_at,
        locator
    from quarantine
)

select * from final
