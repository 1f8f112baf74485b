{#- CONSORT flow per study (marts.md, agg_consort; Park 2023 Figure 1). evaluable_toxicity =
    every infused subject (derivations.md: every infused subject counts in the denominators);
    evaluable_response = infused with a response assessment on the response window's whole
    study days (1..100). Every step of every study with subjects has a row (0 where none).
    counted_rows (issue 17): the delivered rows of the subjects a step counts, from the same
    selection as n_subjects: each subject's subjects row, and for evaluable_response the
    subject's first response assessment of the window (audit.lineage unnests them). -#}
with

subjects as (
    select d.*, s.delivered_row
    from {{ ref('dim_subjects') }} as d
    inner join (
        select study_id, subject_id, {{ delivered_row('subjects', study_day='null') }} as delivered_row
        from {{ ref('stg_clinical__subjects') }}
    ) as s
        on s.study_id = d.study_id and s.subject_id = d.subject_id
),

responses as (
    select *, {{ delivered_row('response_assessments') }} as delivered_row
    from {{ ref('stg_clinical__response_assessments') }}
),

assessed as (
    select
        r.study_id,
        r.subject_id,
        -- the window's first assessment: the row that makes the subject evaluable
        list(r.delivered_row order by r.study_day, r.delivered_row.file_name, r.delivered_row.row_number)[1]
            as delivered_row
    from responses as r
    inner join subjects as s
        on s.study_id = r.study_id and s.subject_id = r.subject_id and s.is_infused
    where {{ whole_day('r.study_day') }} between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
    group by r.study_id, r.subject_id
),

per_study as (
    select
        study_id,
        count(*) as enrolled,
        count(*) filter (where is_infused) as infused,
        count(*) filter (where not is_infused) as not_infused,
        list(delivered_row order by subject_id) as enrolled_rows,
        list(delivered_row order by subject_id) filter (where is_infused) as infused_rows,
        list(delivered_row order by subject_id) filter (where not is_infused) as not_infused_rows
    from subjects
    group by study_id
),

evaluable_response as (
    select study_id, count(*) as n_subjects, list(delivered_row order by subject_id) as counted_rows
    from assessed
    group by study_id
),

steps as (
    select study_id, 1 as step_order, 'enrolled' as step, enrolled as n_subjects, enrolled_rows as counted_rows
    from per_study
    union all
    select study_id, 2, 'infused', infused, infused_rows from per_study
    union all
    select study_id, 3, 'not_infused', not_infused, not_infused_rows from per_study
    union all
    select study_id, 4, 'evaluable_toxicity', infused, infused_rows from per_study
    union all
    select p.study_id, 5, 'evaluable_response', coalesce(e.n_subjects, 0), e.counted_rows
    from per_study as p
    left join evaluable_response as e on e.study_id = p.study_id
),

final as (
    select
        study_id,
        step_order,
        step,
        cast(n_subjects as integer) as n_subjects,
        coalesce(counted_rows, []) as counted_rows
    from steps
)

select * from final order by study_id, step_order
