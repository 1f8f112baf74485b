{#- The toxicity endpoints of every infused subject, per toxicity x criteria the study reports
    (derivations.md, "Adjudicated vs derived grades"; studies-and-inputs.md, "New contract
    sources": daily grades win over a summary, a summary stands where there are no daily grades).

    Which toxicity x criteria a study reports (one row per infused subject for each):
      - CRS and ICANS by every criteria of int_toxicity_criteria (its study.yml toxicity_criteria,
        plus any its data use undeclared), where the study has data of that toxicity (adjudicated
        daily grades or summaries, by any criteria). Our choice: a study that delivered nothing of
        a toxicity (the CD22 export has no ICANS) reports no rate for it, not 0 of N;
      - IEC-HS by the criteria its summaries use, only where the study has IEC-HS data.
    For each subject, in this order:
      - daily: the subject has adjudicated daily grades of this toxicity and criteria
        (int_toxicity_adjudicated_daily, any day: a day's grade is the worst of its assessments): inside the toxicity window, study days
        var toxicity_window_first_day..last_day (0..30, whole days, edges included),
        onset = first day with grade >= 1, duration = number of days with grade >= 1,
        max grade = the worst, 0 when no day of the window has grade >= 1;
      - summary: else its toxicity_summaries row: max grade as delivered (null when only presence
        is known; 0 when the summary says absent), present as delivered, onset = the whole day of
        onset_day, duration = whole resolved_day - whole onset_day (null unless both are given;
        0 when absent). A summary is the subject's whole course: it is not windowed;
      - none: nothing recorded: max grade 0, not present (every infused subject counts in the
        denominators, derivations.md).
    Where both daily grades and a summary exist, the daily grades win; daily_max_grade,
    summary_max_grade and summary_present keep both for fct_toxicity_source_disagreements. -#}
{%- set tox_first = var('toxicity_window_first_day') -%}
{%- set tox_last = var('toxicity_window_last_day') -%}
with

subjects as (
    select study_id, subject_id
    from {{ ref('stg_clinical__subjects') }}
    where is_infused
),

criteria as (
    select study_id, criteria, criteria_rank from {{ ref('int_toxicity_criteria') }}
),

summaries as (
    select * from {{ ref('stg_clinical__toxicity_summaries') }}
),

-- the adjudicated days (the day's grade is the worst of its assessments: written once, in
-- int_toxicity_adjudicated_daily), each toxicity with the delivered rows holding the day's grade
days as (
    select * from {{ ref('int_toxicity_adjudicated_daily') }}
),

daily_days as (
    select study_id, subject_id, 'CRS' as toxicity, criteria, study_day, crs_grade as grade, crs_rows as day_rows
    from days
    where crs_grade is not null
    union all
    select study_id, subject_id, 'ICANS' as toxicity, criteria, study_day, icans_grade as grade, icans_rows as day_rows
    from days
    where icans_grade is not null
),

-- the max grade inside the window beside each row, so that the rows holding it are known
windowed as (
    select
        *,
        study_day between {{ tox_first }} and {{ tox_last }} as in_window,
        coalesce(max(case when grade >= 1 and study_day between {{ tox_first }} and {{ tox_last }} then grade end) over (
            partition by study_id, subject_id, toxicity, criteria
        ), 0) as window_max
    from daily_days
),

-- the graded toxicities (schemas.vocabulary.TOXICITIES) by every criteria the study reports,
-- where it has data of them; IEC-HS (PRESENCE_TOXICITY) only by the criteria of its summaries
reported as (
    select c.study_id, t.toxicity, c.criteria, c.criteria_rank
    from criteria as c
    cross join (values ('CRS'), ('ICANS')) as t (toxicity)
    where exists (
        select 1 from daily_days as d where d.study_id = c.study_id and d.toxicity = t.toxicity
        union all
        select 1 from summaries as s where s.study_id = c.study_id and s.toxicity = t.toxicity
    )
    union
    select distinct s.study_id, s.toxicity, s.criteria, c.criteria_rank
    from summaries as s
    inner join criteria as c on c.study_id = s.study_id and c.criteria = s.criteria
),

daily as (
    select
        study_id,
        subject_id,
        toxicity,
        criteria,
        max(window_max) as max_grade,
        min(study_day) filter (where grade >= 1 and in_window) as onset_day,
        count(*) filter (where grade >= 1 and in_window) as duration_days,
        -- issue 17, "why this value": the assessments holding the max grade on the window's days
        -- whose grade it is (with max grade 0, every such day's assessments: each says 0)
        flatten(list(day_rows order by study_day) filter (where in_window and grade = window_max)) as deciding_rows
    from windowed
    group by study_id, subject_id, toxicity, criteria
),

summary as (
    select
        study_id,
        subject_id,
        toxicity,
        criteria,
        present,
        max_grade as delivered_max_grade,
        coalesce(max_grade, case when not present then 0 end) as max_grade,
        case when present then {{ whole_day('onset_day') }} end as onset_day,
        case
            when not present then 0
            else {{ whole_day('resolved_day') }} - {{ whole_day('onset_day') }}
        end as duration_days,
        [{{ delivered_row('toxicity_summaries', study_day='onset_day') }}] as deciding_rows
    from summaries
),

grid as (
    select s.study_id, s.subject_id, r.toxicity, r.criteria, r.criteria_rank
    from subjects as s
    inner join reported as r on r.study_id = s.study_id
),

final as (
    select
        g.study_id,
        g.subject_id,
        g.toxicity,
        g.criteria,
        g.criteria_rank,
        case
            when d.subject_id is not null then 'daily'
            when m.subject_id is not null then 'summary'
            else 'none'
        end as endpoint_source,
        case
            when d.subject_id is not null then d.max_grade
            when m.subject_id is not null then m.max_grade
            else 0
        end as max_grade,
        case
            when d.subject_id is not null then d.max_grade >= 1
            when m.subject_id is not null then m.present
            else false
        end as present,
        case
            when d.subject_id is not null then d.onset_day
            when m.subject_id is not null then m.onset_day
        end as onset_day,
        case
            when d.subject_id is not null then d.duration_days
            when m.subject_id is not null then m.duration_days
            else 0
        end as duration_days,
        -- a grade was delivered (daily grades always; a summary when it gives max_grade)
        case
            when d.subject_id is not null then true
            when m.subject_id is not null then m.delivered_max_grade is not null
        end as is_graded,
        d.max_grade as daily_max_grade,
        m.delivered_max_grade as summary_max_grade,
        m.present as summary_present,
        -- the delivered rows that decided max_grade (issue 17; audit.lineage): the daily
        -- assessments holding it, or the summary row; none when nothing was recorded (0 by rule)
        case
            when d.subject_id is not null then coalesce(d.deciding_rows, [])
            when m.subject_id is not null then m.deciding_rows
            else []
        end as deciding_rows
    from grid as g
    left join daily as d
        on d.study_id = g.study_id and d.subject_id = g.subject_id
        and d.toxicity = g.toxicity and d.criteria = g.criteria
    left join summary as m
        on m.study_id = g.study_id and m.subject_id = g.subject_id
        and m.toxicity = g.toxicity and m.criteria = g.criteria
)

select * from final
