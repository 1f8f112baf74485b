{#- A vocabulary a study may open (studies-and-inputs.md, "Vocabularies that real trials need":
    disease and car_t_product take the contract's codes "plus any a study declares"): every
    non-null value is one of `values` (the contract's list, schemas/clinical.py; tests/
    test_dbt_rules.py keeps the two equal) or one the row's study declares in its study.yml
    (`declared`: the stg_ingest__studies list column, declared_diseases or declared_products).
    Returns the rows whose value is neither. -#}
{% test accepted_values_or_declared(model, column_name, values, declared) %}
with

declared as (
    select study_id, {{ declared }} as codes
    from {{ ref('stg_ingest__studies') }}
)

select m.study_id, m.{{ column_name }}
from {{ model }} as m
left join declared as d on d.study_id = m.study_id
where m.{{ column_name }} is not null
  and m.{{ column_name }} not in ({% for v in values %}'{{ v }}'{{ ", " if not loop.last }}{% endfor %})
  and not coalesce(list_contains(d.codes, m.{{ column_name }}), false)
{% endtest %}
