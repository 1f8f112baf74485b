"""Wehrli 2022 Figs 1-3 (anakinra course) render to PNG bytes from hand-made mart / analysis rows, within
the largest figure size; the cytokine pairs carry Benjamini-Hochberg q-values and no p-value where a
side is entirely censored."""


import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from dagster_project.figures.intervention import (
    STEROID_BINS,
    cytokine_pair_tests,
    cytokine_pairs_png,
    lab_grade_pies_png,
    paired_dots_png,
    steroid_shade,
    swimmer_png,
    waterfall_png,
)
from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, format_p, png_size
from schemas.analytes import CYTOKINE_CODES

from png_image import png_image as _png

DPI = 40  # keep the tests light
SUBJECTS = ["A1", "A2", "A3", "T1", "T2"]


def _endpoints() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": SUBJECTS,
        "car_t_product": ["axi-cel", "axi-cel", "axi-cel", "tisa-cel", "tisa-cel"],
        "icans_max_grade": [4, 3, 2, 3, 1],
        "os_event": [True, False, False, None, False],
    })


def _daily() -> pd.DataFrame:
    rows = []
    for k, s in enumerate(SUBJECTS):
        for d in range(-5, 31):
            rows.append({
                "subject_id": s, "study_day": d,
                "crs_grade": None if d < 0 else (min(4, k + 1) if 1 <= d <= 4 else 0),
                "icans_grade": 3 if 4 <= d <= 6 else 0,
                "tocilizumab_doses": 1 if d == 2 else 0,
                "steroid_dex_equiv_mg": {4: 10.0, 5: 40.0, 6: 187.5}.get(d, 0.0),
                "anakinra_doses": 1 if (2 if k == 0 else 6) <= d <= 8 else 0,
            })
    return pd.DataFrame(rows)


def _windows() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for measure, lo, hi in [("TMAX", 37.5, 39.5), ("ANC", 0.1, 1.0), ("PLT", 20, 150), ("CRP", 5, 150),
                            ("FERRITIN", 300, 5000), ("IL6", 10, 1000), ("IFNG", 5, 500), ("IL10", 1, 50)]:
        kind = "vital" if measure == "TMAX" else ("lab" if measure in ("ANC", "PLT", "CRP", "FERRITIN") else "cytokine")
        for i, s in enumerate(SUBJECTS):
            b = float(rng.uniform(lo, hi))
            a = float(b * rng.uniform(0.2, 1.1))
            status = "paired"
            if i == 4 and measure in ("ANC", "IL10"):
                a, status = np.nan, "no_value_after"
            rows.append({"subject_id": s, "measure": measure, "kind": kind, "unit": "C" if kind == "vital" else "u",
                         "before_value": b, "after_value": a, "pct_change": (a - b) / b * 100,
                         "ratio": a / b, "status": status, "substitution_rule": "lloq_half_uloq" if kind == "cytokine" else None})
    return pd.DataFrame(rows)


def _tests() -> pd.DataFrame:
    return pd.DataFrame({
        "measure": ["TMAX", "ANC", "PLT", "CRP", "FERRITIN", "IL6", "IFNG", "IL10"],
        "p_value": [0.001, 0.2, np.nan, 0.0002, 0.03, 0.004, 0.5, np.nan],
        "median_pct_change": [-2.0, 5.0, -10.0, -80.0, -40.0, -90.0, -50.0, np.nan],
    })


def _grades() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": [s for s in SUBJECTS for _ in (0, 1)],
        "test": ["ANC", "PLT"] * len(SUBJECTS),
        "worst_ctcae_grade_d21_d28": pd.array([0, 1, 2, 3, 4, 1, None, None, 1, 0], dtype="Int64"),
        "lln": [2.0, 150.0] * len(SUBJECTS),
    })


def test_swimmer_renders_by_product_with_marks():
    _png(swimmer_png(_daily(), _endpoints(), dpi=DPI))
    _png(swimmer_png(_daily(), _endpoints(), subjects=["A1", "T2"], dpi=DPI))


def test_swimmer_without_subjects_or_endpoints_still_renders():
    _png(swimmer_png(_daily(), _endpoints(), subjects=[], dpi=DPI))
    _png(swimmer_png(_daily(), _endpoints().iloc[0:0], dpi=DPI))  # product unknown, peak ICANS from daily


@pytest.mark.parametrize("mg, grey", [(0, None), (None, None), (10, STEROID_BINS[0][1]), (10.01, STEROID_BINS[1][1]),
                                      (40, STEROID_BINS[1][1]), (100, STEROID_BINS[2][1]), (1000, STEROID_BINS[3][1])])
def test_steroid_shades_are_graduated(mg, grey):
    assert steroid_shade(mg) == grey


def test_paired_dots_pies_and_waterfalls_render():
    w, t = _windows(), _tests()
    _png(paired_dots_png(w, t, dpi=DPI))
    _png(paired_dots_png(w, None, dpi=DPI))
    _png(lab_grade_pies_png(_grades(), dpi=DPI))
    _png(waterfall_png(w, _endpoints(), t, dpi=DPI))
    _png(waterfall_png(w, None, None, dpi=DPI))


def test_cytokine_pairs_render():
    w = _windows()
    _png(cytokine_pairs_png(w, _tests(), _endpoints(), dpi=DPI))
    _png(cytokine_pairs_png(w, None, None, analytes=["IL6", "IL2"], dpi=DPI))  # IL2: no pairs


def test_empty_inputs_render_placeholders():
    w = _windows().iloc[0:0]
    _png(paired_dots_png(w, None, dpi=DPI))
    _png(lab_grade_pies_png(_grades().iloc[0:0], dpi=DPI))
    _png(waterfall_png(w, None, None, dpi=DPI))
    _png(cytokine_pairs_png(w, None, None, dpi=DPI))


def test_png_carries_its_description():
    image = _png(swimmer_png(_daily(), _endpoints(), dpi=DPI))
    assert "dexamethasone-equivalent" in image.info.get("Description", "")


def _every_cytokine_windows(censored_after: str = "IL6") -> pd.DataFrame:
    """Before / after pairs of every cytokine of the contract (as the asset draws), every
    after value of ``censored_after`` below the LLOQ."""
    rng = np.random.default_rng(2)
    rows = []
    for analyte in CYTOKINE_CODES:
        for s in SUBJECTS:
            b = float(rng.uniform(5, 500))
            censored = analyte == censored_after
            a = 0.5 if censored else b * float(rng.uniform(0.1, 1.2))
            rows.append({"subject_id": s, "measure": analyte, "kind": "cytokine", "unit": "pg/mL",
                         "before_value": b, "after_value": a, "ratio": a / b, "status": "paired",
                         "before_censoring": "none", "after_censoring": "below_lloq" if censored else "none",
                         "substitution_rule": "lloq_half_uloq"})
    return pd.DataFrame(rows)


def _tests_of(windows: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    measures = list(dict.fromkeys(windows["measure"]))
    return pd.DataFrame({"measure": measures, "p_value": rng.uniform(0.0005, 0.5, len(measures))})


def _fits_at(png: bytes, dpi: int) -> None:
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert _png(png).info["dpi"][0] == pytest.approx(dpi, abs=0.1)  # laid out to fit, not shrunk


def test_every_figure_fits_the_maximum_size_at_its_dpi():
    w, t = _windows(), _tests()
    _fits_at(swimmer_png(_daily(), _endpoints()), 120)
    _fits_at(paired_dots_png(w, t), 120)
    _fits_at(lab_grade_pies_png(_grades()), 120)
    _fits_at(waterfall_png(w, _endpoints(), t), 120)
    cyto = _every_cytokine_windows()
    _fits_at(cytokine_pairs_png(cyto, _tests_of(cyto), _endpoints()), 100)
    _fits_at(cytokine_pairs_png(cyto, _tests_of(cyto), _endpoints(), dpi=90), 90)  # as the asset draws it


def test_cytokine_pairs_carry_bh_q_values_and_no_p_where_a_side_is_censored():
    cyto = _every_cytokine_windows(censored_after="IL6")
    tests = _tests_of(cyto)
    shown = cytokine_pair_tests(cyto, tests, list(CYTOKINE_CODES))
    assert shown.at["IL6", "text"] == "all after values below LLOQ: no test" and pd.isna(shown.at["IL6", "q_value"])
    tested = tests[tests["measure"] != "IL6"]
    expected = multipletests(tested["p_value"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(shown.loc[tested["measure"], "q_value"].to_numpy(dtype=float), expected)
    assert shown.at["IL8", "text"] == (f"{format_p(shown.at['IL8', 'p_value'])}, "
                                       f"{format_p(shown.at['IL8', 'q_value'], 'q')}")
    note = _png(cytokine_pairs_png(cyto, tests, _endpoints(), dpi=DPI)).info["Description"]
    assert "Benjamini-Hochberg" in note and f"over the {len(CYTOKINE_CODES) - 1} tests shown" in note and "1 panel." in note
    # windows without censoring columns (older tables): every panel with a p keeps it
    plain = cytokine_pair_tests(cyto.drop(columns=["before_censoring", "after_censoring"]), tests, ["IL6", "IL8"])
    assert plain["no_test"].isna().all()
