{#- A rate table's rows of one grouping (e.g. group_by = car_t_product) partition the infused
    subjects, so for every category (`keys`) their n_subjects and n_total add up to the overall
    row (marts.md, agg_toxicity_rates / agg_response_rates). Rates are per study, so `keys`
    start with study_id. Returns the categories where not. -#}
{% test rate_groups_sum_to_overall(model, group_by, keys) %}
with

overall as (
    select {{ keys | join(', ') }}, n_subjects, n_total
    from {{ model }}
    where group_by = 'overall'
),

grouped as (
    select {{ keys | join(', ') }}, sum(n_subjects) as n_subjects, sum(n_total) as n_total
    from {{ model }}
    where group_by = '{{ group_by }}'
    group by {{ keys | join(', ') }}
)

select
    {% for key in keys %}coalesce(o.{{ key }}, g.{{ key }}) as {{ key }}, {% endfor %}
    o.n_subjects as overall_n_subjects,
    g.n_subjects as grouped_n_subjects,
    o.n_total as overall_n_total,
    g.n_total as grouped_n_total
from overall as o
full outer join grouped as g
    on {% for key in keys %}o.{{ key }} = g.{{ key }}{{ " and " if not loop.last }}{% endfor %}
where coalesce(o.n_subjects, 0) <> coalesce(g.n_subjects, 0)
   or coalesce(o.n_total, 0) <> coalesce(g.n_total, 0)
{% endtest %}
