{#- The investigator's adjudicated grades per subject x whole study day x criteria
    (toxicity_assessments; derivations.md, "Adjudicated vs derived grades"). A calendar study has
    one assessment per subject and date (the natural key); a relative study may give two on one
    whole day (7.0 and 7.5): the day's grade is the worst of them. This is the one place that rule
    is written: int_toxicity_max_grades and fct_toxicity_daily read the days from here.
    crs_rows / icans_rows: the delivered rows of the assessments holding the day's grade (issue
    17, "why this value"; null when the day has no grade of that toxicity). Assessments without a
    study day (subject not infused) are left out. -#}
with

assessments as (
    select
        study_id,
        subject_id,
        criteria,
        {{ whole_day('study_day') }} as whole_day,
        crs_grade,
        icans_grade,
        {{ delivered_row('toxicity_assessments') }} as delivered_row
    from {{ ref('stg_clinical__toxicity_assessments') }}
    where study_day is not null
),

-- the day's worst grade beside each assessment, so that the rows holding it are known
with_day_grades as (
    select
        *,
        max(crs_grade) over (partition by study_id, subject_id, whole_day, criteria) as day_crs_grade,
        max(icans_grade) over (partition by study_id, subject_id, whole_day, criteria) as day_icans_grade
    from assessments
),

final as (
    select
        study_id,
        subject_id,
        whole_day as study_day,
        criteria,
        max(crs_grade) as crs_grade,
        max(icans_grade) as icans_grade,
        count(*) as n_assessments,
        list(delivered_row order by delivered_row.file_name, delivered_row.row_number)
            filter (where crs_grade = day_crs_grade) as crs_rows,
        list(delivered_row order by delivered_row.file_name, delivered_row.row_number)
            filter (where icans_grade = day_icans_grade) as icans_rows
    from with_day_grades
    group by study_id, subject_id, whole_day, criteria
)

select * from final
