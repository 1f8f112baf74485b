{#- Each subject-day of fct_toxicity_daily where the adjudicated and the derived grade differ
    (derivations.md, "Adjudicated vs derived grades"): a day with only one of the two is not a
    discordance, so both must be present. The derived grades follow the ASTCT 2019 tables, so
    only adjudicated grades by ASTCT2019 are compared (a study whose primary criteria is another
    has no discordances here: different scales are not a disagreement). -#}
with

daily as (
    select * from {{ ref('fct_toxicity_daily') }}
    where toxicity_criteria = 'ASTCT2019'
),

crs as (
    select study_id, subject_id, study_day, 'CRS' as toxicity, crs_grade as adjudicated_grade, crs_grade_derived as derived_grade
    from daily
),

icans as (
    select study_id, subject_id, study_day, 'ICANS' as toxicity, icans_grade as adjudicated_grade, icans_grade_derived as derived_grade
    from daily
),

both_toxicities as (
    select * from crs
    union all
    select * from icans
),

final as (
    select
        study_id,
        subject_id,
        study_day,
        toxicity,
        adjudicated_grade,
        derived_grade,
        derived_grade - adjudicated_grade as grade_difference
    from both_toxicities
    where adjudicated_grade is not null
      and derived_grade is not null
      and adjudicated_grade <> derived_grade
)

select * from final
