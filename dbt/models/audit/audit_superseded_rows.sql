{#- Rows replaced by a later delivery with the same natural key: kept for the audit trail. The
    natural key starts with the study (var natural_keys), so a row is only ever replaced by a
    row of its own study. -#}
{%- set sources = [
    ('clinical', 'subjects'), ('clinical', 'vitals'), ('clinical', 'neuro_assessments'),
    ('clinical', 'toxicity_assessments'), ('clinical', 'toxicity_summaries'), ('clinical', 'medications'),
    ('clinical', 'response_assessments'), ('clinical', 'outcomes'), ('clinical', 'subject_attributes'),
    ('clinical', 'samples'),
    ('serum', 'serum_cytokines'), ('serum', 'serum_labs'),
    ('csf', 'csf_samples'), ('csf', 'csf_cytokines'),
] -%}

with

{% for source_name, table_name in sources %}
{{ table_name }}_versions as (
    {{ versioned_rows(source_name, table_name, only_repeated=true) }}
),
{% endfor %}

superseded as (
    {% for source_name, table_name in sources %}
    select
        _study_id as study_id,
        '{{ table_name }}' as source,
        _delivery_sha256 as delivery_sha256,
        _file_name as file_name,
        _row_number as row_number,
        _version as version_rank
    from {{ table_name }}_versions
    where _version > 1
    {{ "union all" if not loop.last }}
    {% endfor %}
),

final as (
    select * from superseded
)

select * from final
