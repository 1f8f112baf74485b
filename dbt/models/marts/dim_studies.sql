{#- One row per valid study (studies-and-inputs.md, "Marts additions"): its settings from
    raw.studies (stg_ingest__studies), its enrolled subjects and its delivery files
    (audit.deliveries: one row per file, a foreign file once). last_delivery_at is the latest
    file's modification time (received_at, UTC). -#}
with

studies as (
    select * from {{ ref('stg_ingest__studies') }}
),

subjects as (
    select
        study_id,
        count(*) as n_subjects,
        count(*) filter (where is_infused) as n_infused
    from {{ ref('dim_subjects') }}
    group by study_id
),

deliveries as (
    select
        study_id,
        count(*) as n_deliveries,
        max(received_at) as last_delivery_at
    from {{ ref('audit_deliveries') }}
    group by study_id
),

final as (
    select
        s.study_id,
        s.title,
        s.time_mode,
        cast(coalesce(j.n_subjects, 0) as integer) as n_subjects,
        cast(coalesce(d.n_deliveries, 0) as integer) as n_deliveries,
        d.last_delivery_at,
        s.primary_toxicity_criteria,
        s.kinetics_group_by,
        cast(coalesce(j.n_infused, 0) as integer) as n_infused,
        array_to_string(s.toxicity_criteria, ',') as toxicity_criteria,
        array_to_string(s.response_criteria, ',') as response_criteria,
        s.site_timezone,
        s.study_file
    from studies as s
    left join subjects as j on j.study_id = s.study_id
    left join deliveries as d on d.study_id = s.study_id
)

select * from final
