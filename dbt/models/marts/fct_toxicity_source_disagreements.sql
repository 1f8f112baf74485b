{#- Subject x toxicity x criteria where the daily adjudicated grades and the subject's toxicity
    summary disagree (studies-and-inputs.md, "New contract sources": the daily grades win and
    the disagreement is listed; a finding, not an error). They disagree when the summary gives a
    max grade other than the daily grades' worst grade in the toxicity window, or says present
    when no day of the window has grade >= 1 (or absent when one has). -#}
with

max_grades as (
    select * from {{ ref('int_toxicity_max_grades') }}
    where daily_max_grade is not null and summary_present is not null
),

final as (
    select
        study_id,
        subject_id,
        toxicity,
        criteria,
        daily_max_grade,
        summary_max_grade,
        summary_present,
        daily_max_grade >= 1 as daily_present
    from max_grades
    where (summary_max_grade is not null and summary_max_grade <> daily_max_grade)
       or summary_present <> (daily_max_grade >= 1)
)

select * from final
