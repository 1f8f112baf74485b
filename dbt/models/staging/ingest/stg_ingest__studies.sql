{#- The valid studies and the settings the models need, read from raw.studies.settings_json (the
    study's StudyConfig as JSON; schemas/study.py). StudyConfig fills every key with its default,
    so a valid study's settings are complete; the time zone falls back to var('site_timezone')
    when its study.yml names none. An invalid study (its study.yml did not validate) loads no
    deliveries and is left out. -#}
with

source as (
    select * from {{ source('ingest', 'studies') }}
    where status = 'valid'
),

final as (
    select
        study_id,
        title,
        time_mode,
        coalesce(json_extract_string(settings_json, '$.site_timezone'), '{{ var("site_timezone") }}') as site_timezone,
        cast(json_extract(settings_json, '$.toxicity_criteria') as varchar[]) as toxicity_criteria,
        coalesce(
            json_extract_string(settings_json, '$.toxicity_criteria[0]'), '{{ var("default_toxicity_criteria") }}'
        ) as primary_toxicity_criteria,
        cast(json_extract(settings_json, '$.response_criteria') as varchar[]) as response_criteria,
        json_extract_string(settings_json, '$.kinetics_group_by') as kinetics_group_by,
        coalesce(cast(json_extract(settings_json, '$.diseases') as varchar[]), []) as declared_diseases,
        coalesce(cast(json_extract(settings_json, '$.products') as varchar[]), []) as declared_products,
        study_file,
        read_at
    from source
)

select * from final
