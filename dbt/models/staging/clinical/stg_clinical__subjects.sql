with

source as (
    {{ current_rows('clinical', 'subjects') }}
),

final as (
    select
        subject_id,
        site_id,
        enrolled_on,
        cast(age_years as integer) as age_years,
        sex,
        weight_kg,
        disease,
        car_t_product,
        infused_on,
        infused_on is not null as is_infused,
        not_infused_reason,
        _delivery_sha256 as delivery_sha256
    from source
)

select * from final
