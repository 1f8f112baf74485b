{#- The investigator's adjudicated grades per subject x whole study day x criteria
    (toxicity_assessments; derivations.md, "Adjudicated vs derived grades"). A calendar study has
    one assessment per subject and date (the natural key); a relative study may give two on one
    whole day (7.0 and 7.5): the day's grade is the worst of them. Assessments without a study
    day (subject not infused) are left out. -#}
with

assessments as (
    select * from {{ ref('stg_clinical__toxicity_assessments') }}
    where study_day is not null
),

final as (
    select
        study_id,
        subject_id,
        {{ whole_day('study_day') }} as study_day,
        criteria,
        max(crs_grade) as crs_grade,
        max(icans_grade) as icans_grade,
        count(*) as n_assessments
    from assessments
    group by study_id, subject_id, {{ whole_day('study_day') }}, criteria
)

select * from final
