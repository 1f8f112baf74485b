{#- Derived ICANS grade of each subject-day with a neuro assessment: the worst assessment of the
    study day (derivations.md, "ICANS grade from signs"), with the day's lowest ICE score. A day
    without an assessment has no row (no derived grade). Days are whole study days (whole_day: a
    relative study's 3.5 is day 3). -#}
with

assessments as (
    select * from {{ ref('int_icans_grade_assessments') }}
    where study_day is not null
),

final as (
    select
        study_id,
        subject_id,
        {{ whole_day('study_day') }} as study_day,
        -- a whole study day is one local date in a calendar study; null in a relative study
        any_value(local_date) as local_date,
        max(icans_grade) as icans_grade_derived,
        min(ice_score) as ice_score_min,
        count(*) as n_assessments
    from assessments
    group by study_id, subject_id, {{ whole_day('study_day') }}
)

select * from final
