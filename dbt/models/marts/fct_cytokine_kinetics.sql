{#- Per subject x specimen x analyte kinetics (marts.md, fct_cytokine_kinetics;
    derivations.md, "Cytokine kinetics"), on analysis_value (the substitution rule is a column).
    Windows are dbt vars (dbt_project.yml), edges included; the defaults are in the column names:
    - baseline_value: from fct_biomarker_results (last sample on study days -14..0, vars
      baseline_window_first_day / _last_day);
    - peak_value, peak_day: the highest value on study days 0..28 (vars peak_window_first_day /
      _last_day); equal highs -> the earliest sample wins;
    - auc_d0_d14: trapezoid of the value over study days 0..14 (vars auc_window_first_day /
      _last_day) on the samples present (our choice): several samples of one study day are
      first averaged into that day's value; no interpolation or extrapolation to the window's
      edges (auc_first_day / auc_last_day say which days it spans); null with fewer than two
      sampled days;
    - peak_fold_change = peak_value / baseline_value (null when either is missing or baseline is 0);
    - n_samples: measurements with a study day (any day); n_censored: below_lloq + above_uloq
      among them (extrapolated results are counted apart, in n_extrapolated); n_samples_d0_d28:
      those in the peak window.
    Every analyte of fct_biomarker_results is covered (cytokines, serum labs, CSF measures;
    analyte_kind tells them apart). Subjects never infused have no study days and no row.
    Per study (a subject is (study_id, subject_id)). Windows, the peak's day and the AUC's days
    are whole study days, floor(study_day) (our choice: a relative study's samples at 1.25 and
    1.75 are both day 1, averaged into its day value; the peak_day of a sample at 3.5 is 3); ties
    of the peak go to the earliest sample (collection time, else study day). -#}
{%- set peak_days = var('peak_window_first_day') ~ ' and ' ~ var('peak_window_last_day') -%}
{%- set auc_days = var('auc_window_first_day') ~ ' and ' ~ var('auc_window_last_day') -%}

with

results as (
    select
        *,
        {{ whole_day('study_day') }} as whole_study_day
    from {{ ref('fct_biomarker_results') }}
    where study_day is not null
),

per_analyte as (
    select
        study_id,
        subject_id,
        specimen,
        analyte,
        any_value(analyte_kind) as analyte_kind,
        any_value(unit) as unit,
        any_value(substitution_rule) as substitution_rule,
        any_value(baseline_value) as baseline_value,
        count(*) as n_samples,
        count(*) filter (where censoring in ('below_lloq', 'above_uloq')) as n_censored,
        count(*) filter (where censoring = 'extrapolated') as n_extrapolated,
        count(*) filter (where whole_study_day between {{ peak_days }}) as n_samples_d0_d28
    from results
    group by study_id, subject_id, specimen, analyte
),

peak_candidates as (
    select
        study_id,
        subject_id,
        specimen,
        analyte,
        analysis_value,
        whole_study_day,
        measurement_id,
        source,
        delivery_sha256,
        file_name,
        row_number,
        record_seq,
        row_number() over (
            partition by study_id, subject_id, specimen, analyte
            order by analysis_value desc, collected_at nulls last, study_day, measurement_id
        ) as peak_rank
    from results
    where whole_study_day between {{ peak_days }} and analysis_value is not null
),

peaks as (
    select
        study_id, subject_id, specimen, analyte, analysis_value as peak_value, whole_study_day as peak_day,
        measurement_id as peak_measurement_id,
        source as peak_source,
        delivery_sha256 as peak_delivery_sha256,
        file_name as peak_file_name,
        row_number as peak_row_number,
        record_seq as peak_record_seq
    from peak_candidates
    where peak_rank = 1
),

auc_daily_values as (
    select study_id, subject_id, specimen, analyte, whole_study_day as study_day, avg(analysis_value) as day_value
    from results
    where whole_study_day between {{ auc_days }} and analysis_value is not null
    group by study_id, subject_id, specimen, analyte, whole_study_day
),

trapezoids as (
    select
        *,
        (study_day - lag(study_day) over w)
            * (day_value + lag(day_value) over w) / 2.0 as segment_area
    from auc_daily_values
    window w as (partition by study_id, subject_id, specimen, analyte order by study_day)
),

auc as (
    select
        study_id,
        subject_id,
        specimen,
        analyte,
        case when count(*) >= 2 then sum(segment_area) end as auc_d0_d14,
        min(study_day) as auc_first_day,
        max(study_day) as auc_last_day,
        count(*) as auc_n_days
    from trapezoids
    group by study_id, subject_id, specimen, analyte
),

final as (
    select
        a.study_id,
        a.subject_id,
        a.specimen,
        a.analyte,
        a.analyte_kind,
        a.unit,
        a.baseline_value,
        p.peak_value,
        p.peak_day,
        u.auc_d0_d14,
        u.auc_first_day,
        u.auc_last_day,
        coalesce(u.auc_n_days, 0) as auc_n_days,
        p.peak_value / nullif(a.baseline_value, 0) as peak_fold_change,
        a.n_samples,
        a.n_censored,
        a.n_extrapolated,
        a.n_samples_d0_d28,
        a.substitution_rule,
        -- the sample that is the peak (issue 17: a row-grain mart carries its deciding row):
        -- its fct_biomarker_results row and the delivered row it was read from
        p.peak_measurement_id,
        p.peak_source,
        p.peak_delivery_sha256,
        p.peak_file_name,
        p.peak_row_number,
        p.peak_record_seq
    from per_analyte as a
    left join peaks as p using (study_id, subject_id, specimen, analyte)
    left join auc as u using (study_id, subject_id, specimen, analyte)
)

select * from final
