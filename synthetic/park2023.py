"""Profile ``park2023``: a cohort calibrated to Park et al., Nat Med 2023;29:1710 (cohort 1).

CD19 CAR T-cell therapy with prophylactic subcutaneous anakinra from day 2 until at least day 10.
The warehouse's acceptance tests check the numbers below, so they are fixed by construction
(only who-gets-what, dates and measurements are random):

* CONSORT (Fig. 1): 34 enrolled, 31 infused, 3 not infused (each with a reason).
* Products among the 31 (abstract: 74% axi-cel, 13% brexu-cel, 4% tisa-cel; the rest liso-cel):
  axi-cel 23, brexu-cel 4, tisa-cel 1, liso-cel 3. brexu-cel subjects have MCL (Fig. 3A splits
  LBCL vs MCL); the others LBCL, one FL.
* Adjudicated max CRS grade, days 0..30 (abstract: all-grade 74% = 23/31, grade >= 3 6.4% = 2/31):
  8 x grade 0, 13 x 1, 8 x 2, 2 x 3.
* Max ICANS grade (abstract: all-grade 19% = 6/31, grade >= 3 9.7% = 3/31, no grade 4-5):
  25 x 0, 1 x 1, 2 x 2, 3 x 3.
* Best response by day 100 (abstract: ORR 77% = 24/31, CR 65% = 20/31; Fig. 3A footnote: one
  patient died of COVID-19 pneumonia at day 47 without a day-30 assessment): CR 20, PR 4, SD 2,
  PD 4, NE 1.
* CSF (Fig. 4B/4C): 27 subjects with a pre-infusion and 24 with a post-infusion CSF sample;
  cytokines measured in 15 pre and 15 post samples.

Dirt is planted on purpose and listed in the truth; none of it changes the numbers above once the
warehouse quarantines invalid rows, ignores the duplicate delivery and applies the correction:

* UTF-8 BOM: first site01 `subjects` file, the ng/mL cytokine plate, site02 `outcomes`;
  CRLF: first site01 `neuro_assessments` and `medications` files, site02 `outcomes`;
* explicit UTC offsets: site02 `vitals` (``Z``), site02 `medications` (``+00:00``), cytokine plate 2
  (``Z``); all other times naive (sites are UTC);
* identifying columns (patient_name, mrn, date_of_birth) in every site01 `subjects` file;
* one byte-identical re-delivery (a `toxicity_assessments` file, later mtime, ``_resent`` name);
* one correcting delivery (`serum_labs/..._site01_correction.csv`: 3 values re-sent, changed);
* invalid rows on extra readings or non-endpoint rows: vitals 55.0 C, ICE 11, analyte IL99, result
  ``n/a``, ``OOR <`` without lloq, ``OOR >`` without uloq (CSF), negative lab value, sex ``X`` (that
  subject's row is re-sent valid a month later in ``..._resend.csv``);
* one identical duplicate row (vitals) and one conflicting pair (serum_labs, extra time point);
* discordant subject-days between signs and adjudicated grades (5, listed), and several
  masked-fever days (tocilizumab/steroid given, afebrile hypotension/hypoxia the next day);
* serum cytokines: every censored form, one plate in ng/mL, analyte spellings varied in one plate;
  site02 labs in alternative units.

Not-infused subjects have no `outcomes` row (choice of this generator).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from . import astct
from .biomarkers import CYTOKINE_PARAMS, ResultWriter, csf_chemistry, csf_cytokines, serum_cytokines, serum_labs
from .clinical import Course, episode, med_row, neuro_rows, toxicity_rows, vitals_rows
from .common import (
    ANALYTES, COLUMNS, IDENTIFYING_COLUMNS, LAB_UNITS, STEROID_DEX_EQUIV, LandingWriter, at,
    delivery_date_after, fmt_date, fmt_dt, fmt_fixed, half_year_key,
)

PROFILE = "park2023"
N_ENROLLED = 34
DATA_CUT = date(2024, 1, 31)
ASSAY = "Bio-Plex Pro Human Cytokine 27-plex + sIL-2Ra"
SERUM_DAYS = (-5, 0, 1, 2, 3, 4, 5, 7, 10, 14, 21, 28)
LAB_DAYS = tuple(range(-5, 15)) + (16, 18, 21, 24, 28, 30)
PLATE_SIZE = 40  # samples per 96-well plate run in duplicate

# Not-infused reasons (Fig. 1 CONSORT lists the reasons; the wording here is ours).
NOT_INFUSED = (
    ("LBCL", "disease progression before infusion"),
    ("LBCL", "manufacturing failure"),
    ("MCL", "withdrew consent"),
)

# Infused design: (product, disease, crs_max, icans_max, best_response_d100). Counts per the module
# docstring; which subject gets which row is drawn at random.
_DESIGN: list[tuple[str, str, int, int, str]] = (
    # ICANS grade 3 x3 (two axi-cel, one brexu-cel), mostly with CRS
    [("axi-cel", "LBCL", 3, 3, "CR"), ("axi-cel", "LBCL", 2, 3, "PR"), ("brexu-cel", "MCL", 2, 3, "CR")]
    # ICANS grade 2 x2, grade 1 x1
    + [("axi-cel", "LBCL", 3, 2, "CR"), ("axi-cel", "LBCL", 1, 2, "CR"), ("liso-cel", "LBCL", 0, 1, "CR")]
    # remaining brexu-cel (MCL), tisa-cel, liso-cel
    + [("brexu-cel", "MCL", 1, 0, "CR"), ("brexu-cel", "MCL", 1, 0, "CR"), ("brexu-cel", "MCL", 0, 0, "PR")]
    + [("tisa-cel", "LBCL", 1, 0, "PD")]
    + [("liso-cel", "LBCL", 1, 0, "CR"), ("liso-cel", "LBCL", 0, 0, "SD")]
)
# The other 19 axi-cel subjects take the remaining CRS grades (0 x5, 1 x8, 2 x6) and responses
# (CR 12, PR 2, SD 1, PD 3, NE 1); see `_design`.


def _design(rng: np.random.Generator) -> list[tuple[str, str, int, int, str]]:
    rows = list(_DESIGN)
    n_axi = 23 - sum(r[0] == "axi-cel" for r in rows)                 # 19 more axi-cel
    crs_target = Counter({0: 8, 1: 13, 2: 8, 3: 2})
    crs_have = Counter(r[2] for r in rows)
    axi_crs = [g for g in (0, 1, 2, 3) for _ in range(crs_target[g] - crs_have[g])]
    resp_target = Counter({"CR": 20, "PR": 4, "SD": 2, "PD": 4, "NE": 1})
    resp_have = Counter(r[4] for r in rows)
    axi_resp = [r for r in ("CR", "PR", "SD", "PD", "NE") for _ in range(resp_target[r] - resp_have[r])]
    assert len(axi_crs) == n_axi == len(axi_resp), (len(axi_crs), n_axi, len(axi_resp))
    axi_resp = [axi_resp[i] for i in rng.permutation(n_axi)]
    for i, (g, resp) in enumerate(zip(axi_crs, axi_resp)):
        rows.append(("axi-cel", "FL" if i == 0 else "LBCL", g, 0, resp))
    assert len(rows) == 31
    return rows


FIRST_NAMES = {
    "M": ("James", "Robert", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
          "Charles", "Daniel", "Matthew", "Anthony"),
    "F": ("Maria", "Linda", "Patricia", "Jennifer", "Elizabeth", "Susan", "Jessica", "Sarah",
          "Karen", "Nancy", "Lisa", "Margaret"),
}
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
              "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White")


# ============================================================================================
# cohort
# ============================================================================================
Subject = SimpleNamespace  # one enrolled subject: design row, dates, and what happened to them


def _subjects(rng: np.random.Generator) -> list[Subject]:
    design = _design(rng)
    plan: list[tuple | None] = [*design, *[None] * len(NOT_INFUSED)]
    order = rng.permutation(len(plan))
    # enrollment 2021-01..2022-12 (the trial enrolled 2020-2022; we keep 2021-2022)
    offsets = np.sort(rng.choice(np.arange(0, 700), size=N_ENROLLED, replace=False))
    site02 = set(rng.choice(N_ENROLLED, size=10, replace=False).tolist())
    subjects, ni = [], 0
    for k in range(N_ENROLLED):
        p = plan[order[k]]
        enrolled = date(2021, 1, 11) + timedelta(days=int(offsets[k]))
        age = int(np.clip(round(rng.normal(62, 11)), 24, 84))
        s = Subject(
            subject_id=f"P23-{k + 1:03d}", site_id="site02" if k in site02 else "site01",
            enrolled_on=enrolled, age_years=age, sex="M" if rng.random() < 0.62 else "F",
            weight_kg=round(float(rng.normal(80, 15)), 1),
        )
        s.weight_kg = float(np.clip(s.weight_kg, 48, 135))
        if p is None:
            s.disease, s.not_infused_reason = NOT_INFUSED[ni]
            ni += 1
            s.is_infused, s.car_t_product, s.infused_on = False, "", None
            s.crs_max = s.icans_max = None
            s.best = None
            if ni == 2:
                s.weight_kg = None  # weight is optional in the contract
        else:
            s.car_t_product, s.disease, s.crs_max, s.icans_max, s.best = p
            s.is_infused, s.not_infused_reason = True, ""
            s.infused_on = enrolled + timedelta(days=int(rng.integers(14, 29)))
        subjects.append(s)
    return subjects


def _episodes(rng: np.random.Generator, s: Subject) -> tuple[dict[int, int], dict[int, int]]:
    g = s.crs_max
    if g == 0:
        crs = {}
    elif g == 1:
        crs = episode(int(rng.integers(1, 8)), [1] * int(rng.integers(1, 5)))
    elif g == 2:
        prof = [1] * int(rng.integers(0, 3)) + [2] * int(rng.integers(2, 4)) + [1] * int(rng.integers(0, 3))
        crs = episode(int(rng.integers(1, 6)), prof)
    else:
        prof = ([1] * int(rng.integers(0, 2)) + [2] + [3] * int(rng.integers(1, 3))
                + [2] * int(rng.integers(1, 3)) + [1] * int(rng.integers(0, 2)))
        crs = episode(int(rng.integers(1, 4)), prof)
    gi = s.icans_max
    if gi == 0:
        icans = {}
    else:
        onset = int(rng.integers(3, 11))
        if crs:
            onset = max(onset, min(crs) + 1)
        if gi == 1:
            prof = [1] * int(rng.integers(2, 4))
        elif gi == 2:
            prof = [1] * int(rng.integers(0, 2)) + [2] * 2 + [1] * int(rng.integers(1, 3))
        else:
            prof = ([1] * int(rng.integers(0, 2)) + [2] * int(rng.integers(0, 2))
                    + [3] * int(rng.integers(1, 4)) + [2] * int(rng.integers(1, 3))
                    + [1] * int(rng.integers(0, 2)))
        icans = episode(onset, prof)
    return crs, icans


def _plan_meds(rng: np.random.Generator, s: Subject, c: Course, style: str) -> None:
    """Medication rows for one infused subject (codes from the contract only)."""
    sid, rows = s.subject_id, c.meds
    toxic_days = [d for d, g in {**c.crs, **c.icans}.items() if g >= 2]
    # Prophylactic anakinra from day 2 until at least day 10 (Park 2023 abstract). The dose and
    # schedule are not in the abstract: 100 mg SC every 12 h is this generator's assumption;
    # subjects with grade >= 2 toxicity continue to the day after it ends (at most day 14).
    last = min(14, max([10] + [d + 1 for d in toxic_days]))
    for d in range(2, last + 1):
        for h in (8, 20):
            rows.append(med_row(sid, "anakinra", at(c.day(d), h, 0), 100, "mg", "SC",
                                "prophylaxis", style))
    # Seizure prophylaxis, levetiracetam 500 mg PO twice daily days 0..29 (institutional practice).
    for d in range(0, 30):
        for h in (8, 20):
            rows.append(med_row(sid, "levetiracetam", at(c.day(d), h, 5), 500, "mg", "PO",
                                "prophylaxis", style))
    # Tocilizumab 8 mg/kg IV for CRS >= 2 (and a few prolonged grade 1), given in the late
    # evening after the day's readings; a second dose next evening if CRS is still >= 2.
    crs2 = sorted(d for d, g in c.crs.items() if g >= 2)
    crs1 = sorted(c.crs)
    toci_days: list[int] = []
    if crs2:
        toci_days = [crs2[0]] + ([crs2[1]] if len(crs2) > 1 and s.crs_max >= 3 else [])
    elif s.toci_for_grade1 and len(crs1) >= 2:
        toci_days = [crs1[1]]
    for d in toci_days:
        rows.append(med_row(sid, "tocilizumab", at(c.day(d), 21, 30 + int(rng.integers(0, 25))),
                            8, "mg/kg", "IV", "crs", style))
    # Dexamethasone 10 mg IV q6h for CRS grade 3
    crs3 = sorted(d for d, g in c.crs.items() if g >= 3)
    for d in crs3:
        for h in ((22,) if d == crs3[0] else (4, 10, 16, 22)):
            rows.append(med_row(sid, "dexamethasone", at(c.day(d), h, 0), 10, "mg", "IV", "crs", style))
    # Dexamethasone 10 mg IV q6h for ICANS >= 2, then a short taper (4 mg q12h x2 days) --
    # or, for one grade-3 subject, methylprednisolone 1 mg/kg IV q12h x2 days (needs weight_kg).
    ic2 = sorted(d for d, g in c.icans.items() if g >= 2)
    if ic2:
        for d in range(ic2[0], ic2[-1] + 1):
            for h in ((22,) if d == ic2[0] else (4, 10, 16, 22)):
                rows.append(med_row(sid, "dexamethasone", at(c.day(d), h, 15), 10, "mg", "IV",
                                    "icans", style))
        for d in (ic2[-1] + 1, ic2[-1] + 2):
            for h in (10, 22):
                if s.methylpred:
                    rows.append(med_row(sid, "methylprednisolone", at(c.day(d), h, 30), 1,
                                        "mg/kg", "IV", "icans", style))
                else:
                    rows.append(med_row(sid, "dexamethasone", at(c.day(d), h, 15), 4, "mg",
                                        "IV", "icans", style))
    c.toci_days = set(toci_days)
    c.anakinra_days = set(range(2, last + 1))


# ============================================================================================
# helpers for rows / deliveries
# ============================================================================================
def _group(subjects, key) -> dict:
    out: dict = {}
    for s in subjects:
        out.setdefault(key(s), []).append(s)
    return dict(sorted(out.items()))


def _strip(rows: list[dict], header) -> tuple[list[list[str]], dict[str, int]]:
    """Row dicts -> lists in header order; returns also {marker: row_number} of marked rows."""
    marks: dict[str, int] = {}
    out = []
    for i, r in enumerate(rows, start=1):
        if "_mark" in r:
            marks[r["_mark"]] = i
        out.append([r.get(c, "") for c in header])
    return out, marks


def _date_of(ts: str) -> date:
    return astct.parse_local(ts).date()


# ============================================================================================
# generate
# ============================================================================================
def generate(out_dir: Path, seed: int, subjects: int | None = None) -> dict:
    if subjects not in (None, N_ENROLLED):
        raise ValueError(f"profile park2023 is calibrated to {N_ENROLLED} enrolled subjects")
    rng = np.random.default_rng(seed)
    w = LandingWriter(Path(out_dir))
    truth: dict = {"profile": PROFILE, "seed": seed, "invalid_rows": [], "identical_duplicates": [],
                   "conflicting_duplicates": [], "corrections": [], "duplicate_deliveries": [],
                   "resent_rows": []}

    subs = _subjects(rng)
    infused = [s for s in subs if s.is_infused]
    by_id = {s.subject_id: s for s in subs}
    site_style = {"site01": "naive", "site02": "Z"}

    # ---------------------------------------------------------------- courses + discordances
    courses: dict[str, Course] = {}
    for s in infused:
        crs, icans = _episodes(rng, s)
        c = Course(s.subject_id, s.infused_on, s.weight_kg, crs, icans,
                   crs_signs=dict(crs), icans_signs=dict(icans),
                   crs_sign_pref="hypotension" if rng.random() < 0.6 else "hypoxia")
        courses[s.subject_id] = c
        s.toci_for_grade1 = False
        s.methylpred = False
    # tocilizumab for a few prolonged grade-1 CRS (needs >= 2 days): 3 subjects
    g1 = [s for s in infused if s.crs_max == 1 and s.icans_max == 0]
    for s in g1[:3]:
        c = courses[s.subject_id]
        if len(c.crs) < 2:
            start = min(c.crs)
            c.crs = episode(start, [1, 1, 1])
            c.crs_signs = dict(c.crs)
        s.toci_for_grade1 = True
    ic3 = [s for s in infused if s.icans_max == 3]
    ic3[0].methylpred = True

    discordances: list[dict] = []

    def discord(s: Subject, tox: str, day: int, derived: int):
        c = courses[s.subject_id]
        adj = (c.crs if tox == "CRS" else c.icans).get(day, 0)
        (c.crs_signs if tox == "CRS" else c.icans_signs)[day] = derived
        discordances.append({"subject_id": s.subject_id, "study_day": day, "toxicity": tox,
                             "adjudicated_grade": adj, "derived_grade": derived})

    # D1: adjudicated CRS 1 but Tmax 37.8-37.9 that day (last day of a >= 2-day grade-1 episode)
    s1 = g1[3]
    c1 = courses[s1.subject_id]
    if len(c1.crs) < 2:
        c1.crs = episode(min(c1.crs), [1, 1])
        c1.crs_signs = dict(c1.crs)
    discord(s1, "CRS", max(c1.crs), 0)
    c1.subfebrile_days.add(max(c1.crs))
    # D2: adjudicated CRS 2 but only fever on the first grade-2 day (tocilizumab that evening,
    # then afebrile hypotension the next day = masked grade 2, concordant)
    s2 = next(s for s in infused if s.crs_max == 2 and s.icans_max == 0)
    c2 = courses[s2.subject_id]
    d2 = min(d for d, g in c2.crs.items() if g == 2)
    discord(s2, "CRS", d2, 1)
    # D3: adjudicated CRS 0 but an isolated fever of 38.3 on day 20 (neutropenic fever)
    s3 = next(s for s in infused if s.crs_max == 0 and s.icans_max == 0)
    discord(s3, "CRS", 20, 1)
    # D4: adjudicated ICANS 2 but ICE 8 all day (descending day of a grade-3 episode)
    s4 = ic3[1]
    c4 = courses[s4.subject_id]
    d4 = max(d for d, g in c4.icans.items() if g == 2)
    discord(s4, "ICANS", d4, 1)
    # D5: adjudicated ICANS 0 but one ICE score of 9 (day 6)
    s5 = next(s for s in infused if s.crs_max == 1 and s.icans_max == 0 and s is not s1
              and not s.toci_for_grade1)
    discord(s5, "ICANS", 6, 1)

    # ---------------------------------------------------------------- medications, vitals, neuro
    med_style = {"site01": "naive", "site02": "offset"}
    for s in infused:
        _plan_meds(rng, s, courses[s.subject_id], med_style[s.site_id])

    vitals: dict[str, list[dict]] = {}
    neuro: dict[str, list[dict]] = {}
    for s in infused:
        c = courses[s.subject_id]
        sched = {}
        for d in range(-1, 15):
            sched[d] = [(h, int(rng.integers(0, 60))) for h in (2, 8, 14, 20)]
        for d in (15, 16, 17, 18, 19, 20, 21, 24, 28, 30):
            sched[d] = [(9, int(rng.integers(0, 60)))]
        vitals[s.subject_id] = vitals_rows(rng, c, sched, site_style[s.site_id])
        last_icans = max(c.icans) if c.icans else 0
        nsched = {-1: [(10, int(rng.integers(0, 60)))]}
        for d in range(0, max(15, last_icans + 2)):
            nsched[d] = [(9, int(rng.integers(0, 60))), (21, int(rng.integers(0, 60)))]
        for d in (21, 28):
            nsched[d] = [(10, int(rng.integers(0, 60)))]
        neuro[s.subject_id] = neuro_rows(rng, c, nsched, "naive")

    # ---------------------------------------------------------------- self-check with the grader
    found: list[dict] = []
    masked_examples: list[dict] = []
    for s in infused:
        c = courses[s.subject_id]
        crs_d = astct.crs_daily(vitals[s.subject_id], s.infused_on, c.meds)
        ic_d = astct.icans_daily(neuro[s.subject_id], s.infused_on)
        for day in range(-5, 31):
            for tox, derived, adj in (("CRS", crs_d, c.crs), ("ICANS", ic_d, c.icans)):
                if day not in derived:
                    continue
                a = adj.get(day, 0) if 0 <= day <= 30 else 0
                if derived[day] != a:
                    found.append({"subject_id": s.subject_id, "study_day": day, "toxicity": tox,
                                  "adjudicated_grade": a, "derived_grade": derived[day]})
        # masked-fever examples: adjudicated CRS >= 2, derived the same, and no fever that day
        for day, g in sorted(c.crs.items()):
            temps = [float(r["temperature_c"]) for r in vitals[s.subject_id]
                     if (_date_of(r["recorded_at"]) - s.infused_on).days == day]
            if g >= 2 and crs_d.get(day) == g and temps and max(temps) < 38.0:
                masked_examples.append({"subject_id": s.subject_id, "study_day": day,
                                        "crs_grade": g, "tmax_c": max(temps)})
        s.crs_max_derived = max([0] + [v for d, v in crs_d.items() if 0 <= d <= 30])
        s.icans_max_derived = max([0] + [v for d, v in ic_d.items() if 0 <= d <= 30])
    key = lambda x: (x["subject_id"], x["study_day"], x["toxicity"])  # noqa: E731
    found.sort(key=key)
    discordances.sort(key=key)
    if found != discordances:
        raise AssertionError(f"derived grades disagree with plan:\n{found}\nvs\n{discordances}")
    if not masked_examples:
        raise AssertionError("no masked-fever example was produced")

    # ---------------------------------------------------------------- outcomes + responses
    responses: dict[str, list[dict]] = {}
    outcome: dict[str, dict] = {}
    pr_converter = next(s for s in infused if s.best == "PR")
    cr_prog = [s for s in infused if s.best == "CR"][:2]
    cr_nrm = [s for s in infused if s.best == "CR"][2]
    pr_prog = [s for s in infused if s.best == "PR" and s is not pr_converter][:2]
    for s in infused:
        inf = s.infused_on
        d30 = int(rng.integers(28, 33))
        d90 = int(rng.integers(85, 96))
        prog_day = death_day = None
        cause = ""
        seq: list[tuple[int, str]] = []
        if s.best == "NE":
            death_day, cause = 47, "COVID-19 pneumonia"
        elif s.best == "PD":
            seq = [(d30, "PD")]
            prog_day = d30
            if s is not next(x for x in infused if x.best == "PD"):
                death_day, cause = int(rng.integers(120, 400)), "progressive lymphoma"
        elif s.best == "SD":
            seq = [(d30, "SD"), (d90, "PD")]
            prog_day = d90
            if s is next(x for x in infused if x.best == "SD"):
                death_day, cause = int(rng.integers(200, 500)), "progressive lymphoma"
        elif s.best == "PR":
            seq = [(d30, "PR"), (d90, "PR")]
            if s is pr_converter:
                seq.append((int(rng.integers(175, 190)), "CR"))  # late CR, outside the d100 window
            elif s in pr_prog:
                prog_day = int(rng.integers(150, 330))
                seq.append((prog_day, "PD"))
                if s is pr_prog[0]:
                    death_day, cause = prog_day + int(rng.integers(90, 250)), "progressive lymphoma"
        else:  # CR
            seq = [(d30, "CR" if rng.random() < 0.6 else "PR"), (d90, "CR")]
            if s in cr_prog:
                prog_day = int(rng.integers(200, 500))
                seq.append((prog_day, "PD"))
                if s is cr_prog[0]:
                    death_day, cause = prog_day + int(rng.integers(100, 200)), "progressive lymphoma"
            elif s is cr_nrm:
                death_day, cause = int(rng.integers(250, 450)), "infection (bacterial sepsis)"
        cut_day = (DATA_CUT - inf).days
        if death_day is not None and death_day > cut_day:
            death_day, cause = None, ""
        if prog_day is not None and prog_day > cut_day:
            prog_day = None
        last_alive = death_day if death_day is not None else cut_day - int(rng.integers(0, 45))
        # routine restaging at months 6 and 12 while in remission
        if prog_day is None and s.best in ("CR", "PR"):
            for m in (180, 365):
                dd = m + int(rng.integers(-7, 8))
                if dd <= last_alive and all(abs(dd - x) > 20 for x, _ in seq):
                    seq.append((dd, "CR" if s.best == "CR" or (s is pr_converter and dd > 170) else "PR"))
        seq = sorted(x for x in seq if x[0] <= last_alive)
        responses[s.subject_id] = [
            {"subject_id": s.subject_id, "assessed_on": (inf + timedelta(days=d)).isoformat(),
             "response": r, "criteria": "Lugano2014"} for d, r in seq]
        outcome[s.subject_id] = {
            "subject_id": s.subject_id,
            "progressed_on": fmt_date(inf + timedelta(days=prog_day) if prog_day is not None else None),
            "died_on": fmt_date(inf + timedelta(days=death_day) if death_day is not None else None),
            "death_cause": cause,
            "last_known_alive_on": (inf + timedelta(days=last_alive)).isoformat(),
        }
        # survival per derivations.md
        s.os_event = death_day is not None
        s.os_days = death_day if s.os_event else last_alive
        pfs_evt = [x for x in (prog_day, death_day) if x is not None]
        s.pfs_event = bool(pfs_evt)
        s.pfs_days = min(pfs_evt) if pfs_evt else last_alive
        in_window = [r for d, r in seq if 1 <= d <= 100]
        rank = {"CR": 0, "PR": 1, "SD": 2, "PD": 3}
        s.best_check = min(in_window, key=rank.__getitem__) if in_window else "NE"
        assert s.best_check == s.best, (s.subject_id, s.best, seq)

    # ---------------------------------------------------------------- serum cytokines (values)
    serum_samples: list[dict] = []  # {sample_id, subject, collected (datetime), values}
    for s in infused:
        c = courses[s.subject_id]
        days = [d for d in SERUM_DAYS if d in (-5, 0) or rng.random() > 0.08]
        arr = np.array(days, dtype=float)
        vals = serum_cytokines(rng, arr, c.crs, s.icans_max, c.anakinra_days, c.toci_days)
        for i, d in enumerate(days):
            ts = at(c.day(d), 7, int(rng.integers(0, 60)))
            serum_samples.append({"sample_id": f"{s.subject_id}-S{d + 5:02d}", "subject": s,
                                  "collected": ts, "values": {a: float(vals[a][i]) for a in ANALYTES}})
    serum_samples.sort(key=lambda x: (x["collected"], x["sample_id"]))

    # ---------------------------------------------------------------- write: subjects
    names_used: list[str] = []

    def identifying(s: Subject) -> dict:
        firsts = FIRST_NAMES["F" if s.sex == "F" else "M"]
        name = f"{firsts[int(rng.integers(0, len(firsts)))]} " \
               f"{LAST_NAMES[int(rng.integers(0, len(LAST_NAMES)))]}"
        mrn = str(int(rng.integers(10_000_000, 99_999_999)))
        dob = s.enrolled_on - timedelta(days=int(s.age_years * 365.25 + rng.integers(30, 330)))
        names_used.extend([name, mrn, dob.isoformat()])
        return {"patient_name": name, "mrn": mrn, "date_of_birth": dob.isoformat()}

    def subject_row(s: Subject) -> dict:
        return {"subject_id": s.subject_id, "site_id": s.site_id, "enrolled_on": s.enrolled_on.isoformat(),
                "age_years": str(s.age_years), "sex": s.sex,
                "weight_kg": fmt_fixed(s.weight_kg, 1) if s.weight_kg else "",
                "disease": s.disease, "car_t_product": s.car_t_product,
                "infused_on": fmt_date(s.infused_on), "not_infused_reason": s.not_infused_reason}

    sex_x_subject = None
    # one subjects delivery per site and half-year of infusion (or of the not-infused decision)
    decided = lambda s: s.infused_on or s.enrolled_on + timedelta(days=30)  # noqa: E731
    for (site, half), group in _group(subs, lambda s: (s.site_id, half_year_key(decided(s)))).items():
        dd = delivery_date_after(max(decided(s) for s in group), 3)
        rows = [subject_row(s) for s in group]
        if site == "site01":
            header = ["subject_id", *IDENTIFYING_COLUMNS, *COLUMNS["subjects"][1:]]
            for s, r in zip(group, rows):
                r.update(identifying(s))
        else:
            header = list(COLUMNS["subjects"])
        if site == "site02" and sex_x_subject is None:
            # invalid row: sex "X" (not M/F/U); the site re-sends the row corrected a month later
            victim = group[len(group) // 2]
            sex_x_subject = victim
            rows[group.index(victim)] = {**rows[group.index(victim)], "sex": "X", "_mark": "sexX"}
        lists, marks = _strip(rows, header)
        rec = w.write_rows("subjects", f"{dd.isoformat()}_{site}.csv", dd, header, lists,
                           bom=(site == "site01" and not any(r.bom for r in w.records)))
        if "sexX" in marks:
            truth["invalid_rows"].append({
                "source": "subjects", "file_name": rec.file_name, "row_number": marks["sexX"],
                "column": "sex", "value": "X", "problem": "sex not in M/F/U",
                "note": "row re-sent valid in a later delivery"})
            rd = dd + timedelta(days=30)
            rec2 = w.write_rows("subjects", f"{rd.isoformat()}_{site}_resend.csv", rd,
                                list(COLUMNS["subjects"]),
                                _strip([subject_row(sex_x_subject)], COLUMNS["subjects"])[0])
            truth["resent_rows"].append({"source": "subjects", "file_name": rec2.file_name,
                                         "row_number": 1, "subject_id": sex_x_subject.subject_id,
                                         "replaces_invalid_row_in": rec.file_name})

    # ---------------------------------------------------------------- clinical deliveries
    def batches(source: str, per_subject: dict[str, list[dict]], last_day: int, dirt=None,
                styles=None, crlf_first_site01=False, copy_first=False):
        """One delivery per site and half-year of infusion."""
        written = []
        for (site, half), group in _group(infused, lambda s: (s.site_id, half_year_key(s.infused_on))).items():
            rows = [r for s in group for r in per_subject.get(s.subject_id, [])]
            if not rows:
                continue
            last = max(s.infused_on for s in group) + timedelta(days=last_day)
            dd = delivery_date_after(last, 12)
            if dirt is not None:
                rows = dirt(site, half, rows) or rows
            header = list(COLUMNS[source])
            lists, marks = _strip(rows, header)
            crlf = crlf_first_site01 and site == "site01" and not any(
                r.crlf for r in w.records if r.source == source)
            rec = w.write_rows(source, f"{dd.isoformat()}_{site}.csv", dd, header, lists,
                               crlf=crlf, time_style=(styles or {}).get(site, "naive"))
            written.append((rec, marks, rows))
        return written

    planted: set[str] = set()  # each kind of dirt goes into exactly one delivery

    def once(kind: str, cond: bool = True) -> bool:
        if not cond or kind in planted:
            return False
        planted.add(kind)
        return True

    # vitals: an invalid temperature (55.0) on an extra reading, and one identical duplicate row
    def vitals_dirt(site, half, rows):
        if not once("vitals", site == "site01"):
            return rows
        out = list(rows)
        j = next(i for i, r in enumerate(out) if (_date_of(r["recorded_at"]) - by_id[r["subject_id"]].infused_on).days == 16)
        ts = astct.parse_local(out[j]["recorded_at"]).replace(hour=15, minute=12)
        out.insert(j + 1, {**out[j], "recorded_at": fmt_dt(ts), "temperature_c": "55.0",
                           "_mark": "temp55"})
        k = next(i for i, r in enumerate(out) if (_date_of(r["recorded_at"]) - by_id[r["subject_id"]].infused_on).days == 24)
        out.insert(k + 1, {**out[k], "_mark": "dupvitals"})
        return out

    for rec, marks, rows in batches("vitals", vitals, 30, vitals_dirt, site_style):
        if "temp55" in marks:
            truth["invalid_rows"].append({"source": "vitals", "file_name": rec.file_name,
                                          "row_number": marks["temp55"], "column": "temperature_c",
                                          "value": "55.0", "problem": "temperature_c outside 30..45"})
        if "dupvitals" in marks:
            r = rows[marks["dupvitals"] - 1]
            truth["identical_duplicates"].append({
                "source": "vitals", "file_name": rec.file_name,
                "row_numbers": [marks["dupvitals"] - 1, marks["dupvitals"]],
                "key": {"subject_id": r["subject_id"], "recorded_at": r["recorded_at"]}})

    def neuro_dirt(site, half, rows):
        if not once("neuro", site == "site01"):
            return rows
        out = list(rows)
        j = next(i for i, r in enumerate(out) if (_date_of(r["assessed_at"]) - by_id[r["subject_id"]].infused_on).days == 13)
        ts = astct.parse_local(out[j]["assessed_at"]).replace(hour=15, minute=40)
        out.insert(j + 1, {**out[j], "assessed_at": fmt_dt(ts), "ice_score": "11", "_mark": "ice11"})
        return out

    for rec, marks, rows in batches("neuro_assessments", neuro, 30, neuro_dirt,
                                    crlf_first_site01=True):
        if "ice11" in marks:
            truth["invalid_rows"].append({"source": "neuro_assessments", "file_name": rec.file_name,
                                          "row_number": marks["ice11"], "column": "ice_score",
                                          "value": "11", "problem": "ice_score outside 0..10"})

    tox = {s.subject_id: toxicity_rows(courses[s.subject_id]) for s in infused}
    tox_written = batches("toxicity_assessments", tox, 31)
    # a byte-identical re-delivery of the first toxicity file, under another name, later
    orig = tox_written[0][0]
    cp_date = orig.delivered_on + timedelta(days=45)
    orig_site = Path(orig.file_name).stem.split("_", 1)[1]
    cp = w.copy(orig, f"{cp_date.isoformat()}_{orig_site}_resent.csv", cp_date, note="byte-identical copy of " + orig.file_name)
    truth["duplicate_deliveries"].append({"original": orig.file_name, "copy": cp.file_name})

    meds = {s.subject_id: courses[s.subject_id].meds for s in infused}
    batches("medications", meds, 31, styles=med_style, crlf_first_site01=True)
    batches("response_assessments", responses, 400)

    # outcomes: one delivery per site after the data cut; site02's with BOM and CRLF
    for site, group in _group(infused, lambda s: s.site_id).items():
        dd = DATA_CUT + timedelta(days=15)
        lists, _ = _strip([outcome[s.subject_id] for s in group], COLUMNS["outcomes"])
        w.write_rows("outcomes", f"{dd.isoformat()}_{site}.csv", dd, list(COLUMNS["outcomes"]),
                     lists, bom=(site == "site02"), crlf=(site == "site02"))

    # ---------------------------------------------------------------- serum labs
    site_units = {
        "site01": {t: next(iter(u)) for t, u in LAB_UNITS.items()},
        "site02": {"CRP": "mg/dL", "FERRITIN": "ug/L", "ANC": "/uL", "PLT": "10^3/uL",
                   "WBC": "10^3/uL", "LDH": "U/L", "FIBRINOGEN": "g/L", "DDIMER": "ng/mL FEU"},
    }
    decimals = {("CRP", "mg/L"): 1, ("CRP", "mg/dL"): 2, ("FERRITIN", "ng/mL"): 0, ("FERRITIN", "ug/L"): 0,
                ("LDH", "U/L"): 0, ("FIBRINOGEN", "mg/dL"): 0, ("FIBRINOGEN", "g/L"): 2,
                ("DDIMER", "ug/mL FEU"): 2, ("DDIMER", "ng/mL FEU"): 0}
    for t in ("ANC", "PLT", "WBC"):
        decimals[(t, "10^9/L")] = 2 if t != "PLT" else 0
        decimals[(t, "10^3/uL")] = 2 if t != "PLT" else 0
        decimals[(t, "/uL")] = 0
    labs: dict[str, list[dict]] = {}
    for s in infused:
        c = courses[s.subject_id]
        days = np.array(LAB_DAYS, dtype=float)
        vals = serum_labs(rng, days, c.crs, c.toci_days)
        units = site_units[s.site_id]
        rows = []
        for i, d in enumerate(LAB_DAYS):
            ts = fmt_dt(at(c.day(d), 6, int(rng.integers(0, 60))))
            for t in ("CRP", "FERRITIN", "ANC", "PLT", "WBC", "LDH", "FIBRINOGEN", "DDIMER"):
                if rng.random() < 0.03:
                    continue  # not drawn that day
                u = units[t]
                v = max(vals[t][i], 0.0) * LAB_UNITS[t][u]
                rows.append({"subject_id": s.subject_id, "collected_at": ts, "test": t,
                             "value": fmt_fixed(v, decimals[(t, u)]), "unit": u})
        labs[s.subject_id] = rows

    def labs_dirt(site, half, rows):
        out = list(rows)
        if once("labs_negative", site == "site01"):
            j = next(i for i, r in enumerate(out) if r["test"] == "CRP" and
                     (_date_of(r["collected_at"]) - by_id[r["subject_id"]].infused_on).days == 8)
            ts = astct.parse_local(out[j]["collected_at"]).replace(hour=15, minute=10)
            out.insert(j + 1, {**out[j], "collected_at": fmt_dt(ts), "value": "-4.2", "_mark": "neg"})
        if once("labs_conflict", site == "site02"):
            j = next(i for i, r in enumerate(out) if r["test"] == "FERRITIN" and
                     (_date_of(r["collected_at"]) - by_id[r["subject_id"]].infused_on).days == 4)
            ts = fmt_dt(astct.parse_local(out[j]["collected_at"]).replace(hour=13, minute=40))
            base = float(out[j]["value"])
            out.insert(j + 1, {**out[j], "collected_at": ts, "value": fmt_fixed(base * 1.02, 0), "_mark": "conf1"})
            out.insert(j + 2, {**out[j], "collected_at": ts, "value": fmt_fixed(base * 1.31, 0), "_mark": "conf2"})
        return out

    labs_written = batches("serum_labs", labs, 30, labs_dirt)
    for rec, marks, rows in labs_written:
        if "neg" in marks:
            truth["invalid_rows"].append({"source": "serum_labs", "file_name": rec.file_name,
                                          "row_number": marks["neg"], "column": "value",
                                          "value": "-4.2", "problem": "negative value"})
        if "conf1" in marks:
            r1, r2 = rows[marks["conf1"] - 1], rows[marks["conf2"] - 1]
            truth["conflicting_duplicates"].append({
                "source": "serum_labs", "file_name": rec.file_name,
                "row_numbers": [marks["conf1"], marks["conf2"]],
                "key": {"subject_id": r1["subject_id"], "collected_at": r1["collected_at"], "test": "FERRITIN"},
                "values": [r1["value"], r2["value"]]})
    # the correcting delivery: three values of the first site01 labs file re-sent, changed
    first = next(x for x in labs_written if x[0].file_name.endswith("_site01.csv"))
    rec0, _, rows0 = first
    picks = [r for r in rows0 if "_mark" not in r and r["test"] in ("CRP", "FERRITIN", "PLT")]
    chosen = [picks[len(picks) // 5], picks[len(picks) // 2], picks[(4 * len(picks)) // 5]]
    corr_rows = []
    for r in chosen:
        new_v = float(r["value"]) * 1.5 + 1
        dec = decimals[(r["test"], r["unit"])]
        corr_rows.append({**r, "value": fmt_fixed(new_v, dec)})
    cd = rec0.delivered_on + timedelta(days=20)
    rec_c = w.write_rows("serum_labs", f"{cd.isoformat()}_site01_correction.csv", cd,
                         list(COLUMNS["serum_labs"]), _strip(corr_rows, COLUMNS["serum_labs"])[0],
                         note="corrects 3 rows of " + rec0.file_name)
    for i, (old, new) in enumerate(zip(chosen, corr_rows), start=1):
        truth["corrections"].append({
            "source": "serum_labs", "file_name": rec_c.file_name, "row_number": i,
            "original_file_name": rec0.file_name,
            "key": {"subject_id": old["subject_id"], "collected_at": old["collected_at"], "test": old["test"]},
            "unit": old["unit"], "old_value": old["value"], "new_value": new["value"]})

    # ---------------------------------------------------------------- serum cytokines
    writer = ResultWriter(rng)
    variants = {"IL6": ["IL-6", "il6", "Il-6"], "IFNG": ["IFN-γ", "IFNg", "IFN-gamma"],
                "TNFA": ["TNF-alpha", "TNF-α", "tnfa"], "IL1B": ["IL-1β", "IL-1b"],
                "IL1RA": ["IL-1RA", "IL-1ra"], "IL12P70": ["IL-12 (p70)", "IL-12p70"],
                "MCP1": ["MCP-1", "mcp-1"], "MIP1A": ["MIP-1α", "MIP-1alpha"], "MIP1B": ["MIP-1β", "MIP-1beta"],
                "IP10": ["IP-10"], "GMCSF": ["GM-CSF"], "GCSF": ["G-CSF"], "SIL2RA": ["sIL-2Rα", "sIL-2Ra"],
                "IL17A": ["IL-17A", "IL-17a"], "PDGFBB": ["PDGF-BB"], "IL10": ["IL-10"], "IL2": ["IL-2"]}
    used_variants: dict[str, str] = {}
    plates = [serum_samples[i:i + PLATE_SIZE] for i in range(0, len(serum_samples), PLATE_SIZE)]
    NG_PLATE, VARIANT_PLATE, Z_PLATE, DIRT_PLATE, OOR_PLATE = 3, 5, 1, 4, 6
    for pi, plate in enumerate(plates):
        plate_id = f"PL{pi + 1:03d}"
        factor, unit = (0.001, "ng/mL") if pi == NG_PLATE else (1.0, "pg/mL")
        style = "Z" if pi == Z_PLATE else "naive"
        lloq_plate = {a: CYTOKINE_PARAMS[a][1] * float(np.exp(rng.normal(0, 0.1))) for a in ANALYTES}
        rows = []
        for smp in plate:
            for ai, a in enumerate(ANALYTES):
                lo = float(f"{lloq_plate[a]:.2g}")
                res, lo_s, hi_s = writer.write(smp["values"][a], lo, CYTOKINE_PARAMS[a][2], factor)
                name = a
                if pi == VARIANT_PLATE and a in variants:
                    vs = variants[a]
                    name = vs[(len(rows) + ai) % len(vs)]
                    used_variants[name] = a
                rows.append({"sample_id": smp["sample_id"], "subject_id": smp["subject"].subject_id,
                             "collected_at": fmt_dt(smp["collected"], style), "analyte": name,
                             "result": res, "unit": unit, "lloq": lo_s, "uloq": hi_s,
                             "plate_id": plate_id, "assay": ASSAY})
        if pi == DIRT_PLATE:
            # unknown analyte (extra row), and a non-numeric result on a real row
            j = 10 * len(ANALYTES) + 3
            rows.insert(j, {**rows[j], "analyte": "IL99", "result": "12.5", "_mark": "il99"})
            k = 20 * len(ANALYTES) + 7
            rows[k] = {**rows[k], "result": "n/a", "_mark": "na"}
        if pi == OOR_PLATE:
            k = 5 * len(ANALYTES) + 11
            rows[k] = {**rows[k], "result": "OOR <", "lloq": "", "_mark": "oornolloq"}
        last = max(smp["collected"].date() for smp in plate)
        dd = delivery_date_after(last, 14)
        header = list(COLUMNS["serum_cytokines"])
        lists, marks = _strip(rows, header)
        rec = w.write_rows("serum_cytokines", f"{dd.isoformat()}_lab01_plate{pi + 1:02d}.csv", dd,
                           header, lists, bom=(pi == NG_PLATE), time_style=style,
                           note=("ng/mL plate" if pi == NG_PLATE else
                                 "analyte spelling variants" if pi == VARIANT_PLATE else ""))
        for mk, col, val, prob in (("il99", "analyte", "IL99", "unknown analyte"),
                                   ("na", "result", "n/a", "non-numeric result"),
                                   ("oornolloq", "result", "OOR <", "OOR < on a row without lloq")):
            if mk in marks:
                truth["invalid_rows"].append({"source": "serum_cytokines", "file_name": rec.file_name,
                                              "row_number": marks[mk], "column": col, "value": val,
                                              "problem": prob})

    # ---------------------------------------------------------------- CSF
    ids = [s.subject_id for s in infused]
    perm = [ids[i] for i in rng.permutation(len(ids))]
    both, pre_only, post_only = perm[:22], perm[22:27], perm[27:29]  # pre 27, post 24 (Fig. 4B)
    csf_samples: list[dict] = []

    def add_csf(sid: str, day: int, post: bool, tag: str):
        s = by_id[sid]
        ts = at(s.infused_on + timedelta(days=day), 11, int(rng.integers(0, 60)))
        chem = csf_chemistry(rng, post, s.icans_max)
        csf_samples.append({"sample_id": f"{sid}-CSF{tag}", "subject": s, "collected": ts,
                            "day": day, "post": post, **chem})

    for sid in both + pre_only:
        add_csf(sid, int(rng.integers(-10, 1)), False, "1")
    post_days: dict[str, list[int]] = {}
    two_post = [(4, 6), (3, 5), (5, 7)]  # (4, 6) is a tie around day 5: the earlier one counts
    for i, sid in enumerate(both + post_only):
        pd_ = list(two_post[i]) if i < 3 else [int(rng.choice([4, 5, 5, 5, 6]))]
        post_days[sid] = pd_
        for j, d in enumerate(pd_):
            add_csf(sid, d, True, f"{2 + j}")
    # outside the windows: a day -18 sample (not "pre") and a day 12 sample (not "post")
    add_csf(post_only[0], -18, False, "0")
    add_csf(both[5], 12, True, "9")
    sel_pre = {sid: f"{sid}-CSF1" for sid in both + pre_only}
    sel_post = {}
    for sid, ds in post_days.items():
        best = min(range(len(ds)), key=lambda j: (abs(ds[j] - 5), ds[j]))
        sel_post[sid] = f"{sid}-CSF{2 + best}"
    pre_ids = sorted(sel_pre)
    post_ids = sorted(sel_post)
    cyto_pre = [sel_pre[pre_ids[i]] for i in sorted(rng.choice(len(pre_ids), 15, replace=False))]
    cyto_post = [sel_post[post_ids[i]] for i in sorted(rng.choice(len(post_ids), 15, replace=False))]
    csf_samples.sort(key=lambda x: (x["collected"], x["sample_id"]))
    csf_by_id = {x["sample_id"]: x for x in csf_samples}

    for (site, year), group in _group(infused, lambda s: (s.site_id, s.infused_on.year)).items():
        members = {s.subject_id for s in group}
        smps = [x for x in csf_samples if x["subject"].subject_id in members]
        if not smps:
            continue
        dd = delivery_date_after(max(x["collected"].date() for x in smps), 20)
        rows = [{"sample_id": x["sample_id"], "subject_id": x["subject"].subject_id,
                 "collected_at": fmt_dt(x["collected"]), "wbc_per_ul": fmt_fixed(x["wbc_per_ul"], 0),
                 "rbc_per_ul": fmt_fixed(x["rbc_per_ul"], 0) if x["rbc_per_ul"] is not None else "",
                 "protein_mg_dl": fmt_fixed(x["protein_mg_dl"], 1),
                 "glucose_mg_dl": fmt_fixed(x["glucose_mg_dl"], 0) if x["glucose_mg_dl"] is not None else ""}
                for x in smps]
        w.write_rows("csf_samples", f"{dd.isoformat()}_{site}.csv", dd, list(COLUMNS["csf_samples"]),
                     _strip(rows, COLUMNS["csf_samples"])[0])

    cyto_ids = sorted(set(cyto_pre) | set(cyto_post), key=lambda i: (csf_by_id[i]["collected"], i))
    for year in sorted({csf_by_id[i]["collected"].year for i in cyto_ids}):
        smps = [csf_by_id[i] for i in cyto_ids if csf_by_id[i]["collected"].year == year]
        rows = []
        for x in smps:
            s = x["subject"]
            on_ak = x["post"] and 2 <= x["day"] <= 10
            vals = csf_cytokines(rng, x["post"], s.crs_max, s.icans_max, on_ak)
            for a in ANALYTES:
                res, lo_s, hi_s = writer.write(vals[a], CYTOKINE_PARAMS[a][1], CYTOKINE_PARAMS[a][2])
                rows.append({"sample_id": x["sample_id"], "subject_id": s.subject_id,
                             "collected_at": fmt_dt(x["collected"]), "analyte": a, "result": res,
                             "unit": "pg/mL", "lloq": lo_s, "uloq": hi_s,
                             "plate_id": f"CSF{year}", "assay": ASSAY})
        if year == min(csf_by_id[i]["collected"].year for i in cyto_ids):
            k = 2 * len(ANALYTES) + 1
            rows[k] = {**rows[k], "result": "OOR >", "uloq": "", "_mark": "oornouloq"}
        dd = delivery_date_after(date(year, 12, 1), 45)
        header = list(COLUMNS["csf_cytokines"])
        lists, marks = _strip(rows, header)
        rec = w.write_rows("csf_cytokines", f"{dd.isoformat()}_lab01_csf{year}.csv", dd, header, lists)
        if "oornouloq" in marks:
            truth["invalid_rows"].append({"source": "csf_cytokines", "file_name": rec.file_name,
                                          "row_number": marks["oornouloq"], "column": "result",
                                          "value": "OOR >", "problem": "OOR > on a row without uloq"})

    # ---------------------------------------------------------------- truth
    def dex_equiv(c: Course, weight: float | None) -> float:
        tot = 0.0
        for m in c.meds:
            f = STEROID_DEX_EQUIV.get(m["drug"])
            if f is None:
                continue
            dose = float(m["dose"]) * (weight if m["dose_unit"] == "mg/kg" else 1.0)
            tot += dose * f
        return round(tot, 4)

    def onset_duration(g: dict[int, int]) -> tuple[int | None, int]:
        days = sorted(d for d, v in g.items() if v >= 1 and 0 <= d <= 30)
        return (days[0] if days else None), len(days)

    subj_truth = []
    for s in subs:
        t = {"subject_id": s.subject_id, "site_id": s.site_id, "is_infused": s.is_infused,
             "car_t_product": s.car_t_product or None, "disease": s.disease,
             "infused_on": fmt_date(s.infused_on) or None}
        if s.is_infused:
            c = courses[s.subject_id]
            co, cd_ = onset_duration(c.crs)
            io, id_ = onset_duration(c.icans)
            t.update({
                "crs_max_grade": s.crs_max, "icans_max_grade": s.icans_max,
                "crs_onset_day": co, "crs_duration_days": cd_,
                "icans_onset_day": io, "icans_duration_days": id_,
                "crs_max_grade_derived": s.crs_max_derived, "icans_max_grade_derived": s.icans_max_derived,
                "best_response_d100": s.best, "os_days": s.os_days, "os_event": s.os_event,
                "pfs_days": s.pfs_days, "pfs_event": s.pfs_event,
                "tocilizumab_doses": sum(m["drug"] == "tocilizumab" for m in c.meds),
                "anakinra_doses": sum(m["drug"] == "anakinra" for m in c.meds),
                "steroid_dex_equiv_mg": dex_equiv(c, s.weight_kg),
            })
        else:
            t.update({"not_infused_reason": s.not_infused_reason})
        subj_truth.append(t)

    inf_truth = [t for t in subj_truth if t["is_infused"]]
    truth.update({
        "n_enrolled": len(subs), "n_infused": len(infused), "n_not_infused": len(subs) - len(infused),
        "not_infused": [{"subject_id": s.subject_id, "reason": s.not_infused_reason}
                        for s in subs if not s.is_infused],
        "products": dict(sorted(Counter(s.car_t_product for s in infused).items())),
        "diseases": dict(sorted(Counter(s.disease for s in infused).items())),
        "diseases_enrolled": dict(sorted(Counter(s.disease for s in subs).items())),
        "crs_max_grade_counts": {str(g): sum(t["crs_max_grade"] == g for t in inf_truth) for g in range(6)},
        "icans_max_grade_counts": {str(g): sum(t["icans_max_grade"] == g for t in inf_truth) for g in range(6)},
        "best_response_counts": {r: sum(t["best_response_d100"] == r for t in inf_truth)
                                 for r in ("CR", "PR", "SD", "PD", "NE")},
        "evaluable_response": sum(t["best_response_d100"] != "NE" for t in inf_truth),
        "outcomes_for_not_infused": False,
        "subjects": subj_truth,
        "discordances": discordances,
        "masked_fever_examples": masked_examples,
        "identifying_values": sorted(set(names_used)),
        "analyte_variants": dict(sorted(used_variants.items())),
        "censored_form_counts": dict(writer.counts),
        "csf": {
            "pre_n": len(sel_pre), "post_n": len(sel_post),
            "paired_n": len(set(sel_pre) & set(sel_post)),
            "selected_pre": dict(sorted(sel_pre.items())), "selected_post": dict(sorted(sel_post.items())),
            "cytokine_pre_n": len(cyto_pre), "cytokine_post_n": len(cyto_post),
            "cytokine_paired_n": len({csf_by_id[i]["subject"].subject_id for i in cyto_pre}
                                     & {csf_by_id[i]["subject"].subject_id for i in cyto_post}),
        },
        "site_time_zones": {"site01": "UTC", "site02": "UTC"},
        "data_cut": DATA_CUT.isoformat(),
    })
    _check_calibration(truth)
    truth["files"] = w.truth_files()
    return truth


def _check_calibration(t: dict) -> None:
    """The numbers of Park 2023 that the acceptance tests check (see module docstring)."""
    assert (t["n_enrolled"], t["n_infused"], t["n_not_infused"]) == (34, 31, 3)
    assert t["products"] == {"axi-cel": 23, "brexu-cel": 4, "liso-cel": 3, "tisa-cel": 1}
    assert t["crs_max_grade_counts"] == {"0": 8, "1": 13, "2": 8, "3": 2, "4": 0, "5": 0}
    assert t["icans_max_grade_counts"] == {"0": 25, "1": 1, "2": 2, "3": 3, "4": 0, "5": 0}
    assert t["best_response_counts"] == {"CR": 20, "PR": 4, "SD": 2, "PD": 4, "NE": 1}
    assert (t["csf"]["pre_n"], t["csf"]["post_n"]) == (27, 24)
    assert (t["csf"]["cytokine_pre_n"], t["csf"]["cytokine_post_n"]) == (15, 15)
    assert 4 <= len(t["discordances"]) <= 6
