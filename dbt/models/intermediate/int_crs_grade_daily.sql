{#- Derived CRS grade of each subject-day with vitals: the worst reading of the study day
    (derivations.md, "CRS grade from signs"), with the day's vital-sign summaries of
    fct_toxicity_daily. A day without vitals has no row (no derived grade). -#}
with

readings as (
    select * from {{ ref('int_crs_grade_readings') }}
    where study_day is not null
),

final as (
    select
        subject_id,
        study_day,
        local_date,
        max(crs_grade) as crs_grade_derived,
        max(temperature_c) as tmax_c,
        min(systolic_bp_mmhg) as min_systolic_bp_mmhg,
        -- most agents in one reading, vasopressin included (marts.md)
        max(vasopressor_count) as vasopressor_count,
        -- most intensive device of the day in the contract's order (marts.md)
        arg_max(o2_device, o2_device_rank) as o2_device_worst,
        bool_or(is_fever_masked) as is_fever_masked,
        count(*) as n_readings
    from readings
    group by subject_id, study_day, local_date
)

select * from final
