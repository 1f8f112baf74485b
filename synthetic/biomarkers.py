"""Biomarker kinetics (serum cytokines, serum labs, CSF) and the assay's way of writing results.

Shared by the park2023 and wehrli2022 profiles (the scale profile has its own vectorised copy of
the same shapes). The numbers are plausible, not fitted: Bio-Plex-like baselines and limits of
quantification, a rise of IL-6 / IFN-g / IL-10 / IL-2 / MCP-1 on CRS days (higher, by
`ICANS_SEVERE_BOOST`, in subjects whose ICANS reaches grade 3-4, as Park 2023 Extended Data Fig. 2
shows), IL-1RA far above the curve while anakinra (recombinant IL-1Ra) is on board, CRP and
ferritin following the CRS grade, neutrophils and platelets falling after lymphodepletion.

`ResultWriter` turns a concentration into the text an assay exports: a number, ``<x`` / ``< x`` /
``OOR <`` below the LLOQ, ``>x`` / ``> x`` / ``OOR >`` above the ULOQ, ``*x`` when extrapolated
(sources.md, "Cytokine analytes and results").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .common import ANALYTES, fmt_num

# analyte: (baseline median pg/mL, LLOQ pg/mL, ULOQ pg/mL, fold rise per unit of inflammation)
CYTOKINE_PARAMS: dict[str, tuple[float, float, float, float]] = {
    "IL1B": (1.0, 0.8, 8000, 0.5), "IL1RA": (150, 6.0, 20000, 2.0),
    "IL2": (1.5, 3.2, 10000, 3.0), "IL4": (0.8, 0.7, 5000, 0.3),
    "IL5": (2.0, 1.9, 10000, 1.0), "IL6": (6.0, 2.3, 10000, 25.0),
    "IL7": (8.0, 1.5, 10000, 0.5), "IL8": (15, 2.0, 15000, 3.0),
    "IL9": (20, 3.0, 10000, 0.5), "IL10": (4.0, 1.6, 10000, 12.0),
    "IL12P70": (3.0, 3.5, 10000, 0.5), "IL13": (2.0, 1.3, 10000, 0.5),
    "IL15": (10, 4.0, 10000, 2.0), "IL17A": (3.0, 3.2, 10000, 0.5),
    "IFNG": (10, 3.4, 10000, 20.0), "TNFA": (20, 2.8, 10000, 1.5),
    "GMCSF": (1.5, 2.2, 10000, 2.0), "GCSF": (30, 6.0, 15000, 2.0),
    "MCP1": (250, 2.5, 20000, 6.0), "MIP1A": (3.0, 1.1, 10000, 2.0),
    "MIP1B": (80, 2.4, 10000, 2.0), "IP10": (600, 8.0, 20000, 5.0),
    "EOTAXIN": (60, 2.5, 10000, 0.3), "FGFB": (15, 3.0, 10000, 0.2),
    "PDGFBB": (1500, 3.0, 20000, 0.3), "RANTES": (5000, 2.0, 20000, 0.2),
    "VEGF": (120, 3.2, 10000, 0.5), "SIL2RA": (1500, 20, 20000, 4.0),
}
assert tuple(CYTOKINE_PARAMS) == ANALYTES
KEY_ANALYTES = ("IL6", "IFNG", "IL10", "IL2", "MCP1")
ICANS_SEVERE_BOOST = 1.6       # extra factor on the CRS-driven rise when ICANS max grade is 3-4
CSF_RATIO = {"IL6": 0.8, "IL8": 3.0, "MCP1": 2.0, "IP10": 1.0, "IL1RA": 0.3}   # CSF / serum
CSF_RATIO_DEFAULT = 0.1


def inflammation_index(grades: dict[int, int], days: np.ndarray, decay: float) -> np.ndarray:
    """Exponentially decaying sum of past daily CRS grades (lag: today counts half)."""
    out = np.zeros(len(days))
    for k, g in grades.items():
        if g <= 0:
            continue
        dt = days - k
        out += np.where(dt >= 0, g * np.power(decay, np.maximum(dt, 0)) * np.where(dt == 0, 0.5, 1.0), 0.0)
    return out


def serum_cytokines(rng: np.random.Generator, days: np.ndarray, crs: dict[int, int],
                    icans_max: int, anakinra_days: set[int], tocilizumab_days: set[int],
                    ) -> dict[str, np.ndarray]:
    """Concentrations (pg/mL) of every analyte on the given study days for one subject."""
    act = inflammation_index(crs, days, 0.55) + 0.5 * np.exp(-((days - 7.0) / 4.0) ** 2) * (days >= 0)
    out: dict[str, np.ndarray] = {}
    for a, (base, _lloq, _uloq, amp) in CYTOKINE_PARAMS.items():
        b = base * np.exp(rng.normal(0, 0.5))
        rise = amp * act ** 1.3
        if a in KEY_ANALYTES and icans_max >= 3:
            rise = rise * ICANS_SEVERE_BOOST
        v = b * (1.0 + rise)
        if a in ("IL7", "IL15"):  # homeostatic cytokines after lymphodepletion
            v = v * np.where((days >= -2) & (days <= 4), 3.0, 1.0)
        if a == "IL6" and tocilizumab_days:  # IL-6 receptor blockade raises free serum IL-6
            after = np.array([any(0 < d - t <= 3 for t in tocilizumab_days) for d in days])
            v = v * np.where(after, 2.5, 1.0)
        if a == "IL1RA" and anakinra_days:
            on = np.array([int(d) in anakinra_days for d in days])
            v = np.where(on, np.exp(rng.normal(np.log(60000), 0.6, len(days))), v)
        out[a] = v * np.exp(rng.normal(0, 0.35, len(days)))
    return out


def csf_cytokines(rng: np.random.Generator, post: bool, crs_max: int, icans_max: int,
                  on_anakinra: bool) -> dict[str, float]:
    act = (0.6 * crs_max + 1.5 * icans_max) if post else 0.0
    out = {}
    for a, (base, _l, _u, amp) in CYTOKINE_PARAMS.items():
        b = base * CSF_RATIO.get(a, CSF_RATIO_DEFAULT) * np.exp(rng.normal(0, 0.5))
        v = b * (1.0 + 0.3 * amp * act)
        if a == "IL1RA" and post and on_anakinra:
            v *= 15.0  # anakinra reaches the CSF at a few percent of serum levels
        out[a] = float(v * np.exp(rng.normal(0, 0.3)))
    return out


def csf_chemistry(rng: np.random.Generator, post: bool, icans_max: int) -> dict[str, float | None]:
    wbc = rng.uniform(0, 4) if not post else rng.uniform(1, 8) * (1 + icans_max)
    prot = rng.uniform(22, 50) if not post else rng.uniform(30, 60) + 12 * icans_max
    return {
        "wbc_per_ul": float(np.round(wbc)),
        "rbc_per_ul": None if rng.random() < 0.15 else float(np.round(rng.exponential(20))),
        "protein_mg_dl": float(np.round(prot, 1)),
        "glucose_mg_dl": None if rng.random() < 0.1 else float(np.round(rng.uniform(48, 80))),
    }


def serum_labs(rng: np.random.Generator, days: np.ndarray, crs: dict[int, int],
               tocilizumab_days: set[int]) -> dict[str, np.ndarray]:
    """Harmonized-unit values (marts.md) of the eight lab tests on the given study days."""
    infl = inflammation_index(crs, days, 0.6)
    slow = inflammation_index(crs, days, 0.85)
    if tocilizumab_days:  # CRP is IL-6 driven and falls fast after tocilizumab
        t0 = min(tocilizumab_days)
        infl = np.where(days > t0, infl * np.power(0.6, np.clip(days - t0, 0, None)), infl)
    ln = lambda sd: np.exp(rng.normal(0, sd, len(days)))  # noqa: E731
    crp = (rng.uniform(3, 25) + 38 * infl) * ln(0.15)
    ferritin = rng.uniform(250, 900) * (1 + 0.9 * slow) * ln(0.12)
    anc_base, rec_day = rng.uniform(2.2, 5.5), rng.uniform(10, 24)
    nadir = rng.uniform(0.02, 0.4)
    anc = np.where(days <= -3, anc_base,
                   np.where(days < rec_day, np.maximum(nadir, anc_base * np.exp(-(days + 3) * 0.9)),
                            nadir + (rng.uniform(1.2, 3.0) - nadir) * (1 - np.exp(-(days - rec_day) / 4))))
    anc = anc * ln(0.12)
    plt_base = rng.uniform(110, 260)
    plt = plt_base * (1 - 0.65 * np.exp(-((days - 10) / 7.0) ** 2) * (days > -3)) * ln(0.1)
    wbc = (anc * 1.25 + rng.uniform(0.1, 0.6)) * ln(0.08)
    ldh = rng.uniform(180, 520) * (1 + 0.25 * infl) * ln(0.08)
    fib = rng.uniform(280, 460) * (1 + 0.12 * infl) * ln(0.07)
    ddimer = rng.uniform(0.4, 2.0) * (1 + 0.5 * slow) * ln(0.15)
    return {"CRP": crp, "FERRITIN": ferritin, "ANC": anc, "PLT": plt, "WBC": wbc, "LDH": ldh,
            "FIBRINOGEN": fib, "DDIMER": ddimer}


BELOW_FORMS = ("<x", "< x", "OOR <")
ABOVE_FORMS = (">x", "> x", "OOR >")


@dataclass
class ResultWriter:
    """Writes concentrations as assay text; counts each censored form it used."""

    rng: np.random.Generator
    counts: dict[str, int] = field(default_factory=lambda: {
        f: 0 for f in (*BELOW_FORMS, *ABOVE_FORMS, "*x")})

    def write(self, value_pg: float, lloq_pg: float, uloq_pg: float,
              factor: float = 1.0) -> tuple[str, str, str]:
        """(result, lloq, uloq) as text in the delivery unit (`factor` = 0.001 for ng/mL)."""
        lo, hi = fmt_num(lloq_pg * factor, 3), fmt_num(uloq_pg * factor, 3)
        if value_pg < lloq_pg:
            form = BELOW_FORMS[int(self.rng.integers(0, 3))]
            res = {"<x": f"<{lo}", "< x": f"< {lo}", "OOR <": "OOR <"}[form]
        elif value_pg > uloq_pg:
            form = ABOVE_FORMS[int(self.rng.integers(0, 3))]
            if self.rng.random() < 0.12:
                form, res = "*x", "*" + fmt_num(value_pg * factor, 4)
            else:
                res = {">x": f">{hi}", "> x": f"> {hi}", "OOR >": "OOR >"}[form]
        elif value_pg < 1.3 * lloq_pg and self.rng.random() < 0.35:
            form, res = "*x", "*" + fmt_num(value_pg * factor, 3)
        else:
            return fmt_num(value_pg * factor, 4), lo, hi
        self.counts[form] += 1
        return res, lo, hi
