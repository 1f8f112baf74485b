{#- Survival times per subject with an outcomes row (derivations.md, "Survival"), and the
    delivered rows that decided them (issue 17, lineage): fct_subject_endpoints takes os_* and
    pfs_* from here, audit.lineage the rows.

    From infusion. OS: event = death; time to death, else to last known alive. PFS: event =
    progression or death, whichever first; else censored at last known alive. The outcome days
    are days from infusion in either time mode (stg_clinical__outcomes: the date minus the
    subject's infused_on, or the delivered day), whole days.

    The deciding rows: the subject's current outcomes row (one per subject, the latest delivery
    wins) gives died / progressed / last known alive - os_row and pfs_row are that row, each with
    the study day its time ends on (death, else last known alive; the earlier of progression and
    death, else last known alive). In a calendar study the days count from the subject's
    infused_on, so the current subjects row that gave it decides the times too (infusion_row, day
    0); a relative study delivers the days from infusion themselves: no infusion row. -#}
with

outcomes as (
    select * from {{ ref('stg_clinical__outcomes') }}
),

-- the subjects row whose infused_on the outcome dates were counted from (macros/study_day.sql
-- reads the same current row)
infusions as (
    select
        study_id,
        subject_id,
        {{ delivered_row('subjects', study_day='0') }} as infusion_row
    from {{ ref('stg_clinical__subjects') }}
    where infused_on is not null
),

times as (
    select
        o.study_id,
        o.subject_id,
        coalesce(o.died_day, o.last_known_alive_day) as os_end_day,
        o.died_day is not null as os_event,
        coalesce(least(o.progressed_day, o.died_day), o.last_known_alive_day) as pfs_end_day,
        o.progressed_day is not null or o.died_day is not null as pfs_event,
        o.delivery_sha256,
        o.file_name,
        o.row_number
    from outcomes as o
),

final as (
    select
        t.study_id,
        t.subject_id,
        {{ whole_day('t.os_end_day') }} as os_days,
        t.os_event,
        {{ whole_day('t.pfs_end_day') }} as pfs_days,
        t.pfs_event,
        {{ delivered_row('outcomes', study_day='t.os_end_day') }} as os_row,
        {{ delivered_row('outcomes', study_day='t.pfs_end_day') }} as pfs_row,
        i.infusion_row
    from times as t
    left join infusions as i on i.study_id = t.study_id and i.subject_id = t.subject_id
)

select * from final
