{#- One row per infused subject x study day of the daily grid (marts.md, fct_toxicity_daily):
    the adjudicated grades beside the grades derived from signs (derivations.md, "Adjudicated vs
    derived grades"), the day's signs and the drugs given. The data of a swimmer plot.

    Per study, on whole study days (a relative study's 7.25 is day 7). The adjudicated grades are
    those of the study's primary criteria (int_toxicity_criteria rank 1, the criteria
    fct_subject_endpoints reports), named in toxicity_criteria; grades of other criteria feed
    int_toxicity_max_grades and agg_toxicity_rates. -#}
with

grid as (
    select * from {{ ref('int_toxicity_daily_grid') }}
),

primary_criteria as (
    select study_id, criteria from {{ ref('int_toxicity_criteria') }}
    where is_primary
),

adjudicated as (
    select a.study_id, a.subject_id, a.study_day, a.crs_grade, a.icans_grade
    from {{ ref('int_toxicity_adjudicated_daily') }} as a
    inner join primary_criteria as p on p.study_id = a.study_id and p.criteria = a.criteria
),

crs as (
    select * from {{ ref('int_crs_grade_daily') }}
),

icans as (
    select * from {{ ref('int_icans_grade_daily') }}
),

medications as (
    select * from {{ ref('int_medications_daily') }}
),

final as (
    select
        g.study_id,
        g.subject_id,
        g.study_day,
        g.calendar_date,
        a.crs_grade,
        a.icans_grade,
        c.crs_grade_derived,
        i.icans_grade_derived,
        c.tmax_c,
        c.min_systolic_bp_mmhg,
        c.vasopressor_count,
        c.o2_device_worst,
        coalesce(c.is_fever_masked, false) as is_fever_masked,
        i.ice_score_min,
        coalesce(m.tocilizumab_doses, 0) as tocilizumab_doses,
        coalesce(m.siltuximab_doses, 0) as siltuximab_doses,
        coalesce(m.steroid_doses, 0) as steroid_doses,
        case when m.subject_id is null then 0 else m.steroid_dex_equiv_mg end as steroid_dex_equiv_mg,
        coalesce(m.steroid_doses_missing_weight, 0) as steroid_doses_missing_weight,
        coalesce(m.anakinra_doses, 0) as anakinra_doses,
        coalesce(c.n_readings, 0) as n_vitals_readings,
        coalesce(i.n_assessments, 0) as n_neuro_assessments,
        p.criteria as toxicity_criteria
    from grid as g
    left join primary_criteria as p on p.study_id = g.study_id
    left join adjudicated as a
        on a.study_id = g.study_id and a.subject_id = g.subject_id and a.study_day = g.study_day
    left join crs as c
        on c.study_id = g.study_id and c.subject_id = g.subject_id and c.study_day = g.study_day
    left join icans as i
        on i.study_id = g.study_id and i.subject_id = g.subject_id and i.study_day = g.study_day
    left join medications as m
        on m.study_id = g.study_id and m.subject_id = g.subject_id and m.study_day = g.study_day
)

select * from final
