{#- Study day of a record (sources.md, "Study time"): its date as written in the delivery (the
    site's local calendar date, before any conversion to UTC) minus the subject's infused_on, so
    day 0 = infusion day. Null when the subject was not infused or is not a current subject.

    The one place the study day is computed: every staging model with a date calls this macro
    (`{{ study_day(local_date_from_delivered('collected_at')) }} as study_day`) instead of
    joining stg_clinical__subjects itself. Everything downstream takes study_day from staging.

    Why a scalar subquery and not a join: a model gets its study day in one select line, with
    no subjects CTE and join to repeat. DuckDB plans it as a hash join on subject_id (as fast as
    the left join it replaces, measured on 3 M rows x 100,000 subjects), and a subject current
    twice would stop the build with an error instead of silently doubling rows. The subjects'
    id is renamed inside the subquery, so `subject_id_expr` may be an unqualified column of the
    calling model. -#}
{% macro study_day(date_expr, subject_id_expr='subject_id') -%}
    date_diff('day', (
        select subjects.infused_on
        from (
            select subject_id as infused_subject_id, infused_on
            from {{ ref('stg_clinical__subjects') }}
        ) as subjects
        where subjects.infused_subject_id = {{ subject_id_expr }}
    ), {{ date_expr }})
{%- endmacro %}
