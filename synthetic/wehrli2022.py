"""Profile ``wehrli2022``: anakinra for steroid-refractory ICANS (Wehrli et al., JITC 2022;10:e003847).

A single-center series of 14 subjects treated with axi-cel or tisa-cel (abstract) who develop
ICANS, mostly grade 3-4, that does not settle on dexamethasone, and then receive anakinra as
three daily 100 mg subcutaneous doses (abstract: "three daily subcutaneous doses"; a few courses
here are longer) with tocilizumab and steroids around it; some have CRS, and a few die (Fig. 1
marks deceased patients). The axi-cel / tisa-cel split (9 / 5), grades and deaths are this
generator's choice, not the paper's.

What the analyses of derivations.md ("Around an anakinra course") should find, on average:
temperature, CRP, ferritin and the inflammatory cytokines fall from before the first dose to after
the last dose (Fig. 2A, 2D, 2E, Fig. 3); neutropenia and thrombocytopenia are common at dosing
(Fig. 2B). Sampling follows the paper: vitals every 1-4 h around the course, labs at least daily,
serum cytokines on days 3, 7, 14, 21 and 28 (Fig. 3 legend), so that a sample falls 1-2 days
before the first dose and one 2-8 days after the last. There is no prophylactic anakinra here and
no planted dirt; signs derive exactly the adjudicated grades (checked with `astct`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from . import astct
from .biomarkers import (
    CYTOKINE_PARAMS, ResultWriter, csf_chemistry, csf_cytokines, serum_cytokines, serum_labs,
)
from .clinical import Course, episode, med_row, neuro_rows, toxicity_rows, vitals_rows
from .common import (
    ANALYTES, COLUMNS, LAB_TESTS, LandingWriter, at, fmt_date, fmt_dt,
    fmt_fixed,
)

PROFILE = "wehrli2022"
N = 14
CYTO_DAYS = (3, 7, 14, 21, 28)
DATA_CUT = date(2021, 12, 31)
ASSAY = "Luminex custom 27-plex"
# (product, crs_max, icans_max, anakinra course length in days, dies)
_DESIGN = [
    ("axi-cel", 2, 4, 3, True), ("axi-cel", 3, 4, 5, True), ("axi-cel", 2, 4, 3, False),
    ("axi-cel", 1, 4, 3, False), ("axi-cel", 2, 3, 3, False), ("axi-cel", 0, 3, 3, False),
    ("axi-cel", 1, 3, 7, False), ("axi-cel", 2, 3, 3, False), ("axi-cel", 0, 2, 3, False),
    ("tisa-cel", 1, 4, 3, True), ("tisa-cel", 2, 3, 3, False), ("tisa-cel", 0, 3, 5, False),
    ("tisa-cel", 1, 2, 3, False), ("tisa-cel", 0, 2, 3, False),
]


def generate(out_dir: Path, seed: int, subjects: int | None = None) -> dict:
    if subjects not in (None, N):
        raise ValueError(f"profile wehrli2022 has {N} subjects")
    rng = np.random.default_rng(seed)
    w = LandingWriter(Path(out_dir))
    design = [_DESIGN[i] for i in rng.permutation(N)]
    offsets = np.sort(rng.choice(np.arange(0, 540), N, replace=False))

    subj_rows, courses, info = [], [], []
    for k, (product, crs_max, icans_max, course_len, dies) in enumerate(design):
        sid = f"W22-{k + 1:02d}"
        enrolled = date(2019, 6, 3) + timedelta(days=int(offsets[k]))
        infused = enrolled + timedelta(days=int(rng.integers(14, 29)))
        weight = round(float(np.clip(rng.normal(78, 14), 48, 130)), 1)
        age = int(np.clip(round(rng.normal(63, 10)), 30, 82))
        subj_rows.append({"subject_id": sid, "site_id": "site01", "enrolled_on": enrolled.isoformat(),
                          "age_years": str(age), "sex": "M" if rng.random() < 0.6 else "F",
                          "weight_kg": fmt_fixed(weight, 1), "disease": "LBCL",
                          "car_t_product": product, "infused_on": infused.isoformat(),
                          "not_infused_reason": ""})
        # first anakinra dose on a day with a cytokine sample 1-2 days before it
        first = int(rng.choice([4, 5, 8, 9]))
        last = first + course_len - 1
        # ICANS: grade >= 2 from 1-2 days before the first dose, peak, slow decline after it
        on2 = max(2, first - int(rng.integers(1, 3)))
        pre = [1] if on2 > 2 else []
        peak_len = int(rng.integers(2, 5))
        prof = pre + [2] + [icans_max] * peak_len + [max(2, icans_max - 1)] * int(rng.integers(1, 3)) \
            + [2] * int(rng.integers(1, 3)) + [1] * int(rng.integers(1, 4))
        icans = episode(on2 - len(pre), prof)
        # CRS: from day 1-2 until the first dose day (fever persists up to anakinra), then gone
        crs: dict[int, int] = {}
        if crs_max:
            c_on = int(rng.integers(1, 3))
            top_len = max(1, first - c_on - 3)  # then two grade-1 (febrile) days up to the first dose
            crs = episode(c_on, [1] + [crs_max] * top_len + [1, 1])
        c = Course(sid, infused, weight, crs, icans, crs_signs=dict(crs), icans_signs=dict(icans),
                   crs_sign_pref="hypotension" if rng.random() < 0.6 else "hypoxia")
        if not crs_max:
            c.subfebrile_days = {first - 1, first}
        _meds(rng, c, first, last, crs_max, icans_max)
        courses.append(c)
        info.append({"subject_id": sid, "product": product, "crs_max": crs_max, "icans_max": icans_max,
                     "first": first, "last": last, "course_len": course_len, "dies": dies,
                     "infused": infused, "weight": weight})

    # vitals every 4 h, hourly-to-2-hourly from 2 days before the first dose to 2 days after the last
    vit, neu, labs, cyto = {}, {}, {}, {}
    for c, inf in zip(courses, info):
        sched = {}
        for d in range(-1, 31):
            if inf["first"] - 2 <= d <= inf["last"] + 2:
                step = 1 if inf["first"] - 1 <= d <= inf["first"] else 2
                sched[d] = [(h, int(rng.integers(0, 50))) for h in range(0, 24, step)]
            else:
                sched[d] = [(h, int(rng.integers(0, 60))) for h in (1, 5, 9, 13, 17, 21)]
        vit[c.subject_id] = vitals_rows(rng, c, sched)
        nsched = {d: [(h, int(rng.integers(0, 60))) for h in (8, 14, 20)] for d in range(0, 31)}
        neu[c.subject_id] = neuro_rows(rng, c, nsched)
        crs_d = astct.crs_daily(vit[c.subject_id], c.infused_on, c.meds)
        ic_d = astct.icans_daily(neu[c.subject_id], c.infused_on)
        for d in range(-1, 31):
            if crs_d.get(d, 0) != c.crs.get(d, 0) or ic_d.get(d, 0) != c.icans.get(d, 0):
                raise AssertionError(f"{c.subject_id} day {d}: derived grade differs from adjudicated")
        inf["crs_max_derived"] = max(crs_d.values())
        inf["icans_max_derived"] = max(ic_d.values())

        # labs: daily at 06:00, twice daily during the course; CRP / ferritin fall after anakinra
        days = sorted(set(range(-5, 31)) | {d + 0.5 for d in range(inf["first"] - 1, inf["last"] + 3)})
        darr = np.array(days, dtype=float)
        drive = {d: max(c.crs.get(d, 0), c.icans.get(d, 0) - 1 if d < inf["first"] else 0)
                 for d in range(0, 31)}
        vals = serum_labs(rng, darr, drive, set())
        after = np.clip(darr - inf["first"], 0, None)
        vals["CRP"] = vals["CRP"] * np.maximum(0.12, np.power(0.62, after))
        vals["FERRITIN"] = vals["FERRITIN"] * np.maximum(0.45, np.power(0.88, after))
        rows = []
        for i, d in enumerate(days):
            hour = 6 if float(d).is_integer() else 18
            ts = fmt_dt(at(c.day(int(np.floor(d))), hour, int(rng.integers(0, 60))))
            for t in LAB_TESTS:
                dec = {"CRP": 1, "FERRITIN": 0, "ANC": 2, "PLT": 0, "WBC": 2, "LDH": 0,
                       "FIBRINOGEN": 0, "DDIMER": 2}[t]
                rows.append({"subject_id": c.subject_id, "collected_at": ts, "test": t,
                             "value": fmt_fixed(max(float(vals[t][i]), 0.0), dec),
                             "unit": {"CRP": "mg/L", "FERRITIN": "ng/mL", "ANC": "10^9/L", "PLT": "10^9/L",
                                      "WBC": "10^9/L", "LDH": "U/L", "FIBRINOGEN": "mg/dL",
                                      "DDIMER": "ug/mL FEU"}[t]})
        labs[c.subject_id] = rows

        # cytokines on days 3, 7, 14, 21, 28; inflammation stops driving them after the first dose
        cd = np.array(CYTO_DAYS, dtype=float)
        drive_c = {d: (max(c.crs.get(d, 0), c.icans.get(d, 0)) if d < inf["first"] else 0)
                   for d in range(0, 31)}
        ak_days = set(range(inf["first"], inf["last"] + 2))
        vals = serum_cytokines(rng, cd, drive_c, inf["icans_max"], ak_days, set())
        pre = max(d for d in CYTO_DAYS if d < inf["first"])
        post = min(d for d in CYTO_DAYS if d > inf["last"] + 1)
        assert 1 <= inf["first"] - pre <= 2 and 2 <= post - inf["last"] <= 8, inf
        inf["cytokine_pre_day"], inf["cytokine_post_day"] = pre, post
        cyto[c.subject_id] = [(d, at(c.day(d), 7, int(rng.integers(0, 60))), {a: float(vals[a][i]) for a in ANALYTES})
                              for i, d in enumerate(CYTO_DAYS)]

    # outcomes and responses
    outcomes, responses = [], []
    for inf in info:
        i0 = inf["infused"]
        died = int(rng.integers(30, 200)) if inf["dies"] else None
        cut = (DATA_CUT - i0).days
        prog = died - int(rng.integers(5, 25)) if died and rng.random() < 0.7 else None
        alive = died if died else cut - int(rng.integers(0, 30))
        outcomes.append({"subject_id": inf["subject_id"],
                         "progressed_on": fmt_date(i0 + timedelta(days=prog) if prog else None),
                         "died_on": fmt_date(i0 + timedelta(days=died) if died else None),
                         "death_cause": ("progressive lymphoma" if prog else "infection") if died else "",
                         "last_known_alive_on": (i0 + timedelta(days=alive)).isoformat()})
        r30 = "PD" if prog and prog < 40 else ("CR" if rng.random() < 0.5 else "PR")
        for d, r in ((30, r30), (90, "CR" if r30 == "CR" else "PR")):
            if died is None or d < died and (prog is None or d < prog or r == "PD"):
                responses.append({"subject_id": inf["subject_id"],
                                  "assessed_on": (i0 + timedelta(days=d)).isoformat(),
                                  "response": r, "criteria": "Lugano2014"})
        inf.update(os_days=alive, os_event=died is not None,
                   pfs_days=min(x for x in (prog, died, alive) if x is not None), pfs_event=bool(prog or died))

    # write: one delivery per source (retrospective chart export), cytokines per plate year
    export = DATA_CUT + timedelta(days=20)
    by_sid = lambda rows: [r for c in courses for r in rows.get(c.subject_id, [])]  # noqa: E731

    def put(source, rows, name="site01", when=export):
        header = list(COLUMNS[source])
        w.write_rows(source, f"{when.isoformat()}_{name}.csv", when, header,
                     [[r.get(col, "") for col in header] for r in rows])

    put("subjects", subj_rows)
    put("vitals", by_sid(vit))
    put("neuro_assessments", by_sid(neu))
    put("toxicity_assessments", [r for c in courses for r in toxicity_rows(c)])
    put("medications", [m for c in courses for m in c.meds])
    put("response_assessments", responses)
    put("outcomes", outcomes)
    put("serum_labs", by_sid(labs))
    writer = ResultWriter(rng)
    rows = []
    for c in courses:
        for d, ts, vals in cyto[c.subject_id]:
            for a in ANALYTES:
                res, lo, hi = writer.write(vals[a], CYTOKINE_PARAMS[a][1], CYTOKINE_PARAMS[a][2])
                rows.append({"sample_id": f"{c.subject_id}-D{d:02d}", "subject_id": c.subject_id,
                             "collected_at": fmt_dt(ts), "analyte": a, "result": res, "unit": "pg/mL",
                             "lloq": lo, "uloq": hi, "plate_id": "MGH-L01", "assay": ASSAY})
    put("serum_cytokines", rows, "lab01")
    # lumbar punctures in the ICANS work-up of 6 subjects (chemistry and cytokines)
    csf_rows, csf_cyto = [], []
    for c, inf in [(courses[i], info[i]) for i in sorted(rng.choice(N, 6, replace=False))]:
        d = min(dd for dd, g in c.icans.items() if g >= 3) if inf["icans_max"] >= 3 else min(c.icans)
        ts = fmt_dt(at(c.day(d), 15, int(rng.integers(0, 60))))
        chem = csf_chemistry(rng, True, inf["icans_max"])
        smp = f"{c.subject_id}-CSF1"
        csf_rows.append({"sample_id": smp, "subject_id": c.subject_id, "collected_at": ts,
                         **{k: ("" if v is None else fmt_fixed(v, 1 if k == "protein_mg_dl" else 0))
                            for k, v in chem.items()}})
        vals = csf_cytokines(rng, True, inf["crs_max"], inf["icans_max"], False)
        for a in ANALYTES:
            res, lo, hi = writer.write(vals[a], CYTOKINE_PARAMS[a][1], CYTOKINE_PARAMS[a][2])
            csf_cyto.append({"sample_id": smp, "subject_id": c.subject_id, "collected_at": ts,
                             "analyte": a, "result": res, "unit": "pg/mL", "lloq": lo, "uloq": hi,
                             "plate_id": "MGH-CSF01", "assay": ASSAY})
    put("csf_samples", csf_rows)
    put("csf_cytokines", csf_cyto, "lab01")

    subjects = [{
        "subject_id": i["subject_id"], "is_infused": True, "car_t_product": i["product"], "disease": "LBCL",
        "infused_on": i["infused"].isoformat(), "crs_max_grade": i["crs_max"], "icans_max_grade": i["icans_max"],
        "crs_max_grade_derived": i["crs_max_derived"], "icans_max_grade_derived": i["icans_max_derived"],
        "best_response_d100": _best(responses, i), "os_days": i["os_days"], "os_event": i["os_event"],
        "pfs_days": i["pfs_days"], "pfs_event": i["pfs_event"],
        "anakinra_first_day": i["first"], "anakinra_last_day": i["last"], "anakinra_doses": i["course_len"],
        "cytokine_pre_day": i["cytokine_pre_day"], "cytokine_post_day": i["cytokine_post_day"],
    } for i in info]
    return {
        "profile": PROFILE, "seed": seed, "n_enrolled": N, "n_infused": N, "n_not_infused": 0,
        "not_infused": [], "products": dict(sorted(Counter(i["product"] for i in info).items())),
        "diseases": {"LBCL": N}, "subjects": subjects, "discordances": [], "identifying_values": [],
        "invalid_rows": [], "identical_duplicates": [], "conflicting_duplicates": [], "corrections": [],
        "duplicate_deliveries": [], "analyte_variants": {},
        "expected_after_anakinra": {"TMAX": "down", "CRP": "down", "FERRITIN": "down",
                                    "IL6": "down", "IFNG": "down", "IL10": "down", "MCP1": "down"},
        "files": w.truth_files(),
    }


def _best(responses: list[dict], inf: dict) -> str:
    rank = {"CR": 0, "PR": 1, "SD": 2, "PD": 3}
    got = [r["response"] for r in responses if r["subject_id"] == inf["subject_id"]
           and 1 <= (date.fromisoformat(r["assessed_on"]) - inf["infused"]).days <= 100]
    return min(got, key=rank.__getitem__) if got else "NE"


def _meds(rng: np.random.Generator, c: Course, first: int, last: int, crs_max: int, icans_max: int) -> None:
    sid, rows = c.subject_id, c.meds
    for d in range(0, 31):  # seizure prophylaxis
        for h in (8, 20):
            rows.append(med_row(sid, "levetiracetam", at(c.day(d), h, 5), 750, "mg", "PO", "prophylaxis"))
    crs2 = sorted(d for d, g in c.crs.items() if g >= 2)
    for d in crs2[:2]:
        rows.append(med_row(sid, "tocilizumab", at(c.day(d), 21, 30), 8, "mg/kg", "IV", "crs"))
    ic2 = sorted(d for d, g in c.icans.items() if g >= 2)
    for d in range(ic2[0], ic2[-1] + 1):  # dexamethasone 10 mg q6h while ICANS >= 2
        for h in ((22,) if d == ic2[0] else (4, 10, 16, 22)):
            rows.append(med_row(sid, "dexamethasone", at(c.day(d), h, 15), 10, "mg", "IV", "icans"))
    ic4 = sorted(d for d, g in c.icans.items() if g >= 4)
    for d in ic4[:3]:  # pulse methylprednisolone for grade 4
        rows.append(med_row(sid, "methylprednisolone", at(c.day(d), 11, 0), 1000, "mg", "IV", "icans"))
    for d in range(first, last + 1):  # anakinra 100 mg SC once daily (Wehrli 2022 abstract)
        rows.append(med_row(sid, "anakinra", at(c.day(d), 10, 0), 100, "mg", "SC", "icans"))
    rows.sort(key=lambda r: (r["administered_at"], r["drug"]))
