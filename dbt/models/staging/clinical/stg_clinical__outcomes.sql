{#- Current outcomes, one row per subject. The three dates (calendar study) or study days
    (relative study) are both given as study days, the days from infusion (macros/study_day.sql),
    so that survival reads one set of columns in either time mode. -#}
with

source as (
    {{ current_rows('clinical', 'outcomes') }}
),

final as (
    select
        _study_id as study_id,
        subject_id,
        progressed_on,
        died_on,
        death_cause,
        last_known_alive_on,
        {{ study_day_of('progressed_on', delivered_day_expr='progressed_day') }} as progressed_day,
        {{ study_day_of('died_on', delivered_day_expr='died_day') }} as died_day,
        {{ study_day_of('last_known_alive_on', delivered_day_expr='last_known_alive_day') }} as last_known_alive_day,
        _delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        _file_name as file_name,
        _row_number as row_number
    from source
)

select * from final
