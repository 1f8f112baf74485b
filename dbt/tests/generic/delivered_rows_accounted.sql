{#- Zero-loss accounting (README.md, "Pointing the warehouse at real deliveries": delivered =
    accepted + quarantined for every delivery): every delivered row of a loaded or rejected
    delivery is accepted or quarantined. Returns the deliveries where that fails. -#}
{% test delivered_rows_accounted(model) %}
select *
from {{ model }}
where status <> 'duplicate'
  and rows_delivered <> rows_accepted + rows_quarantined
{% endtest %}
