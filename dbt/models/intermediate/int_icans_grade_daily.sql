{#- Derived ICANS grade of each subject-day with a neuro assessment: the worst assessment of the
    study day (derivations.md, "ICANS grade from signs"), with the day's lowest ICE score. A day
    without an assessment has no row (no derived grade). -#}
with

assessments as (
    select * from {{ ref('int_icans_grade_assessments') }}
    where study_day is not null
),

final as (
    select
        subject_id,
        study_day,
        local_date,
        max(icans_grade) as icans_grade_derived,
        min(ice_score) as ice_score_min,
        count(*) as n_assessments
    from assessments
    group by subject_id, study_day, local_date
)

select * from final
