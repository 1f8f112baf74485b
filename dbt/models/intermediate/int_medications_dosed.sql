{#- Every drug administration with its dose in mg and, for corticosteroids, in
    dexamethasone-equivalent mg (derivations.md, "Steroid exposure"). A dose in mg/kg is
    multiplied by the subject's weight_kg; without a weight it cannot be converted: dose_mg and
    dex_equiv_mg stay null and is_missing_weight flags the row (weight lives in another source,
    so the ingest cannot quarantine it; the marts carry the flag on). Subjects are matched on
    (study_id, subject_id). -#}
with

medications as (
    select * from {{ ref('stg_clinical__medications') }}
),

subjects as (
    select study_id, subject_id, weight_kg from {{ ref('stg_clinical__subjects') }}
),

steroid_equivalents as (
    select * from {{ ref('steroid_equivalents') }}
),

dosed as (
    select
        m.study_id,
        m.subject_id,
        m.drug,
        m.administered_at,
        m.local_date,
        m.study_day,
        m.dose,
        m.dose_unit,
        m.route,
        m.indication,
        s.weight_kg,
        -- derivations.md, Steroid exposure: doses in mg/kg are multiplied by weight_kg
        case
            when m.dose_unit = 'mg' then m.dose
            when m.dose_unit = 'mg/kg' then m.dose * s.weight_kg
        end as dose_mg,
        m.dose_unit = 'mg/kg' and s.weight_kg is null as is_missing_weight,
        e.drug is not null as is_corticosteroid,
        e.dex_equivalent_factor,
        m.delivery_sha256,
        m.file_name,
        m.row_number
    from medications as m
    left join subjects as s on s.study_id = m.study_id and s.subject_id = m.subject_id
    left join steroid_equivalents as e on e.drug = m.drug
),

final as (
    select
        study_id,
        subject_id,
        drug,
        administered_at,
        local_date,
        study_day,
        dose,
        dose_unit,
        route,
        indication,
        weight_kg,
        dose_mg,
        is_missing_weight,
        is_corticosteroid,
        dex_equivalent_factor,
        -- derivations.md, Steroid exposure: dexamethasone-equivalent mg = mg x factor (seed)
        dose_mg * dex_equivalent_factor as dex_equiv_mg,
        -- derivations.md, CRS grade (masked fever): tocilizumab, siltuximab or a corticosteroid
        -- given after a CRS episode began masks its fever
        drug in ('tocilizumab', 'siltuximab') or is_corticosteroid as masks_crs_fever,
        -- the delivered medications row (issue 17, lineage)
        delivery_sha256,
        file_name,
        row_number
    from dosed
)

select * from final
