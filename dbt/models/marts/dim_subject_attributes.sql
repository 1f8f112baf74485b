{#- Per-subject attributes a study reports beyond the contract (studies-and-inputs.md, "Marts
    additions"), long: one row per subject x attribute, the current value. -#}
with

attributes as (
    select * from {{ ref('stg_clinical__subject_attributes') }}
),

final as (
    select
        study_id,
        subject_id,
        attribute,
        value
    from attributes
)

select * from final
