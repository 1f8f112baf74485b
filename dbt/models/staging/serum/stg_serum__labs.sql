{#- Current serum laboratory values, harmonized to the units of marts.md with the
    unit_conversions seed (CRP mg/L, FERRITIN ng/mL, ANC/PLT/WBC 10^9/L, LDH U/L,
    FIBRINOGEN mg/dL, DDIMER ug/mL FEU). Labs are never censored. -#}

with

source as (
    {{ current_rows('serum', 'serum_labs') }}
),

conversions as (
    select analyte, from_unit, to_unit, factor
    from {{ ref('unit_conversions') }}
    where specimen = 'serum'
),

final as (
    select
        l._study_id as study_id,
        l.subject_id,
        {{ utc_from_delivered('l.collected_at', 'l._study_id') }} as collected_at,
        {{ local_date_from_delivered('l.collected_at') }} as local_date,
        {{ study_day_of(local_date_from_delivered('l.collected_at'), 'l.subject_id', 'l._study_id', 'l.study_day') }} as study_day,
        l.test,
        l.value * c.factor as value,
        c.to_unit as unit,
        l.value as value_as_delivered,
        l.unit as unit_as_delivered,
        c.factor as unit_factor,
        -- an SDTM record's LBSEQ: two readings of one test at one time stay two measurements
        l._seq as record_seq,
        l._delivery_sha256 as delivery_sha256,
        -- the delivered row (issue 17, lineage): file under the landing folder and its row
        l._file_name as file_name,
        l._row_number as row_number
    from source as l
    left join conversions as c on c.analyte = l.test and c.from_unit = l.unit
)

select * from final
