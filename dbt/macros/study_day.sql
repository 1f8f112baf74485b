{#- Study day of a record (sources.md, "Study time"; studies-and-inputs.md, "Relative time").

    Calendar study: the record's date as written in the delivery (the site's local calendar date,
    before any conversion to UTC) minus the subject's infused_on, so day 0 = infusion day; null
    when the subject was not infused or is not a current subject. The subject is matched on
    (study, subject_id): subject ids are unique within a study only.

    Relative study (raw.studies.time_mode = 'relative'): the delivery gives no date and a
    `study_day` (fractional allowed: 7.25 = day 7 at 06:00); that number is the study day.

    `study_day_of(date_expr)` is the one place both are combined: the calendar difference when
    the record has a date, else the delivered study day. One of the two is always empty in a
    study (the ingest quarantines a date in a relative study and a day in a calendar study), so
    no study mode lookup is needed. The result is DOUBLE: a relative study's fraction is kept.

    Every staging model with a date calls it (`{{ study_day_of(local_date_from_delivered(
    'collected_at')) }} as study_day`) instead of joining stg_clinical__subjects itself.
    Everything downstream takes study_day from staging and, for every window and daily grid,
    its whole day `whole_day(study_day)` (floor: 7.25 -> 7, -0.5 -> -1).

    Why a scalar subquery and not a join: a model gets its study day in one select line, with
    no subjects CTE and join to repeat. DuckDB plans it as a hash join on (study, subject) (as
    fast as the left join it replaces), and a subject current twice would stop the build with an
    error instead of silently doubling rows. The subjects' columns are renamed inside the
    subquery, so the id expressions may be unqualified columns of the calling model. -#}
{% macro study_day(date_expr, subject_id_expr='subject_id', study_id_expr='_study_id') -%}
    date_diff('day', (
        select subjects.infused_on
        from (
            select study_id as infused_study_id, subject_id as infused_subject_id, infused_on
            from {{ ref('stg_clinical__subjects') }}
        ) as subjects
        where subjects.infused_study_id = {{ study_id_expr }}
          and subjects.infused_subject_id = {{ subject_id_expr }}
    ), {{ date_expr }})
{%- endmacro %}

{#- The study day of a record of either time mode (see above): the calendar difference, else
    the delivered study day (`delivered_day_expr`, the raw `study_day` column by default). -#}
{% macro study_day_of(date_expr, subject_id_expr='subject_id', study_id_expr='_study_id', delivered_day_expr='study_day') -%}
    coalesce(
        cast({{ study_day(date_expr, subject_id_expr, study_id_expr) }} as double),
        cast({{ delivered_day_expr }} as double)
    )
{%- endmacro %}

{#- The whole study day of a (possibly fractional) study day: floor, as an integer. Every window
    (baseline, peak, AUC, toxicity, response) and every daily grid uses it (7.25 -> day 7). -#}
{% macro whole_day(expr) -%}
    cast(floor({{ expr }}) as integer)
{%- endmacro %}
