with

deliveries as (
    select * from {{ source('ingest_audit', 'deliveries') }}
),

superseded as (
    select delivery_sha256, file_name, count(*) as rows_superseded
    from {{ ref('audit_superseded_rows') }}
    group by all
),

final as (
    select
        d.delivery_sha256,
        d.source,
        d.file_name,
        d.received_at,
        d.size_bytes,
        d.status,
        d.rows_delivered,
        d.rows_accepted,
        d.rows_quarantined,
        coalesce(s.rows_superseded, 0) as rows_superseded,
        d.message,
        d.loaded_at
    from deliveries as d
    left join superseded as s
        on s.delivery_sha256 = d.delivery_sha256 and s.file_name = d.file_name
)

select * from final
