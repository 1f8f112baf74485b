{#- One row per infused subject x study day of the daily grid (marts.md, fct_toxicity_daily):
    the adjudicated grades beside the grades derived from signs (derivations.md, "Adjudicated vs
    derived grades"), the day's signs and the drugs given. The data of a swimmer plot. -#}
with

grid as (
    select * from {{ ref('int_toxicity_daily_grid') }}
),

adjudicated as (
    select subject_id, study_day, crs_grade, icans_grade
    from {{ ref('stg_clinical__toxicity_assessments') }}
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
        coalesce(i.n_assessments, 0) as n_neuro_assessments
    from grid as g
    left join adjudicated as a on a.subject_id = g.subject_id and a.study_day = g.study_day
    left join crs as c on c.subject_id = g.subject_id and c.study_day = g.study_day
    left join icans as i on i.subject_id = g.subject_id and i.study_day = g.study_day
    left join medications as m on m.subject_id = g.subject_id and m.study_day = g.study_day
)

select * from final
