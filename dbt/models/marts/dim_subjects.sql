{#- One row per enrolled subject of every study (marts.md, dim_subjects): a subject is
    (study_id, subject_id). is_infused = infused_on is not null, or (relative study) the
    delivered `infused` flag (stg_clinical__subjects). -#}
with

subjects as (
    select * from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
        study_id,
        subject_id,
        site_id,
        enrolled_on,
        age_years,
        sex,
        weight_kg,
        disease,
        car_t_product,
        infused_on,
        is_infused,
        not_infused_reason
    from subjects
)

select * from final
