{#- CONSORT flow per study (marts.md, agg_consort; Park 2023 Figure 1). evaluable_toxicity =
    every infused subject (derivations.md: every infused subject counts in the denominators);
    evaluable_response = infused with a response assessment on the response window's whole
    study days (1..100). Every step of every study with subjects has a row (0 where none). -#}
with

subjects as (
    select * from {{ ref('dim_subjects') }}
),

responses as (
    select * from {{ ref('stg_clinical__response_assessments') }}
),

assessed as (
    select distinct r.study_id, r.subject_id
    from responses as r
    inner join subjects as s
        on s.study_id = r.study_id and s.subject_id = r.subject_id and s.is_infused
    where {{ whole_day('r.study_day') }} between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
),

per_study as (
    select
        study_id,
        count(*) as enrolled,
        count(*) filter (where is_infused) as infused,
        count(*) filter (where not is_infused) as not_infused
    from subjects
    group by study_id
),

evaluable_response as (
    select study_id, count(*) as n_subjects from assessed group by study_id
),

steps as (
    select study_id, 1 as step_order, 'enrolled' as step, enrolled as n_subjects from per_study
    union all
    select study_id, 2, 'infused', infused from per_study
    union all
    select study_id, 3, 'not_infused', not_infused from per_study
    union all
    select study_id, 4, 'evaluable_toxicity', infused from per_study
    union all
    select p.study_id, 5, 'evaluable_response', coalesce(e.n_subjects, 0)
    from per_study as p
    left join evaluable_response as e on e.study_id = p.study_id
),

final as (
    select study_id, step_order, step, cast(n_subjects as integer) as n_subjects from steps
)

select * from final order by study_id, step_order
