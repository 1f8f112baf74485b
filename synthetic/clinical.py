"""Bedside signs drawn to match a daily CRS / ICANS grade (shared by the park2023 and wehrli2022 profiles).

A `Course` holds one infused subject's adjudicated daily grades (what `toxicity_assessments` says),
the grades the signs should derive to (equal to the adjudicated ones except on deliberate
discordance days), and the medication rows (needed because tocilizumab / steroids mask fever).

`vitals_rows` writes readings so that the ASTCT 2019 rules of derivations.md give exactly the
intended grade on every day, under any reasonable reading of "once given after the episode began":
on a day that is not yet masked, every reading with hypotension or hypoxia also has fever, so a
grader that starts masking at the dose time and one that starts on the next calendar day agree;
only days strictly after the first masking dose may show hypotension/hypoxia without fever.
`neuro_rows` does the same for ICANS with the ICE / consciousness / seizure / motor / edema table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from .astct import parse_local
from .common import CRS_MASKING_DRUGS, at, fmt_dt, fmt_fixed

VITALS_HOURS_Q6 = (2, 8, 14, 20)
NEURO_HOURS_Q12 = (9, 21)


@dataclass
class Course:
    subject_id: str
    infused_on: date
    weight_kg: float | None
    crs: dict[int, int]                      # adjudicated, study days with a toxicity row
    icans: dict[int, int]
    crs_signs: dict[int, int] = field(default_factory=dict)    # intended derived grade
    icans_signs: dict[int, int] = field(default_factory=dict)
    subfebrile_days: set[int] = field(default_factory=set)     # grade-0 day with Tmax 37.8-37.9
    meds: list[dict] = field(default_factory=list)             # medication rows (strings)
    crs_sign_pref: str = "hypotension"                         # or "hypoxia"

    def day(self, study_day: int) -> date:
        return self.infused_on + timedelta(days=study_day)


def _temp(rng, lo: float, hi: float) -> str:
    """Temperature with one decimal, uniformly in [lo, hi] after rounding."""
    v = round(float(rng.uniform(lo, hi)), 1)
    return f"{min(max(v, lo), hi):.1f}"


def _normal_reading(rng) -> dict:
    spo2 = "" if rng.random() < 0.08 else str(int(rng.integers(94, 100)))
    return {
        "temperature_c": _temp(rng, 36.2, 37.6),
        "systolic_bp_mmhg": str(int(rng.integers(100, 146))),
        "vasopressors": "", "o2_device": "room_air", "o2_flow_l_min": "", "spo2_pct": spo2,
    }


def _sign(rng, grade: int, pref: str) -> dict:
    """Fields giving hypotension/hypoxia of exactly `grade` (2..4) for one reading."""
    r: dict = {}
    if grade == 2:
        kind = pref if rng.random() < 0.75 else ("hypoxia" if pref == "hypotension" else "both")
        if kind in ("hypotension", "both"):
            r["systolic_bp_mmhg"] = str(int(rng.integers(76, 89)))
        if kind in ("hypoxia", "both"):
            r["o2_device"] = "nasal_cannula"
            # a nasal cannula with no recorded flow counts as low-flow (derivations.md)
            r["o2_flow_l_min"] = "" if rng.random() < 0.15 else str(int(rng.integers(1, 7)))
            r["spo2_pct"] = str(int(rng.integers(91, 96)))
    elif grade == 3:
        kind = pref if rng.random() < 0.7 else ("hypoxia" if pref == "hypotension" else "hypotension")
        if kind == "hypotension":
            r["vasopressors"] = "norepinephrine" if rng.random() < 0.7 else "norepinephrine;vasopressin"
            r["systolic_bp_mmhg"] = str(int(rng.integers(86, 104)))
        else:
            dev = ["high_flow_nasal_cannula", "nasal_cannula", "facemask", "nonrebreather",
                   "venturi"][int(rng.integers(0, 5))]
            flow = {"high_flow_nasal_cannula": (30, 51), "nasal_cannula": (7, 11),
                    "facemask": (6, 11), "nonrebreather": (10, 16), "venturi": (8, 13)}[dev]
            r["o2_device"] = dev
            r["o2_flow_l_min"] = str(int(rng.integers(*flow)))
            r["spo2_pct"] = str(int(rng.integers(89, 95)))
    elif grade == 4:
        if pref == "hypotension":
            r["vasopressors"] = "norepinephrine;epinephrine" if rng.random() < 0.6 else \
                "norepinephrine;phenylephrine;vasopressin"
            r["systolic_bp_mmhg"] = str(int(rng.integers(80, 100)))
        else:
            r["o2_device"] = ["bipap", "cpap", "mechanical_ventilation"][int(rng.integers(0, 3))]
            r["o2_flow_l_min"] = ""
            r["spo2_pct"] = str(int(rng.integers(88, 95)))
    return r


def _masking_times(course: Course) -> list[datetime]:
    return sorted(parse_local(m["administered_at"]) for m in course.meds
                  if m["drug"] in CRS_MASKING_DRUGS)


def vitals_rows(rng: np.random.Generator, course: Course, schedule: dict[int, list[tuple[int, int]]],
                time_style: str = "naive") -> list[dict]:
    """Vitals readings on `schedule` (study day -> [(hour, minute)]) matching `course.crs_signs`."""
    mask_times = _masking_times(course)
    rows: list[dict] = []
    in_episode, start = False, None
    for day in sorted(schedule):
        g = course.crs_signs.get(day, 0)
        d = course.day(day)
        times = [at(d, h, m) for h, m in schedule[day]]
        n = len(times)
        masked = in_episode and any(start < m and m.date() < d for m in mask_times)
        readings = [_normal_reading(rng) for _ in range(n)]
        if g == 0 and day in course.subfebrile_days:
            readings[int(rng.integers(0, n))]["temperature_c"] = _temp(rng, 37.8, 37.9)
        elif g == 1:
            k = int(rng.integers(1, min(3, n) + 1))
            i0 = int(rng.integers(0, n - k + 1))
            for i in range(i0, i0 + k):
                readings[i]["temperature_c"] = _temp(rng, 38.0, 39.4)
            for i in range(n):
                if not i0 <= i < i0 + k and rng.random() < 0.5:
                    readings[i]["temperature_c"] = _temp(rng, 37.2, 37.7)
        elif g >= 2:
            k = int(rng.integers(1, min(3, n) + 1))
            i0 = int(rng.integers(0, n - k + 1))
            for i in range(n):
                if i0 <= i < i0 + k:
                    readings[i].update(_sign(rng, g, course.crs_sign_pref))
                    readings[i]["temperature_c"] = (_temp(rng, 36.8, 37.7) if masked
                                                    else _temp(rng, 38.2, 39.8))
                elif not masked and rng.random() < 0.5:
                    readings[i]["temperature_c"] = _temp(rng, 38.0, 39.0)
        for t, r in zip(times, readings):
            row = {"subject_id": course.subject_id, "recorded_at": fmt_dt(t, time_style), **r}
            rows.append(row)
        # episode bookkeeping, as the grader will see it
        fevers = [t for t, r in zip(times, readings) if float(r["temperature_c"]) >= 38.0]
        all_clear = not fevers and all(
            r["vasopressors"] == "" and r["o2_device"] == "room_air"
            and int(r["systolic_bp_mmhg"]) >= 90 for r in readings)
        if not in_episode and fevers:
            in_episode, start = True, fevers[0]
        elif in_episode and all_clear:
            in_episode, start = False, None
    return rows


def _neuro_normal() -> dict:
    return {"ice_score": "10", "consciousness": "normal", "seizure": "none",
            "motor_weakness": "none", "cerebral_edema": "none"}


def _neuro_defining(rng, g: int) -> dict:
    r = _neuro_normal()
    if g == 1:
        r["ice_score"] = str(int(rng.integers(7, 10)))
        if rng.random() < 0.3:
            r["consciousness"] = "awakens_spontaneously"
    elif g == 2:
        if rng.random() < 0.7:
            r["ice_score"] = str(int(rng.integers(3, 7)))
        else:
            r["ice_score"] = str(int(rng.integers(4, 7)))
            r["consciousness"] = "awakens_to_voice"
    elif g == 3:
        kind = int(rng.integers(0, 4))
        if kind == 0:
            r["ice_score"] = str(int(rng.integers(0, 3)))
            r["consciousness"] = "awakens_to_voice"
        elif kind == 1:
            r["ice_score"] = ""  # not assessable
            r["consciousness"] = "awakens_to_tactile"
        elif kind == 2:
            r["ice_score"] = str(int(rng.integers(3, 7)))
            r["seizure"] = "resolved_rapidly"
        else:
            r["ice_score"] = str(int(rng.integers(2, 6)))
            r["cerebral_edema"] = "focal"
    elif g == 4:
        kind = int(rng.integers(0, 3))
        if kind == 0:
            r["ice_score"] = "0"
            r["consciousness"] = "unarousable"
        elif kind == 1:
            r["ice_score"] = ""
            r["consciousness"] = "awakens_to_tactile"
            r["seizure"] = "prolonged_or_repetitive"
        else:
            r["ice_score"] = str(int(rng.integers(0, 3)))
            r["consciousness"] = "awakens_to_voice"
            r["cerebral_edema"] = "diffuse"
    return r


def _neuro_other(rng, g: int) -> dict:
    """A second assessment of the same day, never worse than `g`."""
    r = _neuro_normal()
    if g == 1:
        r["ice_score"] = str(int(rng.integers(8, 11)))
    elif g == 2:
        r["ice_score"] = str(int(rng.integers(5, 10)))
    elif g >= 3:
        r["ice_score"] = str(int(rng.integers(2, 7)))
        if rng.random() < 0.4:
            r["consciousness"] = "awakens_to_voice"
    return r


def neuro_rows(rng: np.random.Generator, course: Course,
               schedule: dict[int, list[tuple[int, int]]], time_style: str = "naive") -> list[dict]:
    """ICE/consciousness/... assessments on `schedule` matching `course.icans_signs`."""
    rows: list[dict] = []
    for day in sorted(schedule):
        g = course.icans_signs.get(day, 0)
        d = course.day(day)
        times = [at(d, h, m) for h, m in schedule[day]]
        if g == 0:
            assess = [_neuro_normal() for _ in times]
        else:
            i = int(rng.integers(0, len(times)))
            assess = [_neuro_defining(rng, g) if j == i else _neuro_other(rng, g)
                      for j in range(len(times))]
        for t, a in zip(times, assess):
            rows.append({"subject_id": course.subject_id, "assessed_at": fmt_dt(t, time_style), **a})
    return rows


def toxicity_rows(course: Course, days: range = range(0, 31)) -> list[dict]:
    return [{"subject_id": course.subject_id, "assessed_on": course.day(d).isoformat(),
             "crs_grade": str(course.crs.get(d, 0)), "icans_grade": str(course.icans.get(d, 0)),
             "criteria": "ASTCT2019"} for d in days]


def med_row(subject_id: str, drug: str, ts: datetime, dose: float, unit: str, route: str,
            indication: str, time_style: str = "naive") -> dict:
    dose_s = fmt_fixed(dose, 0) if float(dose).is_integer() else f"{dose:g}"
    return {"subject_id": subject_id, "drug": drug, "administered_at": fmt_dt(ts, time_style),
            "dose": dose_s, "dose_unit": unit, "route": route, "indication": indication}


def episode(onset: int, profile: list[int]) -> dict[int, int]:
    """Daily grades of one contiguous episode starting on study day `onset`."""
    return {onset + i: g for i, g in enumerate(profile)}
