{#- Row-level lineage (issue 17; schemas/lineage.py): one row per edge from a value of a row
    (target_table, target_key, target_column) to what decided it - another lineage target
    (upstream_table, upstream_key, upstream_column) or a delivered row (upstream_table
    `raw.<source>`, delivery_sha256, file_name, row_number, record_seq, study_day). The deciding
    rows are chosen by the models that compute the values (int_toxicity_max_grades.deciding_rows,
    int_crs_grade_daily.deciding_rows, agg_toxicity_rates.counted_subject_ids,
    agg_response_rates.counted_subject_ids, int_survival_times.os_row / pfs_row / infusion_row,
    fct_cytokine_kinetics.peak_*); this model only unnests and names them. `warehouse explain`
    follows the edges down to the delivered rows.

    Edges:
      - int_toxicity_max_grades (subject x toxicity x criteria) max_grade -> the adjudicated
        assessments of the window holding the max grade, or the summary row; none when nothing
        was recorded (0 by rule);
      - marts.fct_subject_endpoints crs_max_grade / icans_max_grade -> the subject's
        int_toxicity_max_grades row of the study's primary criteria (toxicity_criteria);
      - marts.fct_subject_endpoints crs_max_grade_derived -> the vitals rows of the readings
        that hold the maximum, on the days of the toxicity window whose derived grade is it;
      - marts.fct_subject_endpoints steroid_dex_equiv_mg_total -> the corticosteroid doses of
        the window's days (int_medications_daily.steroid_rows);
      - marts.fct_subject_endpoints best_response_d100 -> the assessment behind it
        (fct_subject_endpoints.best_response_row, chosen where the best response is);
      - marts.fct_subject_endpoints os_days / pfs_days -> the subject's outcomes row (the day
        the time ends on) and, in a calendar study, the subjects row whose infused_on the dates
        count from (day 0); os_event / pfs_event -> the outcomes row (int_survival_times);
      - marts.agg_toxicity_rates n_subjects -> each counted subject's int_toxicity_max_grades row;
      - marts.agg_response_rates n_subjects -> each counted subject's fct_subject_endpoints
        best_response_d100 (and that to its assessment, above);
      - marts.agg_consort n_subjects -> the delivered row of each subject counted (its subjects
        row; for evaluable_response its first response assessment of the window);
      - marts.fct_cytokine_kinetics peak_value -> the peak sample's delivered row.
    Proportional to the data: a subject's rows decide its values, a cell points to its subjects. -#}
{%- set tox_first = var('toxicity_window_first_day') -%}
{%- set tox_last = var('toxicity_window_last_day') -%}
with

max_grades as (
    select * from {{ ref('int_toxicity_max_grades') }}
),

endpoints as (
    select * from {{ ref('fct_subject_endpoints') }}
),

max_grade_rows as (
    select
        study_id,
        {{ lineage_key('int_toxicity_max_grades') }} as target_key,
        unnest(deciding_rows) as delivered
    from max_grades
),

max_grade_edges as (
    select
        study_id,
        {{ lineage_edge_to_row('int_toxicity_max_grades', 'target_key', 'max_grade', 'delivered') }}
    from max_grade_rows
),

-- the primary criteria's max grade of each subject (fct_subject_endpoints.toxicity_criteria)
endpoint_grades as (
    select study_id, subject_id, toxicity, criteria, target_column,
           {{ lineage_key('marts.fct_subject_endpoints') }} as target_key
    from (
        select study_id, subject_id, 'CRS' as toxicity, toxicity_criteria as criteria, 'crs_max_grade' as target_column
        from endpoints
        union all
        select study_id, subject_id, 'ICANS', toxicity_criteria, 'icans_max_grade'
        from endpoints
    ) as grades
),

endpoint_grade_edges as (
    select
        e.study_id,
        {{ lineage_edge_to_target('marts.fct_subject_endpoints', 'e.target_key', 'e.target_column',
                                  'int_toxicity_max_grades', 'm.upstream_key', 'max_grade') }}
    from endpoint_grades as e
    inner join (
        select study_id, subject_id, toxicity, criteria, {{ lineage_key('int_toxicity_max_grades') }} as upstream_key
        from max_grades
    ) as m
        on m.study_id = e.study_id and m.subject_id = e.subject_id
        and m.toxicity = e.toxicity and m.criteria = e.criteria
),

-- the derived maximum: the window's days whose derived grade is the subject's maximum
derived_days as (
    select d.study_id, d.subject_id, d.deciding_rows
    from {{ ref('int_crs_grade_daily') }} as d
    inner join endpoints as e
        on e.study_id = d.study_id and e.subject_id = d.subject_id
        and d.crs_grade_derived = e.crs_max_grade_derived
    where d.study_day between {{ tox_first }} and {{ tox_last }}
),

derived_rows as (
    select study_id, subject_id, unnest(deciding_rows) as delivered
    from derived_days
),

derived_edges as (
    select
        study_id,
        {{ lineage_edge_to_row('marts.fct_subject_endpoints', lineage_key('marts.fct_subject_endpoints'), 'crs_max_grade_derived', 'delivered') }}
    from derived_rows
),

-- the steroid total: the corticosteroid doses of the window's days (int_medications_daily)
steroid_rows as (
    select
        d.study_id,
        d.subject_id,
        unnest(d.steroid_rows) as delivered
    from {{ ref('int_medications_daily') }} as d
    where d.study_day between {{ tox_first }} and {{ tox_last }} and len(d.steroid_rows) > 0
),

steroid_edges as (
    select
        study_id,
        {{ lineage_edge_to_row('marts.fct_subject_endpoints', lineage_key('marts.fct_subject_endpoints'), 'steroid_dex_equiv_mg_total', 'delivered') }}
    from steroid_rows
),

-- the best response: the assessment it was read from (fct_subject_endpoints.best_response_row)
best_response_edges as (
    select
        study_id,
        {{ lineage_edge_to_row('marts.fct_subject_endpoints', lineage_key('marts.fct_subject_endpoints'), 'best_response_d100', 'best_response_row') }}
    from endpoints
    where best_response_row is not null
),

-- the survival times (int_survival_times): the outcomes row that ends each time, and for the
-- times the subjects row they count from (calendar study); for the values the mart has
survival_times as (
    select
        e.study_id,
        e.subject_id,
        e.os_days,
        e.os_event,
        e.pfs_days,
        e.pfs_event,
        v.os_row,
        v.pfs_row,
        v.infusion_row
    from endpoints as e
    inner join {{ ref('int_survival_times') }} as v
        on v.study_id = e.study_id and v.subject_id = e.subject_id
),

survival_rows as (
    select study_id, subject_id, 'os_days' as target_column, unnest([os_row, infusion_row]) as delivered
    from survival_times where os_days is not null
    union all
    select study_id, subject_id, 'os_event', os_row
    from survival_times where os_event is not null
    union all
    select study_id, subject_id, 'pfs_days', unnest([pfs_row, infusion_row])
    from survival_times where pfs_days is not null
    union all
    select study_id, subject_id, 'pfs_event', pfs_row
    from survival_times where pfs_event is not null
),

survival_edges as (
    {%- for column in ['os_days', 'os_event', 'pfs_days', 'pfs_event'] %}
    select
        study_id,
        {{ lineage_edge_to_row('marts.fct_subject_endpoints', lineage_key('marts.fct_subject_endpoints'), column, 'delivered') }}
    from survival_rows
    where target_column = '{{ column }}' and delivered is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

-- a rate cell's counted subjects, each to its max grade of the cell's toxicity and criteria
counted as (
    select
        study_id,
        {{ lineage_key('marts.agg_toxicity_rates') }} as target_key,
        toxicity,
        criteria,
        unnest(counted_subject_ids) as subject_id
    from {{ ref('agg_toxicity_rates') }}
),

rate_edges as (
    select
        study_id,
        {{ lineage_edge_to_target('marts.agg_toxicity_rates', 'target_key', "'n_subjects'",
                                  'int_toxicity_max_grades', lineage_key('int_toxicity_max_grades'), 'max_grade') }}
    from counted
),

-- a response cell's counted subjects, each to its best response (whose edge goes on to the
-- assessment: best_response_edges)
response_counted as (
    select
        study_id,
        {{ lineage_key('marts.agg_response_rates') }} as target_key,
        unnest(counted_subject_ids) as subject_id
    from {{ ref('agg_response_rates') }}
),

response_rate_edges as (
    select
        study_id,
        {{ lineage_edge_to_target('marts.agg_response_rates', 'target_key', "'n_subjects'",
                                  'marts.fct_subject_endpoints', lineage_key('marts.fct_subject_endpoints'), 'best_response_d100') }}
    from response_counted
),

peak_edges as (
    select
        study_id,
        'marts.fct_cytokine_kinetics' as target_table,
        {{ lineage_key('marts.fct_cytokine_kinetics') }} as target_key,
        'peak_value' as target_column,
        'raw.' || peak_source as upstream_table,
        cast(null as varchar) as upstream_key,
        cast(null as varchar) as upstream_column,
        peak_source as source,
        peak_delivery_sha256 as delivery_sha256,
        peak_file_name as file_name,
        peak_row_number as row_number,
        peak_record_seq as record_seq,
        cast(peak_day as double) as study_day
    from {{ ref('fct_cytokine_kinetics') }}
    where peak_measurement_id is not null
),

-- a CONSORT step's subjects (agg_consort.counted_rows)
consort_rows as (
    select study_id, {{ lineage_key('marts.agg_consort') }} as target_key, unnest(counted_rows) as delivered
    from {{ ref('agg_consort') }}
),

consort_edges as (
    select
        study_id,
        {{ lineage_edge_to_row('marts.agg_consort', 'target_key', 'n_subjects', 'delivered') }}
    from consort_rows
),

final as (
    select * from max_grade_edges
    union all
    select * from endpoint_grade_edges
    union all
    select * from derived_edges
    union all
    select * from steroid_edges
    union all
    select * from best_response_edges
    union all
    select * from survival_edges
    union all
    select * from rate_edges
    union all
    select * from response_rate_edges
    union all
    select * from consort_edges
    union all
    select * from peak_edges
)

select * from final
