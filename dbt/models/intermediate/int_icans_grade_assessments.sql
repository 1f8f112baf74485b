{#- The ICANS grade of every neuro assessment (derivations.md, "ICANS grade from signs": ASTCT
    consensus for adults, Lee et al. Biol Blood Marrow Transplant 2019;25:625): the worst domain
    wins. The single place the ICANS table is written; int_icans_grade_daily takes the worst of
    a day. A missing domain grades nothing (null), so a missing ICE score grades nothing by
    itself and an assessment with every domain missing has no grade. -#}
with

assessments as (
    select * from {{ ref('stg_clinical__neuro_assessments') }}
),

domains as (
    select
        study_id,
        subject_id,
        assessed_at,
        local_date,
        study_day,
        ice_score,
        consciousness,
        seizure,
        motor_weakness,
        cerebral_edema,
        -- ICANS table, row "ICE score"
        case
            -- grade 4: ICE 0 and unarousable
            when ice_score = 0 and consciousness = 'unarousable' then 4
            -- grade 3: 0-2
            when ice_score between 0 and 2 then 3
            -- grade 2: 3-6
            when ice_score between 3 and 6 then 2
            -- grade 1: 7-9
            when ice_score between 7 and 9 then 1
            -- 10: normal
            when ice_score = 10 then 0
        end as ice_grade,
        -- ICANS table, row "consciousness"
        case consciousness
            when 'normal' then 0
            when 'awakens_spontaneously' then 1
            when 'awakens_to_voice' then 2
            when 'awakens_to_tactile' then 3
            when 'unarousable' then 4
        end as consciousness_grade,
        -- ICANS table, row "seizure"
        case seizure
            when 'none' then 0
            when 'resolved_rapidly' then 3
            when 'nonconvulsive_eeg_resolved' then 3
            when 'prolonged_or_repetitive' then 4
        end as seizure_grade,
        -- ICANS table, row "motor weakness"
        case motor_weakness
            when 'none' then 0
            when 'deep_focal' then 4
        end as motor_weakness_grade,
        -- ICANS table, row "cerebral edema"
        case cerebral_edema
            when 'none' then 0
            when 'focal' then 3
            when 'diffuse' then 4
        end as cerebral_edema_grade
    from assessments
),

final as (
    select
        *,
        -- "the worst domain wins" (greatest ignores missing domains)
        greatest(
            ice_grade, consciousness_grade, seizure_grade, motor_weakness_grade, cerebral_edema_grade
        ) as icans_grade
    from domains
)

select * from final
