{#- Current per-subject toxicity summaries (studies-and-inputs.md, "New contract sources"): one
    row per subject x toxicity (CRS, ICANS, IEC-HS) x criteria. `present` is the delivered yes/no
    text as a boolean; max_grade is empty when only presence is known. -#}
with

source as (
    {{ current_rows('clinical', 'toxicity_summaries') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        toxicity,
        criteria,
        {{ is_true_text('present') }} as present,
        cast(max_grade as integer) as max_grade,
        onset_day,
        resolved_day,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
