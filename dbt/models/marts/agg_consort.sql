{#- CONSORT flow (marts.md, agg_consort; Park 2023 Figure 1). evaluable_toxicity = every infused
    subject (derivations.md: every infused subject counts in the denominators);
    evaluable_response = infused with a response assessment on the response window's days. -#}
with

subjects as (
    select * from {{ ref('dim_subjects') }}
),

responses as (
    select * from {{ ref('stg_clinical__response_assessments') }}
),

assessed as (
    select distinct r.subject_id
    from responses as r
    inner join subjects as s on s.subject_id = r.subject_id and s.is_infused
    where r.study_day between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
),

steps as (
    select 1 as step_order, 'enrolled' as step, count(*) as n_subjects from subjects
    union all
    select 2, 'infused', count(*) filter (where is_infused) from subjects
    union all
    select 3, 'not_infused', count(*) filter (where not is_infused) from subjects
    union all
    select 4, 'evaluable_toxicity', count(*) filter (where is_infused) from subjects
    union all
    select 5, 'evaluable_response', count(*) from assessed
),

final as (
    select step_order, step, cast(n_subjects as integer) as n_subjects from steps
)

select * from final order by step_order
