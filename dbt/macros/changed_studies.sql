{#- Incremental staging (issue 20, "Run only what changed"): a run planned by
    dagster_project/lib/changes.py passes the studies its new deliveries belong to as the var
    `changed_studies`; each staging model then reads and rewrites only those studies' rows (its
    pre-hook, dbt_project.yml, deletes them; the model's rows of the other studies stay as they
    are). Staging is per study all through: natural keys start with `_study_id`, and a study's
    days, times and vocabularies come from its own subjects and settings.

    `changed_studies_only(column)` is the condition: `column in (...)` on an incremental build
    with the var set; `true` when the model is built from scratch (first build, --full-refresh)
    or no run plan passed the var (a hand-run dbt, a selection): then every study is rebuilt,
    the pre-hook deleting every row first. -#}
{% macro changed_studies_only(column) -%}
    {%- set studies = var('changed_studies', none) -%}
    {%- if is_incremental() and studies is not none -%}
        {%- if studies | length == 0 -%}
    false
        {%- else -%}
    {{ column }} in ({% for study in studies %}'{{ study | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
        {%- endif -%}
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
