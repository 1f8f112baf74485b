{#- The CRS grade of every vitals reading (derivations.md, "CRS grade from signs": ASTCT
    consensus, Lee et al. Biol Blood Marrow Transplant 2019;25:625). The single place the CRS
    table and the masked-fever rule are written; int_crs_grade_daily takes the worst of a day.

    Masked fever: an episode starts at the first reading with fever; once tocilizumab,
    siltuximab or a corticosteroid (int_medications_dosed.masks_crs_fever) has been given after
    that reading, fever is no longer required and hypotension/hypoxia alone grade the episode,
    until the first day (with vitals) on which no reading has fever, hypotension, a vasopressor
    or oxygen. A day without vitals neither ends nor continues anything by itself. Days are the
    site's local calendar days (local_date), so subjects without infusion are graded too.

    Relative time (studies-and-inputs.md): a relative study's readings and doses have no time
    and no date, only a study day whose fraction is the time of day (7.25 = day 7 at 06:00).
    So the episode logic runs on two keys valid in either mode, compared only within one
    subject (hence one study, one mode):
      - time_key: seconds since the epoch of recorded_at / administered_at (calendar), else the
        study day x 86400 (relative): orders readings and doses;
      - day_key: days since the epoch of local_date (calendar), else the whole study day
        (relative): the day of the clear-day rule. -#}
with

vitals as (
    select * from {{ ref('stg_clinical__vitals') }}
),

-- the intensity order of the contract's device list, room_air first (marts.md o2_device_worst);
-- tests/test_dbt_rules.py keeps the seed equal to schemas.clinical.O2_DEVICES
o2_devices as (
    select o2_device, o2_device_rank from {{ ref('o2_devices') }}
),

masking_doses as (
    select
        study_id,
        subject_id,
        administered_at,
        study_day,
        coalesce(epoch(administered_at), study_day * 86400) as time_key
    from {{ ref('int_medications_dosed') }}
    where masks_crs_fever
),

agents as (
    select
        *,
        -- the distinct agents of the reading, e.g. 'norepinephrine;vasopressin'
        list_distinct(list_filter(
            list_transform(string_split(coalesce(vasopressors, ''), ';'), lambda a: lower(trim(a))),
            lambda a: a <> ''
        )) as vasopressor_agents
    from vitals
),

signs as (
    select
        v.study_id,
        v.subject_id,
        v.recorded_at,
        v.local_date,
        v.study_day,
        coalesce(epoch(v.recorded_at), v.study_day * 86400) as time_key,
        coalesce(date_diff('day', date '1970-01-01', v.local_date), {{ whole_day('v.study_day') }}) as day_key,
        v.temperature_c,
        v.systolic_bp_mmhg,
        v.vasopressors,
        len(v.vasopressor_agents) as vasopressor_count,
        len(list_filter(v.vasopressor_agents, lambda agent: agent <> 'vasopressin')) as non_vasopressin_count,
        v.o2_device,
        d.o2_device_rank,
        v.o2_flow_l_min,
        -- CRS table, grade 1 "fever": temperature >= 38.0 C
        coalesce(v.temperature_c >= 38.0, false) as is_fever,
        -- the delivered vitals row (issue 17: a day's grade names the readings that gave it)
        v.delivery_sha256,
        v.file_name,
        v.row_number
    from agents as v
    left join o2_devices as d on d.o2_device = v.o2_device
),

graded_signs as (
    select
        *,
        -- CRS table, column "hypotension"
        case
            -- grade 4: two or more vasopressors, vasopressin not counted
            when non_vasopressin_count >= 2 then 4
            -- grade 3: one vasopressor, with or without vasopressin (vasopressin alone counts as one)
            when vasopressor_count >= 1 then 3
            -- grade 2: systolic < 90 mmHg, no vasopressor
            when systolic_bp_mmhg < 90 then 2
            else 0
        end as hypotension_grade,
        -- CRS table, column "hypoxia"
        case
            -- grade 4: CPAP, BiPAP, mechanical ventilation
            when o2_device in ('cpap', 'bipap', 'mechanical_ventilation') then 4
            -- grade 3: high-flow nasal cannula, facemask, nonrebreather, Venturi
            when o2_device in ('high_flow_nasal_cannula', 'facemask', 'nonrebreather', 'venturi') then 3
            -- grade 3: nasal cannula > 6 L/min
            when o2_device = 'nasal_cannula' and o2_flow_l_min > 6 then 3
            -- grade 2: nasal cannula <= 6 L/min; no recorded flow counts as low-flow
            when o2_device = 'nasal_cannula' then 2
            else 0
        end as hypoxia_grade
    from signs
),

readings as (
    select
        *,
        -- "the grade is the most severe of hypotension and hypoxia"
        greatest(hypotension_grade, hypoxia_grade) as sign_grade,
        -- a reading with no fever, no hypotension, no vasopressor and no oxygen
        not is_fever and hypotension_grade = 0 and hypoxia_grade = 0 as is_clear
    from graded_signs
),

days as (
    select
        study_id,
        subject_id,
        day_key,
        bool_and(is_clear) as is_clear_day
    from readings
    group by study_id, subject_id, day_key
),

-- An episode ends after its first clear day: number the stretches between clear days (a clear
-- day closes the stretch it belongs to); an episode is the part of a stretch from its first fever.
stretches as (
    select
        study_id,
        subject_id,
        day_key,
        coalesce(sum(case when is_clear_day then 1 else 0 end) over (
            partition by study_id, subject_id order by day_key
            rows between unbounded preceding and 1 preceding
        ), 0) as stretch
    from days
),

readings_in_stretches as (
    select
        r.*,
        s.stretch
    from readings as r
    inner join stretches as s
        on s.study_id = r.study_id and s.subject_id = r.subject_id and s.day_key = r.day_key
),

episodes as (
    -- "fever is required to start a CRS episode"
    select
        study_id,
        subject_id,
        stretch,
        min(time_key) filter (where is_fever) as episode_started_time,
        arg_min(recorded_at, time_key) filter (where is_fever) as episode_started_at,
        arg_min(study_day, time_key) filter (where is_fever) as episode_started_study_day
    from readings_in_stretches
    group by study_id, subject_id, stretch
),

masked_episodes as (
    -- "once tocilizumab, siltuximab or a corticosteroid has been given after the episode began"
    select
        e.study_id,
        e.subject_id,
        e.stretch,
        any_value(e.episode_started_at) as episode_started_at,
        any_value(e.episode_started_study_day) as episode_started_study_day,
        min(m.time_key) as fever_masked_from_time,
        arg_min(m.administered_at, m.time_key) as fever_masked_from,
        arg_min(m.study_day, m.time_key) as fever_masked_from_study_day
    from episodes as e
    left join masking_doses as m
        on m.study_id = e.study_id
        and m.subject_id = e.subject_id
        and m.time_key > e.episode_started_time
    group by e.study_id, e.subject_id, e.stretch
),

final as (
    select
        r.study_id,
        r.subject_id,
        r.recorded_at,
        r.local_date,
        r.study_day,
        r.temperature_c,
        r.systolic_bp_mmhg,
        r.vasopressors,
        r.vasopressor_count,
        r.non_vasopressin_count,
        r.o2_device,
        r.o2_device_rank,
        r.o2_flow_l_min,
        r.is_fever,
        r.hypotension_grade,
        r.hypoxia_grade,
        r.sign_grade,
        r.is_clear,
        e.episode_started_at as crs_episode_started_at,
        e.episode_started_study_day as crs_episode_started_study_day,
        e.fever_masked_from,
        e.fever_masked_from_study_day,
        coalesce(r.time_key >= e.fever_masked_from_time, false) as is_fever_masked,
        case
            -- CRS table: fever, with the most severe of hypotension and hypoxia (fever alone = 1)
            when r.is_fever then greatest(1, r.sign_grade)
            -- masked fever: hypotension or hypoxia alone keep grading the episode
            when r.time_key >= e.fever_masked_from_time then r.sign_grade
            -- no fever and not masked: no CRS
            else 0
        end as crs_grade,
        r.delivery_sha256,
        r.file_name,
        r.row_number
    from readings_in_stretches as r
    left join masked_episodes as e
        on e.study_id = r.study_id and e.subject_id = r.subject_id and e.stretch = r.stretch
)

select * from final
