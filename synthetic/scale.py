"""Profile ``scale``: N subjects (default 1000) of the park2023 shape, for benchmarks. Not calibrated.

Vectorised with numpy and written with pyarrow's CSV writer, one delivery per source per chunk of
1,000 subjects (``<source>/<date>_batch0001.csv``), so memory stays bounded by one chunk and
100,000 subjects stream. Each chunk has its own generator, ``default_rng([seed, chunk])``, so a
chunk's bytes do not depend on the chunk size of the run that precedes it.

Per infused subject and source (about 730 rows per subject, ~7.5 million rows for 10,000 subjects):
toxicity_assessments 31 (days 0..30), vitals 80 (q6h days -1..14, daily 15..30), neuro 32,
medications ~22, response 1-2, outcomes 1, serum_cytokines 28 analytes x ~11 time points,
serum_labs 8 tests x 26 days, csf_samples ~1.2, csf_cytokines 28 per CSF sample.

Signs are drawn so that the ASTCT rules derive the adjudicated grade (no deliberate discordances).
A little dirt: censored cytokine results (``<x``, ``> x``, ``OOR <`` with lloq, ``*x``), cytokines
of site05 in ng/mL, site02 labs in alternative units (mg/dL, /uL, 10^3/uL, g/L, ng/mL FEU), site03
times with a ``Z``, and identifying columns in the first chunk's subjects delivery.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .biomarkers import CYTOKINE_PARAMS, ICANS_SEVERE_BOOST, KEY_ANALYTES
from .common import ANALYTES, LAB_TESTS, LAB_UNITS, LandingWriter

PROFILE = "scale"
CHUNK = 1000
PRODUCTS = np.array(["axi-cel", "brexu-cel", "tisa-cel", "liso-cel"])
SITES = np.array(["site01", "site02", "site03", "site04", "site05"])
SERUM_DAYS = np.array([-5, 0, 1, 2, 3, 4, 5, 7, 10, 14, 21, 28])
LAB_DAYS = np.array(list(range(-5, 15)) + [16, 18, 21, 24, 28, 30])
VITAL_SLOTS = np.array([(d, h) for d in range(-1, 15) for h in (2, 8, 14, 20)]
                       + [(d, 9) for d in range(15, 31)])
NEURO_SLOTS = np.array([(d, h) for d in range(0, 15) for h in (9, 21)] + [(21, 10), (28, 10)])
EPOCH = np.datetime64("1970-01-01", "D")
SUBJECT_IDENTIFYING = ("patient_name", "mrn", "date_of_birth")


# --------------------------------------------------------------------------------------------
# small vectorised formatters
# --------------------------------------------------------------------------------------------
def _dstr(days: np.ndarray) -> np.ndarray:
    """int days since 1970-01-01 -> 'YYYY-MM-DD'."""
    return np.datetime_as_string(EPOCH + days.astype("timedelta64[D]"), unit="D")


def _tsstr(days: np.ndarray, minutes: np.ndarray, suffix: str = "") -> np.ndarray:
    """(days since epoch, minute of day) -> ISO datetime text."""
    ts = (EPOCH + days.astype("timedelta64[D]")).astype("datetime64[m]") + minutes.astype("timedelta64[m]")
    out = np.datetime_as_string(ts, unit="s")
    return np.char.add(out, suffix) if suffix else out


def _num(x: np.ndarray, decimals: int) -> pa.Array:
    """Rounded floats as text (shortest repr, no exponent for our ranges); NaN -> empty."""
    x = np.round(np.asarray(x, dtype=float), decimals)
    return pc.cast(pa.array(x, mask=np.isnan(x)), pa.string())


def _int(x: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())


def _cat(values: np.ndarray | list, idx: np.ndarray) -> pa.Array:
    """Categorical text column from a small vocabulary and indices."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(idx, dtype=np.int32)),
                                          pa.array(list(values)))


def _table(source: str, cols: dict) -> pa.Table:
    names = [c for c in cols]
    return pa.table([cols[c] if isinstance(cols[c], (pa.Array, pa.ChunkedArray)) else pa.array(cols[c])
                     for c in names], names=names)


# --------------------------------------------------------------------------------------------
def generate(out_dir: Path, seed: int, subjects: int | None = None) -> dict:
    n = 1000 if subjects is None else int(subjects)
    if n < 1:
        raise ValueError("subjects must be >= 1")
    w = LandingWriter(Path(out_dir))
    totals: Counter = Counter()
    products: Counter = Counter()
    diseases: Counter = Counter()
    subj_truth: list[dict] | None = [] if n <= 20000 else None
    not_infused: list[dict] = []
    identifying: list[str] = []
    for k, start in enumerate(range(0, n, CHUNK)):
        m = min(CHUNK, n - start)
        info = _chunk(w, np.random.default_rng([seed, k]), k, start, m, totals, identifying)
        products.update(info["products"])
        diseases.update(info["diseases"])
        not_infused.extend(info["not_infused"])
        if subj_truth is not None:
            subj_truth.extend(info["subjects"])
    n_inf = n - len(not_infused)
    return {
        "profile": PROFILE, "seed": seed, "n_enrolled": n, "n_infused": n_inf,
        "n_not_infused": len(not_infused), "not_infused": not_infused,
        "products": dict(sorted(products.items())), "diseases": dict(sorted(diseases.items())),
        "subjects": subj_truth, "discordances": [], "identifying_values": sorted(set(identifying)),
        "invalid_rows": [], "identical_duplicates": [], "conflicting_duplicates": [],
        "corrections": [], "duplicate_deliveries": [], "analyte_variants": {},
        "row_counts": dict(sorted(totals.items())), "chunk_size": CHUNK,
        "files": w.truth_files(),
    }


def add_delivery(out_dir: Path, seed: int, start: int, subjects: int) -> dict[str, int]:
    """One more delivery per source with `subjects` new subjects numbered after `start` (the
    cohort's size), as the next chunk would be: new file names, a later delivery date. Used by
    `benchmarks.warehouse_bench --incremental` (a follow-up delivery after a full run). Rows per source."""
    if subjects < 1:
        raise ValueError("subjects must be >= 1")
    k = -(-start // CHUNK)  # the chunk index after the cohort's last chunk
    totals: Counter = Counter()
    _chunk(LandingWriter(Path(out_dir)), np.random.default_rng([seed, k]), k, start, subjects, totals, [])
    return dict(sorted(totals.items()))


def _chunk(w: LandingWriter, rng: np.random.Generator, k: int, start: int, m: int,
           totals: Counter, identifying: list[str]) -> dict:
    dd = date(2023, 3, 1) + timedelta(days=k)          # delivery date of this chunk
    fname = f"{dd.isoformat()}_batch{k + 1:04d}.csv"

    def put(source: str, cols: dict) -> None:
        table = _table(source, cols)
        w.write_arrow(source, fname, dd, table)
        totals[source] += table.num_rows

    # ------------------------------------------------------------------ subjects
    ids = np.array([f"SC{start + i + 1:06d}" for i in range(m)])
    site_i = rng.integers(0, len(SITES), m)
    enrolled = (np.datetime64("2021-01-04") - EPOCH).astype(int) + rng.integers(0, 720, m)
    infused_mask = rng.random(m) < 0.92
    infused = np.where(infused_mask, enrolled + rng.integers(14, 29, m), -1)
    prod_i = rng.choice(4, m, p=[0.6, 0.15, 0.1, 0.15])
    dis = np.where(prod_i == 1, "MCL", rng.choice(np.array(["LBCL", "FL", "other"]), m, p=[0.9, 0.08, 0.02]))
    age = np.clip(np.round(rng.normal(61, 12, m)), 19, 90).astype(int)
    sex = rng.choice(np.array(["M", "F"]), m, p=[0.6, 0.4])
    weight = np.round(np.clip(rng.normal(80, 16, m), 40, 160), 1)
    reasons = np.array(["disease progression before infusion", "manufacturing failure", "withdrew consent"])
    reason = np.where(infused_mask, "", reasons[rng.integers(0, 3, m)])
    cols = {
        "subject_id": ids, "site_id": SITES[site_i], "enrolled_on": _dstr(enrolled),
        "age_years": _int(age), "sex": sex, "weight_kg": _num(weight, 1), "disease": dis,
        "car_t_product": np.where(infused_mask, PRODUCTS[prod_i], ""),
        "infused_on": np.where(infused_mask, _dstr(np.maximum(infused, 0)), ""),
        "not_infused_reason": reason,
    }
    if k == 0:  # identifying columns in one site export (must never be stored by the warehouse)
        names = np.array([f"Test{chr(65 + i % 26)}{i:05d} Patient" for i in range(m)])
        mrn = np.array([f"{90000000 + start + i}" for i in range(m)])
        dob = _dstr(enrolled - age * 365 - rng.integers(10, 300, m))
        cols = {"subject_id": ids, "patient_name": names, "mrn": mrn, "date_of_birth": dob,
                **{c: v for c, v in cols.items() if c != "subject_id"}}
        identifying.extend([*names.tolist(), *mrn.tolist(), *dob.tolist()])
    put("subjects", cols)

    # ------------------------------------------------------------------ toxicity grades
    inf_idx = np.flatnonzero(infused_mask)
    ni = len(inf_idx)
    sid, inf_day, site = ids[inf_idx], infused[inf_idx], site_i[inf_idx]
    crs_max = rng.choice(5, ni, p=[0.28, 0.42, 0.2, 0.08, 0.02])
    crs_on, crs_len = rng.integers(1, 8, ni), rng.integers(1, 9, ni)
    icans_max = rng.choice(5, ni, p=[0.72, 0.08, 0.09, 0.09, 0.02])
    ic_on, ic_len = rng.integers(3, 11, ni), rng.integers(1, 8, ni)
    d31 = np.arange(31)
    crs = np.where((d31 >= crs_on[:, None]) & (d31 < (crs_on + crs_len)[:, None]), crs_max[:, None], 0)
    ican = np.where((d31 >= ic_on[:, None]) & (d31 < (ic_on + ic_len)[:, None]), icans_max[:, None], 0)
    put("toxicity_assessments", {
        "subject_id": np.repeat(sid, 31), "assessed_on": _dstr((inf_day[:, None] + d31).ravel()),
        "crs_grade": _int(crs.ravel()), "icans_grade": _int(ican.ravel()),
        "criteria": _cat(["ASTCT2019"], np.zeros(ni * 31)),
    })

    def grade_at(mat: np.ndarray, days: np.ndarray) -> np.ndarray:
        """(ni, len(days)) grade of each subject on study days (0 outside 0..30)."""
        ok = (days >= 0) & (days <= 30)
        out = np.zeros((ni, len(days)), dtype=int)
        out[:, ok] = mat[:, days[ok]]
        return out

    # ------------------------------------------------------------------ vitals
    vd, vh = VITAL_SLOTS[:, 0], VITAL_SLOTS[:, 1]
    nv = len(vd)
    g = grade_at(crs, vd)                                             # (ni, nv)
    first = np.r_[True, vd[1:] != vd[:-1]]                            # defining reading of a day
    define = (g >= 1) & first[None, :]
    temp = rng.uniform(36.2, 37.6, (ni, nv))
    temp = np.where(define, rng.uniform(38.1, 39.6, (ni, nv)), temp)
    sbp = rng.integers(100, 146, (ni, nv))
    sbp = np.where(define & (g == 2), rng.integers(76, 89, (ni, nv)), sbp)
    vaso_i = np.where(define & (g == 3), 1, np.where(define & (g >= 4), 2, 0))
    minutes = vh[None, :] * 60 + rng.integers(0, 60, (ni, nv))
    z = SITES[site] == "site03"
    ts = _tsstr(np.repeat(inf_day, nv) + np.tile(vd, ni), minutes.ravel())
    ts = np.where(np.repeat(z, nv), np.char.add(ts, "Z"), ts)
    spo2 = np.where(rng.random((ni, nv)) < 0.05, np.nan, rng.integers(94, 100, (ni, nv)))
    put("vitals", {
        "subject_id": np.repeat(sid, nv), "recorded_at": ts, "temperature_c": _num(temp.ravel(), 1),
        "systolic_bp_mmhg": _int(sbp.ravel()),
        "vasopressors": _cat(["", "norepinephrine", "norepinephrine;epinephrine"], vaso_i.ravel()),
        "o2_device": _cat(["room_air"], np.zeros(ni * nv)), "o2_flow_l_min": _num(np.full(ni * nv, np.nan), 0),
        "spo2_pct": _num(spo2.ravel(), 0),
    })

    # ------------------------------------------------------------------ neuro
    nd, nh = NEURO_SLOTS[:, 0], NEURO_SLOTS[:, 1]
    nn = len(nd)
    gi = grade_at(ican, nd)
    firstn = np.r_[True, nd[1:] != nd[:-1]]
    definen = (gi >= 1) & firstn[None, :]
    ice_for = np.array([10, 8, 5, 1, 0])
    ice = np.where(definen, ice_for[gi], 10)
    cons = np.where(definen & (gi == 4), 2, 0)
    put("neuro_assessments", {
        "subject_id": np.repeat(sid, nn),
        "assessed_at": _tsstr(np.repeat(inf_day, nn) + np.tile(nd, ni),
                              (nh[None, :] * 60 + rng.integers(0, 60, (ni, nn))).ravel()),
        "ice_score": _int(ice.ravel()),
        "consciousness": _cat(["normal", "awakens_to_voice", "unarousable"], cons.ravel()),
        "seizure": _cat(["none"], np.zeros(ni * nn)), "motor_weakness": _cat(["none"], np.zeros(ni * nn)),
        "cerebral_edema": _cat(["none"], np.zeros(ni * nn)),
    })

    # ------------------------------------------------------------------ medications
    # anakinra prophylaxis q12h days 2..10; tocilizumab 8 mg/kg at CRS >= 2 onset (evening);
    # dexamethasone 10 mg q6h on ICANS >= 2 days
    ak_d = np.repeat(np.arange(2, 11), 2)
    ak_h = np.tile([8 * 60, 20 * 60], 9)
    subj = [np.repeat(np.arange(ni), len(ak_d))]
    day = [np.tile(ak_d, ni)]
    mins = [np.tile(ak_h, ni)]
    drug = [np.zeros(ni * len(ak_d), dtype=int)]
    toci = np.flatnonzero(crs_max >= 2)
    subj.append(toci)
    day.append(crs_on[toci])
    mins.append(np.full(len(toci), 21 * 60 + 30))
    drug.append(np.ones(len(toci), dtype=int))
    dx_s, dx_d = np.nonzero(ican >= 2)
    subj.append(np.repeat(dx_s, 4))
    day.append(np.repeat(dx_d, 4))
    mins.append(np.tile([4 * 60 + 15, 10 * 60 + 15, 16 * 60 + 15, 22 * 60 + 15], len(dx_s)))
    drug.append(np.full(len(dx_s) * 4, 2))
    subj, day, mins, drug = (np.concatenate(x) for x in (subj, day, mins, drug))
    order = np.lexsort((mins, day, subj))
    subj, day, mins, drug = subj[order], day[order], mins[order], drug[order]
    put("medications", {
        "subject_id": sid[subj], "drug": _cat(["anakinra", "tocilizumab", "dexamethasone"], drug),
        "administered_at": _tsstr(inf_day[subj] + day, mins),
        "dose": _int(np.array([100, 8, 10])[drug]), "dose_unit": _cat(["mg", "mg/kg"], drug == 1),
        "route": _cat(["SC", "IV"], drug > 0),
        "indication": _cat(["prophylaxis", "crs", "icans"], drug),
    })

    # ------------------------------------------------------------------ response + outcomes
    best = rng.choice(4, ni, p=[0.6, 0.15, 0.1, 0.15])               # CR PR SD PD
    d30 = rng.integers(28, 33, ni)
    d90 = rng.integers(85, 96, ni)
    has90 = best != 3
    r_subj = np.concatenate([np.arange(ni), np.flatnonzero(has90)])
    r_day = np.concatenate([d30, d90[has90]])
    r_val = np.concatenate([np.where(best == 0, rng.choice([0, 1], ni, p=[0.6, 0.4]), best),
                            np.where(best[has90] == 2, 3, best[has90])])
    order = np.lexsort((r_day, r_subj))
    put("response_assessments", {
        "subject_id": sid[r_subj[order]], "assessed_on": _dstr(inf_day[r_subj[order]] + r_day[order]),
        "response": _cat(["CR", "PR", "SD", "PD"], r_val[order]),
        "criteria": _cat(["Lugano2014"], np.zeros(len(order))),
    })
    cut = (np.datetime64("2024-06-30") - EPOCH).astype(int)
    prog = np.where(best == 3, d30, np.where(best == 2, d90, np.where(rng.random(ni) < 0.25,
                                                                   rng.integers(120, 700, ni), -1)))
    prog = np.where(inf_day + prog > cut, -1, prog)
    died = np.where(rng.random(ni) < np.where(prog >= 0, 0.6, 0.08),
                    np.maximum(prog, 40) + rng.integers(30, 400, ni), -1)
    died = np.where(inf_day + died > cut, -1, died)
    alive = np.where(died >= 0, died, cut - inf_day - rng.integers(0, 60, ni))
    alive = np.maximum(alive, prog)  # last known alive is never before a recorded progression
    put("outcomes", {
        "subject_id": sid,
        "progressed_on": np.where(prog >= 0, _dstr(inf_day + np.maximum(prog, 0)), ""),
        "died_on": np.where(died >= 0, _dstr(inf_day + np.maximum(died, 0)), ""),
        "death_cause": np.where(died >= 0, np.where(prog >= 0, "progressive lymphoma", "infection"), ""),
        "last_known_alive_on": _dstr(inf_day + alive),
    })

    # ------------------------------------------------------------------ serum cytokines
    ns = len(SERUM_DAYS)
    keep = rng.random((ni, ns)) > 0.05
    keep[:, 0] = True
    s_subj, s_col = np.nonzero(keep)                                  # one entry per sample
    s_day = SERUM_DAYS[s_col]
    g_s = grade_at(crs, SERUM_DAYS)[s_subj, s_col]
    params = np.array([CYTOKINE_PARAMS[a] for a in ANALYTES])          # (28, 4)
    base, lloq, uloq, amp = params.T
    key = np.isin(np.array(ANALYTES), KEY_ANALYTES)
    boost = np.where(key[None, :] & (icans_max[s_subj] >= 3)[:, None], ICANS_SEVERE_BOOST, 1.0)
    subj_base = base[None, :] * np.exp(rng.normal(0, 0.5, (ni, len(ANALYTES))))
    act = (g_s + 0.5 * np.exp(-((s_day - 7.0) / 4.0) ** 2) * (s_day >= 0))[:, None]
    vals = subj_base[s_subj] * (1 + amp[None, :] * act ** 1.3 * boost)
    ak = ((s_day >= 2) & (s_day <= 10))[:, None] & (np.array(ANALYTES) == "IL1RA")[None, :]
    vals = np.where(ak, np.exp(rng.normal(np.log(60000), 0.6, vals.shape)), vals)
    vals = (vals * np.exp(rng.normal(0, 0.35, vals.shape))).ravel()
    nsm = len(s_subj)
    an_i = np.tile(np.arange(len(ANALYTES)), nsm)
    lo, hi = lloq[an_i], uloq[an_i]
    ng = np.repeat(SITES[site[s_subj]] == "site05", len(ANALYTES))
    factor = np.where(ng, 0.001, 1.0)
    result = _censor(rng, vals, lo, hi, factor)
    sample_ids = np.char.add(np.char.add(sid[s_subj], "-S"), np.char.zfill((s_day + 5).astype(str), 2))
    s_ts = _tsstr(inf_day[s_subj] + s_day, 7 * 60 + rng.integers(0, 60, nsm))
    plate = np.char.add(f"B{k + 1:04d}P", (np.arange(nsm) // 40 + 1).astype(str))
    put("serum_cytokines", {
        "sample_id": _cat(sample_ids, np.repeat(np.arange(nsm), len(ANALYTES))),
        "subject_id": _cat(sid, np.repeat(s_subj, len(ANALYTES))),
        "collected_at": _cat(s_ts, np.repeat(np.arange(nsm), len(ANALYTES))),
        "analyte": _cat(ANALYTES, an_i), "result": result,
        "unit": _cat(["pg/mL", "ng/mL"], ng), "lloq": _num(lo * factor, 6), "uloq": _num(hi * factor, 6),
        "plate_id": _cat(np.unique(plate), np.searchsorted(np.unique(plate), np.repeat(plate, len(ANALYTES)))),
        "assay": _cat(["Bio-Plex Pro Human Cytokine 27-plex + sIL-2Ra"], np.zeros(nsm * len(ANALYTES))),
    })

    # ------------------------------------------------------------------ serum labs
    nl, nt = len(LAB_DAYS), len(LAB_TESTS)
    gl = grade_at(crs, LAB_DAYS).astype(float)
    infl = np.zeros_like(gl)
    for j in range(nl):  # decaying memory of CRS
        infl[:, j] = gl[:, j] + (0.6 * infl[:, j - 1] if j else 0)
    days_l = LAB_DAYS[None, :].astype(float)
    ln = lambda: np.exp(rng.normal(0, 0.12, (ni, nl)))  # noqa: E731
    anc = np.where(days_l <= -3, 3.5, np.where(days_l < 14, 0.2, 1.8)) * ln()
    lab = np.stack([
        (rng.uniform(3, 25, (ni, 1)) + 38 * infl) * ln(),                  # CRP mg/L
        rng.uniform(250, 900, (ni, 1)) * (1 + 0.5 * infl) * ln(),          # FERRITIN ng/mL
        anc,                                                               # ANC 10^9/L
        rng.uniform(110, 260, (ni, 1)) * (1 - 0.6 * np.exp(-((days_l - 10) / 7) ** 2)) * ln(),
        anc * 1.25 + 0.3,                                                  # WBC
        rng.uniform(180, 520, (ni, 1)) * (1 + 0.2 * infl) * ln(),          # LDH
        rng.uniform(280, 460, (ni, 1)) * (1 + 0.1 * infl) * ln(),          # FIBRINOGEN mg/dL
        rng.uniform(0.4, 2.0, (ni, 1)) * (1 + 0.3 * infl) * ln(),          # DDIMER ug/mL FEU
    ], axis=2)                                                             # (ni, nl, nt)
    alt = {"CRP": "mg/dL", "FERRITIN": "ug/L", "ANC": "/uL", "PLT": "10^3/uL", "WBC": "/uL",
           "LDH": "U/L", "FIBRINOGEN": "g/L", "DDIMER": "ng/mL FEU"}
    units = [next(iter(LAB_UNITS[t])) for t in LAB_TESTS] + [alt[t] for t in LAB_TESTS]
    fac = np.array([1.0] * nt + [LAB_UNITS[t][alt[t]] for t in LAB_TESTS])
    alt_site = (SITES[site] == "site02")
    unit_i = np.arange(nt)[None, None, :] + nt * alt_site[:, None, None]
    unit_i = np.broadcast_to(unit_i, lab.shape).ravel()
    put("serum_labs", {
        "subject_id": np.repeat(sid, nl * nt),
        "collected_at": _cat(_tsstr(np.repeat(inf_day, nl) + np.tile(LAB_DAYS, ni),
                                    6 * 60 + rng.integers(0, 60, ni * nl)),
                             np.repeat(np.arange(ni * nl), nt)),
        "test": _cat(LAB_TESTS, np.tile(np.arange(nt), ni * nl)),
        "value": _num(lab.ravel() * fac[unit_i], 2), "unit": _cat(units, unit_i),
    })

    # ------------------------------------------------------------------ CSF
    has_pre = rng.random(ni) < 0.6
    has_post = rng.random(ni) < 0.55
    c_subj = np.concatenate([np.flatnonzero(has_pre), np.flatnonzero(has_post)])
    c_post = np.concatenate([np.zeros(has_pre.sum(), bool), np.ones(has_post.sum(), bool)])
    c_day = np.where(c_post, rng.integers(3, 8, len(c_subj)), rng.integers(-10, 1, len(c_subj)))
    order = np.lexsort((c_day, c_subj))
    c_subj, c_post, c_day = c_subj[order], c_post[order], c_day[order]
    nc = len(c_subj)
    c_id = np.char.add(np.char.add(sid[c_subj], "-CSF"), np.where(c_post, "2", "1"))
    c_ts = _tsstr(inf_day[c_subj] + c_day, 11 * 60 + rng.integers(0, 60, nc))
    ic = icans_max[c_subj]
    put("csf_samples", {
        "sample_id": c_id, "subject_id": sid[c_subj], "collected_at": c_ts,
        "wbc_per_ul": _num(np.where(c_post, rng.uniform(1, 8, nc) * (1 + ic), rng.uniform(0, 4, nc)), 0),
        "rbc_per_ul": _num(np.where(rng.random(nc) < 0.15, np.nan, rng.exponential(20, nc)), 0),
        "protein_mg_dl": _num(np.where(c_post, rng.uniform(30, 60, nc) + 12 * ic, rng.uniform(22, 50, nc)), 1),
        "glucose_mg_dl": _num(rng.uniform(48, 80, nc), 0),
    })
    csf_ratio = np.array([{"IL6": 0.8, "IL8": 3.0, "MCP1": 2.0, "IP10": 1.0, "IL1RA": 0.3}.get(a, 0.1)
                          for a in ANALYTES])
    cv = (base * csf_ratio)[None, :] * np.exp(rng.normal(0, 0.5, (nc, len(ANALYTES))))
    cv = cv * (1 + 0.3 * amp[None, :] * (c_post * (0.6 * crs_max[c_subj] + 1.5 * ic))[:, None])
    an_c = np.tile(np.arange(len(ANALYTES)), nc)
    put("csf_cytokines", {
        "sample_id": _cat(c_id, np.repeat(np.arange(nc), len(ANALYTES))),
        "subject_id": _cat(sid, np.repeat(c_subj, len(ANALYTES))),
        "collected_at": _cat(c_ts, np.repeat(np.arange(nc), len(ANALYTES))),
        "analyte": _cat(ANALYTES, an_c),
        "result": _censor(rng, cv.ravel(), lloq[an_c], uloq[an_c], np.ones(nc * len(ANALYTES))),
        "unit": _cat(["pg/mL"], np.zeros(nc * len(ANALYTES))),
        "lloq": _num(lloq[an_c], 6), "uloq": _num(uloq[an_c], 6),
        "plate_id": _cat([f"B{k + 1:04d}CSF"], np.zeros(nc * len(ANALYTES))),
        "assay": _cat(["Bio-Plex Pro Human Cytokine 27-plex + sIL-2Ra"], np.zeros(nc * len(ANALYTES))),
    })

    # ------------------------------------------------------------------ truth of the chunk
    rank = np.array(["CR", "PR", "SD", "PD"])
    subjects = []
    j = 0
    for i in range(m):
        t = {"subject_id": str(ids[i]), "is_infused": bool(infused_mask[i]),
             "car_t_product": str(PRODUCTS[prod_i[i]]) if infused_mask[i] else None,
             "disease": str(dis[i])}
        if infused_mask[i]:
            pfs_evt = [x for x in (prog[j], died[j]) if x >= 0]
            t.update({"crs_max_grade": int(crs_max[j]), "icans_max_grade": int(icans_max[j]),
                      "best_response_d100": str(rank[best[j]]),
                      "os_days": int(died[j] if died[j] >= 0 else alive[j]), "os_event": bool(died[j] >= 0),
                      "pfs_days": int(min(pfs_evt) if pfs_evt else alive[j]), "pfs_event": bool(pfs_evt)})
            j += 1
        subjects.append(t)
    return {
        "products": Counter(PRODUCTS[prod_i[infused_mask]].tolist()),
        "diseases": Counter(dis[infused_mask].tolist()),
        "not_infused": [{"subject_id": str(ids[i]), "reason": str(reason[i])}
                        for i in np.flatnonzero(~infused_mask)],
        "subjects": subjects,
    }


def _censor(rng: np.random.Generator, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            factor: np.ndarray) -> pa.Array:
    """Assay text: number, '<lloq' / 'OOR <' below, '> uloq' above, '*x' near the LLOQ."""
    x = np.where(factor < 1, np.round(vals * factor, 5), np.round(vals, 2))
    num = pc.cast(pa.array(x), pa.string())
    below, above = vals < lo, vals > hi
    star = (~below) & (vals < 1.3 * lo) & (rng.random(len(vals)) < 0.3)
    oor = rng.random(len(vals)) < 0.2
    lo_s = pc.cast(pa.array(np.round(lo * factor, 6)), pa.string())
    hi_s = pc.cast(pa.array(np.round(hi * factor, 6)), pa.string())
    below_txt = pc.if_else(pa.array(oor), pa.scalar("OOR <"), pc.binary_join_element_wise("<", lo_s, ""))
    above_txt = pc.binary_join_element_wise("> ", hi_s, "")
    star_txt = pc.binary_join_element_wise("*", num, "")
    out = pc.if_else(pa.array(below), below_txt, num)
    out = pc.if_else(pa.array(above), above_txt, out)
    return pc.if_else(pa.array(star), star_txt, out)
