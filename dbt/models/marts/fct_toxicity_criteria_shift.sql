{#- The cross-table of two criteria's max grades per infused subject (studies-and-inputs.md,
    "Marts additions": the Lee vs ASTCT comparison publications make), per study and toxicity,
    for each pair of criteria the study reports for that toxicity: criteria_a the one ranked
    first (the primary criteria, when it is one of the pair), criteria_b the other. Every cell
    grade_a x grade_b of 0..5 x 0..5 (marts.md: grades are integers 0..5) has a row, n_subjects
    0 where none, so that it pivots to a full table. A subject whose grade is unknown under
    either criteria (a presence-only summary) is in no cell. -#}
with

max_grades as (
    select * from {{ ref('int_toxicity_max_grades') }}
),

reported as (
    select distinct study_id, toxicity, criteria, criteria_rank from max_grades
),

pairs as (
    select
        a.study_id,
        a.toxicity,
        a.criteria as criteria_a,
        b.criteria as criteria_b
    from reported as a
    inner join reported as b
        on b.study_id = a.study_id and b.toxicity = a.toxicity and b.criteria_rank > a.criteria_rank
),

grades as (
    select cast(unnest(range(0, 6)) as integer) as grade
),

cells as (
    select p.*, ga.grade as grade_a, gb.grade as grade_b
    from pairs as p
    cross join grades as ga
    cross join grades as gb
),

subject_pairs as (
    select
        a.study_id,
        a.toxicity,
        a.criteria as criteria_a,
        b.criteria as criteria_b,
        a.max_grade as grade_a,
        b.max_grade as grade_b,
        count(*) as n_subjects
    from max_grades as a
    inner join max_grades as b
        on b.study_id = a.study_id and b.subject_id = a.subject_id and b.toxicity = a.toxicity
        and b.criteria_rank > a.criteria_rank
    where a.max_grade is not null and b.max_grade is not null
    group by all
),

final as (
    select
        c.study_id,
        c.toxicity,
        c.criteria_a,
        c.criteria_b,
        c.grade_a,
        c.grade_b,
        cast(coalesce(s.n_subjects, 0) as integer) as n_subjects
    from cells as c
    left join subject_pairs as s
        on s.study_id = c.study_id and s.toxicity = c.toxicity
        and s.criteria_a = c.criteria_a and s.criteria_b = c.criteria_b
        and s.grade_a = c.grade_a and s.grade_b = c.grade_b
)

select * from final
