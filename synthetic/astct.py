"""A small ASTCT 2019 grader (derivations.md) used by the generator to check its own output.

The generator draws signs (vitals, neuro assessments) to match an intended daily grade; this module
grades what was actually written, so that every subject-day's derived grade can be compared with
the adjudicated one before the cohort is handed out. It grades one subject at a time, on rows as
written (strings), and assumes the site's time zone is UTC (so a ``Z``/``+00:00`` suffix does not
move the calendar date).

CRS (Lee et al. 2019, derivations.md): per reading, then the worst reading of the study day.
Fever (>= 38.0 C) starts an episode; once tocilizumab, siltuximab or a corticosteroid has been
given after the episode began, fever is masked: hypotension/hypoxia alone keep grading until the
first day with no fever, no hypotension, no vasopressor and no oxygen.

ICANS: worst domain of each assessment, then the worst assessment of the day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Iterable, Mapping

from .common import CRS_MASKING_DRUGS

NON_VASOPRESSIN = ("norepinephrine", "epinephrine", "phenylephrine", "dopamine")
O2_GRADE = {
    "": 0, "room_air": 0, "nasal_cannula": 2, "high_flow_nasal_cannula": 3, "facemask": 3,
    "nonrebreather": 3, "venturi": 3, "cpap": 4, "bipap": 4, "mechanical_ventilation": 4,
}
CONSCIOUSNESS_GRADE = {
    "": 0, "normal": 0, "awakens_spontaneously": 1, "awakens_to_voice": 2,
    "awakens_to_tactile": 3, "unarousable": 4,
}
SEIZURE_GRADE = {
    "": 0, "none": 0, "resolved_rapidly": 3, "nonconvulsive_eeg_resolved": 3,
    "prolonged_or_repetitive": 4,
}
MOTOR_GRADE = {"": 0, "none": 0, "deep_focal": 4}
EDEMA_GRADE = {"": 0, "none": 0, "focal": 3, "diffuse": 4}


def parse_local(ts: str) -> datetime:
    """Site-local naive datetime of an ISO string (sites are UTC, so an offset is just dropped)."""
    ts = ts.strip()
    if ts.endswith("Z"):
        ts = ts[:-1]
    elif len(ts) > 6 and ts[-6] in "+-" and ts[-3] == ":":
        ts = ts[:-6]
    return datetime.fromisoformat(ts)


def _float(s: str) -> float | None:
    s = (s or "").strip()
    if s in ("", "NA"):
        return None
    return float(s)


def reading_signs(row: Mapping[str, str]) -> tuple[bool, int, bool]:
    """(fever, grade of hypotension/hypoxia alone, any abnormal haemodynamic/oxygen sign)."""
    temp = _float(row.get("temperature_c", ""))
    sbp = _float(row.get("systolic_bp_mmhg", ""))
    agents = [a.strip() for a in (row.get("vasopressors") or "").split(";") if a.strip()]
    device = (row.get("o2_device") or "").strip()
    flow = _float(row.get("o2_flow_l_min", ""))
    fever = temp is not None and temp >= 38.0
    n_nv = sum(a in NON_VASOPRESSIN for a in agents)
    if n_nv >= 2:
        hypo = 4
    elif agents:
        hypo = 3  # one agent, with or without vasopressin; vasopressin alone counts as one
    elif sbp is not None and sbp < 90:
        hypo = 2
    else:
        hypo = 0
    hypox = O2_GRADE[device]
    if device == "nasal_cannula" and flow is not None and flow > 6:
        hypox = 3
    abnormal = hypo > 0 or hypox > 0
    return fever, max(hypo, hypox), abnormal


def crs_daily(vitals: Iterable[Mapping[str, str]], infused_on: date,
              meds: Iterable[Mapping[str, str]] = ()) -> dict[int, int]:
    """Derived CRS grade per study day for one subject (days with at least one reading)."""
    readings = sorted(((parse_local(r["recorded_at"]), r) for r in vitals), key=lambda x: x[0])
    mask_times = sorted(parse_local(m["administered_at"]) for m in meds
                        if m.get("drug") in CRS_MASKING_DRUGS)
    by_day: dict[int, list] = {}
    for t, r in readings:
        by_day.setdefault((t.date() - infused_on).days, []).append((t, r))
    out: dict[int, int] = {}
    in_episode, masked, start = False, False, None
    for day in sorted(by_day):
        worst, all_clear = 0, True
        for t, r in by_day[day]:
            fever, sign, abnormal = reading_signs(r)
            if fever or abnormal:
                all_clear = False
            if not in_episode and fever:
                in_episode, masked, start = True, False, t
            if in_episode and not masked:
                masked = any(start < m <= t for m in mask_times)
            if fever:
                g = max(1, sign)
            elif in_episode and masked:
                g = sign
            else:
                g = 0
            worst = max(worst, g)
        out[day] = worst
        if in_episode and all_clear:
            in_episode, masked, start = False, False, None
    return out


def icans_assessment(row: Mapping[str, str]) -> int:
    ice = _float(row.get("ice_score", ""))
    cons = (row.get("consciousness") or "").strip()
    g_ice = 0
    if ice is not None:
        if ice == 0 and cons == "unarousable":
            g_ice = 4
        elif ice <= 2:
            g_ice = 3
        elif ice <= 6:
            g_ice = 2
        elif ice <= 9:
            g_ice = 1
    return max(g_ice, CONSCIOUSNESS_GRADE[cons],
               SEIZURE_GRADE[(row.get("seizure") or "").strip()],
               MOTOR_GRADE[(row.get("motor_weakness") or "").strip()],
               EDEMA_GRADE[(row.get("cerebral_edema") or "").strip()])


def icans_daily(neuro: Iterable[Mapping[str, str]], infused_on: date) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in neuro:
        day = (parse_local(r["assessed_at"]).date() - infused_on).days
        out[day] = max(out.get(day, 0), icans_assessment(r))
    return out
