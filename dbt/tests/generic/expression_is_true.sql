{#- Every row of the model satisfies `expression` (the rows that do not are returned). The
    same test as dbt_utils' of this name, written here: one small test does not justify a
    package dependency (and its install step) for the whole project. -#}
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
