{#- Every infused subject x every study day of the daily grid (marts.md, fct_toxicity_daily:
    days -5..30, vars daily_grid_first_day / daily_grid_last_day), so that no day is missing.
    Per study: a subject is (study_id, subject_id). calendar_date = infused_on + study_day in a
    calendar study; null in a relative study, which has no dates (nothing invents one). -#}
with

subjects as (
    select study_id, subject_id, infused_on
    from {{ ref('stg_clinical__subjects') }}
    where is_infused
),

study_days as (
    select cast(unnest(range({{ var('daily_grid_first_day') }}, {{ var('daily_grid_last_day') }} + 1)) as integer) as study_day
),

final as (
    select
        s.study_id,
        s.subject_id,
        d.study_day,
        s.infused_on + d.study_day as calendar_date
    from subjects as s
    cross join study_days as d
)

select * from final
