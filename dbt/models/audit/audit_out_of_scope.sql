{#- Every record of a foreign file that feeds no contract row (studies-and-inputs.md, "Adapters":
    counted as out of scope with a reason), as the ingest recorded it in raw.out_of_scope. -#}
with

out_of_scope as (
    select * from {{ source('ingest_audit', 'out_of_scope') }}
),

final as (
    select
        study_id,
        source,
        delivery_sha256,
        file_name,
        row_number,
        locator,
        reason
    from out_of_scope
)

select * from final
