with

subjects as (
    select * from {{ ref('stg_clinical__subjects') }}
),

final as (
    select
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
