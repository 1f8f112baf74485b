{#- Current subjects (per study). A calendar study gives infused_on; a relative study gives no
    date and an `infused` flag (true/false, yes/no, 1/0, any case): either makes a subject
    infused. enrolled_on and infused_on stay null in a relative study (nothing invents a date). -#}
with

source as (
    {{ current_rows('clinical', 'subjects') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        site_id,
        enrolled_on,
        cast(age_years as integer) as age_years,
        sex,
        weight_kg,
        disease,
        car_t_product,
        infused_on,
        infused_on is not null or coalesce({{ is_true_text('infused') }}, false) as is_infused,
        not_infused_reason,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
