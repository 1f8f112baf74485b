{#- Every delivery file (marts.md, audit.deliveries; studies-and-inputs.md, "Adapters"), one row
    per file. A contract file is its raw.deliveries row. A foreign file (raw.deliveries.adapter
    not null) has one raw row per contract source it feeds; here it is one row: source = the
    adapter (e.g. mapped), the records of all its parts summed (delivered = accepted +
    quarantined + out of scope), data_rows = the file's own rows, feeds = the sources it feeds
    (as its registering row lists them), status rejected when the file was, its registering
    (subjects) row's message. -#}
with

deliveries as (
    select * from {{ source('ingest_audit', 'deliveries') }}
),

superseded as (
    select study_id, delivery_sha256, file_name, count(*) as rows_superseded
    from {{ ref('audit_superseded_rows') }}
    group by all
),

{#- The figures of record of a file (issue 16): its out-of-scope records by reason and its
    quarantined rows by rule, as one readable text each ("reason: n; reason: n", the largest
    first), so that audit.deliveries alone says what became of every record. -#}
out_of_scope_reasons as (
    select
        study_id,
        delivery_sha256,
        file_name,
        {{ dbt.listagg("reason || ': ' || n", "'; '", "order by n desc, reason") }} as out_of_scope_reasons
    from (
        select study_id, delivery_sha256, file_name, reason, count(*) as n
        from {{ ref('audit_out_of_scope') }}
        group by all
    ) as by_reason
    group by all
),

{#- A row breaking several rules counts once in rows_quarantined and once under each rule (and
    column) here. -#}
quarantine_rules as (
    select
        study_id,
        delivery_sha256,
        file_name,
        {{ dbt.listagg("rule || ': ' || n", "'; '", "order by n desc, rule") }} as quarantine_rules
    from (
        select study_id, delivery_sha256, file_name, rule, count(*) as n
        from (
            -- the rule with the column it was checked on: `isin(['IV', 'SC', 'PO']) (route)`
            select distinct
                study_id, delivery_sha256, file_name, source, row_number,
                rule || coalesce(' (' || column_name || ')', '') as rule
            from {{ ref('audit_quarantine') }}
        ) as quarantined_rows
        group by all
    ) as by_rule
    group by all
),

contract_files as (
    select
        study_id,
        delivery_sha256,
        source,
        file_name,
        received_at,
        size_bytes,
        status,
        rows_delivered,
        rows_accepted,
        rows_quarantined,
        coalesce(rows_out_of_scope, 0) as rows_out_of_scope,
        coalesce(data_rows, rows_delivered) as data_rows,
        coalesce(feeds, source) as feeds,
        adapter,
        message,
        loaded_at
    from deliveries
    where adapter is null
),

foreign_files as (
    select
        study_id,
        delivery_sha256,
        any_value(adapter) as source,
        file_name,
        min(received_at) as received_at,
        max(size_bytes) as size_bytes,
        case
            when bool_or(status = 'rejected') then 'rejected'
            when bool_and(status = 'duplicate') then 'duplicate'
            else 'loaded'
        end as status,
        sum(rows_delivered) as rows_delivered,
        sum(rows_accepted) as rows_accepted,
        sum(rows_quarantined) as rows_quarantined,
        sum(coalesce(rows_out_of_scope, 0)) as rows_out_of_scope,
        max(data_rows) as data_rows,
        coalesce(
            max(feeds),
            string_agg(distinct source, ',' order by source) filter (where rows_delivered > 0)
        ) as feeds,
        any_value(adapter) as adapter,
        coalesce(max(message) filter (where source = 'subjects'), max(message)) as message,
        max(loaded_at) as loaded_at
    from deliveries
    where adapter is not null
    group by study_id, delivery_sha256, file_name
),

files as (
    select * from contract_files
    union all
    select * from foreign_files
),

final as (
    select
        f.study_id,
        f.delivery_sha256,
        f.source,
        f.file_name,
        f.received_at,
        f.size_bytes,
        f.status,
        cast(f.rows_delivered as bigint) as rows_delivered,
        cast(f.rows_accepted as bigint) as rows_accepted,
        cast(f.rows_quarantined as bigint) as rows_quarantined,
        coalesce(s.rows_superseded, 0) as rows_superseded,
        f.message,
        f.loaded_at,
        cast(f.rows_out_of_scope as bigint) as rows_out_of_scope,
        cast(f.data_rows as bigint) as data_rows,
        f.feeds,
        f.adapter,
        o.out_of_scope_reasons,
        q.quarantine_rules
    from files as f
    left join superseded as s
        on s.study_id = f.study_id and s.delivery_sha256 = f.delivery_sha256 and s.file_name = f.file_name
    left join out_of_scope_reasons as o
        on o.study_id = f.study_id and o.delivery_sha256 = f.delivery_sha256 and o.file_name = f.file_name
    left join quarantine_rules as q
        on q.study_id = f.study_id and q.delivery_sha256 = f.delivery_sha256 and q.file_name = f.file_name
)

select * from final
