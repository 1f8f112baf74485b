{#- The toxicity criteria each study reports, ranked: its study.yml `toxicity_criteria` in order
    (rank 1 = the primary criteria, which fct_subject_endpoints reports). A study with subjects but
    no settings in raw.studies reports var default_toxicity_criteria (ASTCT2019). A criteria that
    a study's daily grades or summaries use without declaring it is reported too, ranked after
    the declared ones (alphabetically): delivered grades are never dropped silently. -#}
with

studies as (
    select study_id, toxicity_criteria from {{ ref('stg_ingest__studies') }}
),

declared as (
    select
        study_id,
        unnest(toxicity_criteria) as criteria,
        true as is_declared
    from studies
),

declared_ranked as (
    select
        d.study_id,
        d.criteria,
        list_position(s.toxicity_criteria, d.criteria) as criteria_rank,
        d.is_declared
    from declared as d
    inner join studies as s on s.study_id = d.study_id
),

-- studies delivering subjects without settings (not listed in raw.studies)
undescribed as (
    select distinct
        study_id,
        '{{ var("default_toxicity_criteria") }}' as criteria,
        1 as criteria_rank,
        false as is_declared
    from {{ ref('stg_clinical__subjects') }}
    where study_id not in (select study_id from studies)
),

known as (
    select * from declared_ranked
    union all
    select * from undescribed
),

in_data as (
    select distinct study_id, criteria from {{ ref('stg_clinical__toxicity_assessments') }}
    union
    select distinct study_id, criteria from {{ ref('stg_clinical__toxicity_summaries') }}
),

undeclared as (
    select
        i.study_id,
        i.criteria,
        cast(coalesce((select max(k.criteria_rank) from known as k where k.study_id = i.study_id), 0)
            + row_number() over (partition by i.study_id order by i.criteria) as integer) as criteria_rank,
        false as is_declared
    from in_data as i
    anti join known as k on k.study_id = i.study_id and k.criteria = i.criteria
),

final as (
    select
        study_id,
        criteria,
        cast(criteria_rank as integer) as criteria_rank,
        criteria_rank = 1 as is_primary,
        is_declared
    from known
    union all
    select study_id, criteria, criteria_rank, criteria_rank = 1, is_declared
    from undeclared
)

select * from final
