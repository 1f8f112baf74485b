{#- One row per infused subject (marts.md, fct_subject_endpoints): toxicity endpoints, drug
    exposure, best response by day 100 and survival times (derivations.md).

    Toxicity window = study days var toxicity_window_first_day..toxicity_window_last_day (0..30),
    edges included; response window = response_window_first_day..response_window_last_day
    (1..100). Every infused subject has a row (every one counts in the denominators). -#}
{%- set tox_first = var('toxicity_window_first_day') -%}
{%- set tox_last = var('toxicity_window_last_day') -%}
with

subjects as (
    select subject_id, car_t_product, disease, infused_on
    from {{ ref('dim_subjects') }}
    where is_infused
),

adjudicated as (
    select * from {{ ref('stg_clinical__toxicity_assessments') }}
    where study_day between {{ tox_first }} and {{ tox_last }}
),

crs_derived as (
    select * from {{ ref('int_crs_grade_daily') }}
    where study_day between {{ tox_first }} and {{ tox_last }}
),

icans_derived as (
    select * from {{ ref('int_icans_grade_daily') }}
    where study_day between {{ tox_first }} and {{ tox_last }}
),

medications as (
    select * from {{ ref('int_medications_daily') }}
    where study_day between {{ tox_first }} and {{ tox_last }}
),

responses as (
    select * from {{ ref('stg_clinical__response_assessments') }}
    where study_day between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
),

outcomes as (
    select * from {{ ref('stg_clinical__outcomes') }}
),

-- derivations.md, Response: CR > PR > SD > PD, written once in the seed (1 = best)
response_ranks as (
    select response, response_rank from {{ ref('response_ranks') }}
),

-- derivations.md, Adjudicated vs derived: onset = first day with grade >= 1; duration = number
-- of days with grade >= 1; max = the worst grade, 0 when no day has grade >= 1
adjudicated_endpoints as (
    select
        subject_id,
        coalesce(max(crs_grade) filter (where crs_grade >= 1), 0) as crs_max_grade,
        min(study_day) filter (where crs_grade >= 1) as crs_onset_day,
        count(*) filter (where crs_grade >= 1) as crs_duration_days,
        coalesce(max(icans_grade) filter (where icans_grade >= 1), 0) as icans_max_grade,
        min(study_day) filter (where icans_grade >= 1) as icans_onset_day,
        count(*) filter (where icans_grade >= 1) as icans_duration_days
    from adjudicated
    group by subject_id
),

crs_derived_max as (
    select subject_id, max(crs_grade_derived) as crs_max_grade_derived
    from crs_derived
    group by subject_id
),

icans_derived_max as (
    select subject_id, max(icans_grade_derived) as icans_max_grade_derived
    from icans_derived
    group by subject_id
),

exposure as (
    select
        subject_id,
        sum(tocilizumab_doses) as tocilizumab_doses_total,
        sum(steroid_doses) as steroid_doses_total,
        sum(steroid_doses_missing_weight) as steroid_doses_missing_weight,
        -- null when a dose could not be converted (int_medications_daily)
        case
            when sum(steroid_doses_missing_weight) > 0 then null
            else coalesce(sum(steroid_dex_equiv_mg), 0)
        end as steroid_dex_equiv_mg_total,
        sum(anakinra_doses) as anakinra_doses_total
    from medications
    group by subject_id
),

-- derivations.md, Response: the best of CR > PR > SD > PD on the window's days; an assessment
-- outside the ranks (NE) is no response, so a subject with only those has no row here (NE)
best_response as (
    select
        r.subject_id,
        arg_min(k.response, k.response_rank) as best_response
    from responses as r
    inner join response_ranks as k on k.response = r.response
    group by r.subject_id
),

final as (
    select
        s.subject_id,
        s.car_t_product,
        s.disease,
        s.infused_on,
        coalesce(a.crs_max_grade, 0) as crs_max_grade,
        a.crs_onset_day,
        coalesce(a.crs_duration_days, 0) as crs_duration_days,
        coalesce(a.icans_max_grade, 0) as icans_max_grade,
        a.icans_onset_day,
        coalesce(a.icans_duration_days, 0) as icans_duration_days,
        cd.crs_max_grade_derived,
        id.icans_max_grade_derived,
        coalesce(e.tocilizumab_doses_total, 0) > 0 as received_tocilizumab,
        coalesce(e.steroid_doses_total, 0) > 0 as received_steroids,
        coalesce(e.tocilizumab_doses_total, 0) as tocilizumab_doses_total,
        coalesce(e.steroid_doses_total, 0) as steroid_doses_total,
        case when e.subject_id is null then 0 else e.steroid_dex_equiv_mg_total end as steroid_dex_equiv_mg_total,
        coalesce(e.steroid_doses_missing_weight, 0) as steroid_doses_missing_weight,
        coalesce(e.anakinra_doses_total, 0) as anakinra_doses_total,
        coalesce(b.best_response, 'NE') as best_response_d100,
        -- derivations.md, Survival: from infusion; OS event = death, time to died_on else
        -- last_known_alive_on; PFS event = progression or death, whichever first, else censored
        -- at last_known_alive_on
        date_diff('day', s.infused_on, coalesce(o.died_on, o.last_known_alive_on)) as os_days,
        case when o.subject_id is not null then o.died_on is not null end as os_event,
        date_diff('day', s.infused_on, coalesce(least(o.progressed_on, o.died_on), o.last_known_alive_on)) as pfs_days,
        case when o.subject_id is not null then o.progressed_on is not null or o.died_on is not null end as pfs_event
    from subjects as s
    left join adjudicated_endpoints as a on a.subject_id = s.subject_id
    left join crs_derived_max as cd on cd.subject_id = s.subject_id
    left join icans_derived_max as id on id.subject_id = s.subject_id
    left join exposure as e on e.subject_id = s.subject_id
    left join best_response as b on b.subject_id = s.subject_id
    left join outcomes as o on o.subject_id = s.subject_id
)

select * from final
