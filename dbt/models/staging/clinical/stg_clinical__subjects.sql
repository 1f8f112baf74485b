with

source as (
    {{ versioned_rows('clinical', 'subjects') }}
),

current_rows as (
    select * from source where _version = 1
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
    from current_rows
)

select * from final
