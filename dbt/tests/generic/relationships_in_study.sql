{#- Referential integrity within a study (studies-and-inputs.md: a subject is identified by
    (study, subject_id); subject ids are unique within a study only): every non-null
    (study_id, column) of the model is a (study_id, field) of `to`. dbt's `relationships` test
    compares one column, which would accept a subject id known in another study. Returns the
    rows whose pair is unknown. -#}
{% test relationships_in_study(model, column_name, to, field) %}
with

child as (
    select study_id, {{ column_name }} as value
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select distinct study_id, {{ field }} as value
    from {{ to }}
)

select child.*
from child
anti join parent
    on parent.study_id is not distinct from child.study_id and parent.value = child.value
{% endtest %}
