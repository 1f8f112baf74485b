{#- One row per infused subject (marts.md, fct_subject_endpoints): toxicity endpoints, drug
    exposure, best response by day 100 and survival times (derivations.md; the survival times
    from int_survival_times, which names the outcomes and infusion rows behind them). A subject
    is (study_id, subject_id); every join is on both.

    Toxicity: crs_* and icans_* are the study's primary criteria's (int_toxicity_criteria rank 1:
    its study.yml toxicity_criteria[0], default ASTCT2019), from int_toxicity_max_grades: the
    daily adjudicated grades inside the toxicity window, else the subject's summary, else 0
    (crs_endpoint_source / icans_endpoint_source say which). iec_hs_present: the IEC-HS summary
    (any criteria), false for a subject without one, null when the study has no IEC-HS data.

    Windows (whole study days, edges included): toxicity window = var toxicity_window_first_day..
    toxicity_window_last_day (0..30) for the derived maxima and drug exposure; response window =
    response_window_first_day..response_window_last_day (1..100). Every infused subject has a row
    (every one counts in the denominators). -#}
{%- set tox_first = var('toxicity_window_first_day') -%}
{%- set tox_last = var('toxicity_window_last_day') -%}
with

subjects as (
    select study_id, subject_id, car_t_product, disease, infused_on
    from {{ ref('dim_subjects') }}
    where is_infused
),

primary_criteria as (
    select study_id, criteria from {{ ref('int_toxicity_criteria') }}
    where is_primary
),

max_grades as (
    select * from {{ ref('int_toxicity_max_grades') }}
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
    where {{ whole_day('study_day') }} between {{ var('response_window_first_day') }} and {{ var('response_window_last_day') }}
),

-- derivations.md, Survival: computed with the outcomes rows that decide them (issue 17)
survival as (
    select * from {{ ref('int_survival_times') }}
),

-- derivations.md, Response: CR > PR > SD > PD, written once in the seed (1 = best)
response_ranks as (
    select response, response_rank from {{ ref('response_ranks') }}
),

-- the primary criteria's endpoints (int_toxicity_max_grades: derivations.md, Adjudicated vs
-- derived; daily grades win over a summary)
primary_endpoints as (
    select m.*
    from max_grades as m
    inner join primary_criteria as p on p.study_id = m.study_id and p.criteria = m.criteria
),

crs as (
    select * from primary_endpoints where toxicity = 'CRS'
),

icans as (
    select * from primary_endpoints where toxicity = 'ICANS'
),

-- IEC-HS is present or absent, whatever the criteria its summary names
iec_hs as (
    select study_id, subject_id, bool_or(present) as iec_hs_present
    from max_grades
    where toxicity = 'IEC-HS'
    group by study_id, subject_id
),

crs_derived_max as (
    select study_id, subject_id, max(crs_grade_derived) as crs_max_grade_derived
    from crs_derived
    group by study_id, subject_id
),

icans_derived_max as (
    select study_id, subject_id, max(icans_grade_derived) as icans_max_grade_derived
    from icans_derived
    group by study_id, subject_id
),

exposure as (
    select
        study_id,
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
    group by study_id, subject_id
),

-- derivations.md, Response: the best of CR > PR > SD > PD on the window's days; an assessment
-- outside the ranks (NE) is no response, so a subject with only those has no row here (NE).
-- Among assessments with the best response, an MRD-negative one comes first (ALL-MRD: the
-- deeper CR; our choice), then MRD-positive, then one without MRD status, then the earliest:
-- best_response_mrd is that assessment's mrd.
best_response as (
    select
        r.study_id,
        r.subject_id,
        arg_min(
            struct_pack(
                response := k.response,
                mrd := r.mrd,
                delivered := {{ delivered_row('response_assessments', study_day='r.study_day') }}
            ),
            [k.response_rank, case r.mrd when 'negative' then 1 when 'positive' then 2 else 3 end, r.study_day]
        ) as best
    from responses as r
    inner join response_ranks as k on k.response = r.response
    group by r.study_id, r.subject_id
),

final as (
    select
        s.study_id,
        s.subject_id,
        s.car_t_product,
        s.disease,
        s.infused_on,
        c.max_grade as crs_max_grade,
        c.onset_day as crs_onset_day,
        c.duration_days as crs_duration_days,
        i.max_grade as icans_max_grade,
        i.onset_day as icans_onset_day,
        i.duration_days as icans_duration_days,
        cd.crs_max_grade_derived,
        id.icans_max_grade_derived,
        coalesce(e.tocilizumab_doses_total, 0) > 0 as received_tocilizumab,
        coalesce(e.steroid_doses_total, 0) > 0 as received_steroids,
        coalesce(e.tocilizumab_doses_total, 0) as tocilizumab_doses_total,
        coalesce(e.steroid_doses_total, 0) as steroid_doses_total,
        case when e.subject_id is null then 0 else e.steroid_dex_equiv_mg_total end as steroid_dex_equiv_mg_total,
        coalesce(e.steroid_doses_missing_weight, 0) as steroid_doses_missing_weight,
        coalesce(e.anakinra_doses_total, 0) as anakinra_doses_total,
        coalesce(b.best.response, 'NE') as best_response_d100,
        -- derivations.md, Survival (int_survival_times: from infusion, whole days; its rows are
        -- the lineage of these four, issue 17); null without an outcomes row
        v.os_days,
        v.os_event,
        v.pfs_days,
        v.pfs_event,
        p.criteria as toxicity_criteria,
        c.endpoint_source as crs_endpoint_source,
        i.endpoint_source as icans_endpoint_source,
        h.iec_hs_present,
        b.best.mrd as best_response_mrd,
        -- the delivered assessment behind best_response_d100 (issue 17; audit.lineage): null for NE
        b.best.delivered as best_response_row
    from subjects as s
    left join primary_criteria as p on p.study_id = s.study_id
    left join crs as c on c.study_id = s.study_id and c.subject_id = s.subject_id
    left join icans as i on i.study_id = s.study_id and i.subject_id = s.subject_id
    left join iec_hs as h on h.study_id = s.study_id and h.subject_id = s.subject_id
    left join crs_derived_max as cd on cd.study_id = s.study_id and cd.subject_id = s.subject_id
    left join icans_derived_max as id on id.study_id = s.study_id and id.subject_id = s.subject_id
    left join exposure as e on e.study_id = s.study_id and e.subject_id = s.subject_id
    left join best_response as b on b.study_id = s.study_id and b.subject_id = s.subject_id
    left join survival as v on v.study_id = s.study_id and v.subject_id = s.subject_id
)

select * from final
