{#- Derived CRS grade of each subject-day with vitals: the worst reading of the study day
    (derivations.md, "CRS grade from signs"), with the day's vital-sign summaries of
    fct_toxicity_daily. A day without vitals has no row (no derived grade). Days are whole
    study days (whole_day: a relative study's 1.25 is day 1). deciding_rows: the delivered
    vitals rows of the readings that hold the day's grade (audit.lineage). -#}
with

readings as (
    select
        *,
        max(crs_grade) over (partition by study_id, subject_id, {{ whole_day('study_day') }}) as day_max_grade
    from {{ ref('int_crs_grade_readings') }}
    where study_day is not null
),

final as (
    select
        study_id,
        subject_id,
        {{ whole_day('study_day') }} as study_day,
        -- a whole study day is one local date in a calendar study; null in a relative study
        any_value(local_date) as local_date,
        max(crs_grade) as crs_grade_derived,
        max(temperature_c) as tmax_c,
        min(systolic_bp_mmhg) as min_systolic_bp_mmhg,
        -- most agents in one reading, vasopressin included (marts.md)
        max(vasopressor_count) as vasopressor_count,
        -- most intensive device of the day in the contract's order (marts.md)
        arg_max(o2_device, o2_device_rank) as o2_device_worst,
        bool_or(is_fever_masked) as is_fever_masked,
        count(*) as n_readings,
        -- issue 17, "why this value": the readings that gave the day's grade (its worst)
        list({{ delivered_row('vitals') }} order by study_day, row_number)
            filter (where crs_grade = day_max_grade) as deciding_rows
    from readings
    group by study_id, subject_id, {{ whole_day('study_day') }}
)

select * from final
