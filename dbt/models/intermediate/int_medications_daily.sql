{#- Drug exposure of each subject x study day with any administration: dose counts and
    dexamethasone-equivalent mg (derivations.md, "Steroid exposure"). The day's steroid total is
    null when one of its corticosteroid doses was in mg/kg for a subject without weight_kg (it
    cannot be converted, and a partial sum would pass for the total); those doses are counted in
    steroid_doses_missing_weight instead of being dropped silently. Days are whole study days
    (whole_day: a relative study's 2.75 is day 2). steroid_rows: the delivered rows of the day's
    corticosteroid doses (audit.lineage). -#}
with

doses as (
    select * from {{ ref('int_medications_dosed') }}
    where study_day is not null
),

final as (
    select
        study_id,
        subject_id,
        {{ whole_day('study_day') }} as study_day,
        count(*) filter (where drug = 'tocilizumab') as tocilizumab_doses,
        count(*) filter (where drug = 'siltuximab') as siltuximab_doses,
        count(*) filter (where drug = 'anakinra') as anakinra_doses,
        count(*) filter (where is_corticosteroid) as steroid_doses,
        count(*) filter (where is_corticosteroid and is_missing_weight) as steroid_doses_missing_weight,
        case
            when count(*) filter (where is_corticosteroid and is_missing_weight) > 0 then null
            else coalesce(sum(dex_equiv_mg) filter (where is_corticosteroid), 0)
        end as steroid_dex_equiv_mg,
        -- issue 17: the corticosteroid doses that make the day's steroid total (audit.lineage)
        list({{ delivered_row('medications') }} order by study_day, row_number)
            filter (where is_corticosteroid) as steroid_rows
    from doses
    group by study_id, subject_id, {{ whole_day('study_day') }}
)

select * from final
