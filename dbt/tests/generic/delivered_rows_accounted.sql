{#- Zero-loss accounting (README.md, "Pointing the warehouse at real deliveries": delivered =
    accepted + quarantined for every delivery; studies-and-inputs.md, "Adapters": a foreign
    file's records are mapped, out of scope or quarantined): every delivered row (record) of a
    loaded or rejected delivery is accepted, quarantined or out of scope (0 for contract files).
    Returns the deliveries where that fails. -#}
{% test delivered_rows_accounted(model) %}
select *
from {{ model }}
where status <> 'duplicate'
  and rows_delivered <> rows_accepted + rows_quarantined + coalesce(rows_out_of_scope, 0)
{% endtest %}
