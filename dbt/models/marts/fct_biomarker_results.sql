{#- One row per biomarker measurement (marts.md, fct_biomarker_results), with the subject's
    baseline for that specimen x analyte and the fold change from it (derivations.md,
    "Cytokine kinetics": baseline = last sample by collection time on study days -14..0, the
    vars baseline_window_first_day..baseline_window_last_day; fold change = value / baseline,
    both on analysis_value). Two baseline candidates collected at the same instant are ordered
    by sample_id (the largest wins), so the choice is stable. A baseline of 0 gives no fold
    change (null), never a division by zero.

    Per study (a subject is (study_id, subject_id)). study_day keeps a relative study's fraction
    (7.25 = day 7 at 06:00); the baseline window compares the whole day, floor(study_day), as
    every window does; within it the last sample is the latest collection time, or in a relative
    study (no collection time) the latest study day. -#}

with

measurements as (
    select * from {{ ref('int_biomarker_measurements') }}
),

baseline_candidates as (
    select
        study_id,
        subject_id,
        specimen,
        analyte,
        analysis_value,
        row_number() over (
            partition by study_id, subject_id, specimen, analyte
            order by collected_at desc nulls last, study_day desc, sample_id desc nulls last, measurement_id desc
        ) as recency
    from measurements
    where {{ whole_day('study_day') }} between {{ var('baseline_window_first_day') }} and {{ var('baseline_window_last_day') }}
),

baselines as (
    select study_id, subject_id, specimen, analyte, analysis_value as baseline_value
    from baseline_candidates
    where recency = 1
),

final as (
    select
        m.study_id,
        m.measurement_id,
        m.subject_id,
        m.specimen,
        m.analyte,
        m.analyte_kind,
        m.sample_id,
        m.collected_at,
        m.local_date,
        m.study_day,
        m.value,
        m.unit,
        m.censoring,
        m.lloq,
        m.uloq,
        m.analysis_value,
        m.substitution_rule,
        b.baseline_value,
        m.analysis_value / nullif(b.baseline_value, 0) as fold_change,
        m.result_as_delivered,
        m.unit_as_delivered,
        m.source,
        m.delivery_sha256,
        -- the delivered row (issue 17): file under the landing folder, its data row, an SDTM --SEQ
        m.file_name,
        m.row_number,
        m.record_seq
    from measurements as m
    left join baselines as b
        on b.study_id = m.study_id and b.subject_id = m.subject_id
        and b.specimen = m.specimen and b.analyte = m.analyte
)

select * from final
