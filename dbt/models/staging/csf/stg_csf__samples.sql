{#- Current CSF samples, one row per sample as delivered: cell counts (/uL) and chemistry
    (mg/dL). The column names carry the units; intermediate unpivots them into measurements. -#}

with

source as (
    {{ current_rows('csf', 'csf_samples') }}
),

final as (
    select
        _study_id as study_id,
        sample_id,
        subject_id,
        {{ utc_from_delivered('collected_at') }} as collected_at,
        {{ local_date_from_delivered('collected_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('collected_at')) }} as study_day,
        wbc_per_ul,
        rbc_per_ul,
        protein_mg_dl,
        glucose_mg_dl,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
