"""Biomarker figures (Park 2023 Fig. 4A, Extended Data Fig. 2, Fig. 4B/C) render to PNG bytes
from the analysis tables, including groups too small to fit and empty inputs."""

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from dagster_project.lib.analysis.csf_pre_post import csf_pre_post, select_pre_post
from dagster_project.lib.analysis.cytokine_curves import cytokine_curves
from dagster_project.figures.biomarkers import csf_pre_post_png, cytokine_curves_png, format_p, points_to_draw

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _serum():
    rng = np.random.default_rng(1)
    rows = []
    for k, subject in enumerate("ABCDEFGH"):
        for day in (-5, 0, 1, 3, 5, 7, 10, 14, 21, 28):
            for analyte, scale in (("IL6", 5.0), ("IFNG", 10.0)):
                peak = 100.0 if k < 6 else 1000.0
                value = scale + peak * np.exp(-((day - 7) / 4.0) ** 2) * rng.lognormal(0, 0.3)
                rows.append((subject, "serum", analyte, "cytokine", day, value, "pg/mL", "lloq_half_uloq"))
    return pd.DataFrame(rows, columns=["subject_id", "specimen", "analyte", "analyte_kind", "study_day",
                                       "analysis_value", "unit", "substitution_rule"])


def _endpoints():
    return pd.DataFrame({"subject_id": list("ABCDEFGH"), "icans_max_grade": [0, 0, 1, 2, 0, 1, 3, 4]})


def _csf():
    rows = []
    for k, subject in enumerate("ABCDEFGHIJ"):
        for analyte, unit in (("WBC", "/uL"), ("PROTEIN", "mg/dL"), ("IL6", "pg/mL")):
            if k < 8:
                rows.append((subject, "csf", analyte, f"{subject}-pre", -1, pd.Timestamp("2024-01-09"), 2.0 + k, unit))
            if k > 1:
                rows.append((subject, "csf", analyte, f"{subject}-post", 5, pd.Timestamp("2024-01-15"), 9.0 + 2 * k, unit))
    frame = pd.DataFrame(rows, columns=["subject_id", "specimen", "analyte", "sample_id", "study_day",
                                        "collected_at", "analysis_value", "unit"])
    return frame.assign(analyte_kind=np.where(frame["analyte"] == "IL6", "cytokine", "csf_chemistry"),
                        substitution_rule="lloq_half_uloq")


def _decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return imread(io.BytesIO(png), format="png")


@pytest.mark.parametrize("groups", [("all",), ("ICANS 0-2", "ICANS 3-4")], ids=["fig4a", "ed_fig2"])
def test_cytokine_curves_png(groups):
    res, ep = _serum(), _endpoints()
    curves = cytokine_curves(res, ep)
    png = cytokine_curves_png(res, curves, groups=groups, endpoints=ep)
    image = _decode(png)
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # something was drawn
    assert png == cytokine_curves_png(res, curves, groups=groups, endpoints=ep)  # deterministic


def test_cytokine_curves_png_with_too_small_group():
    res = _serum()
    ep = _endpoints().assign(icans_max_grade=[0, 0, 0, 0, 0, 0, 0, 3])
    few = res[~((res["subject_id"] == "H") & (res["study_day"] > 1))]  # H: two sampled days
    curves = cytokine_curves(few, ep)
    assert (curves[curves["group"] == "ICANS 3-4"]["status"] == "too_small").all()
    _decode(cytokine_curves_png(few, curves, groups=("ICANS 0-2", "ICANS 3-4"), endpoints=ep))


def test_csf_pre_post_png():
    csf = _csf()
    png = csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf))
    image = _decode(png)
    assert image.shape[1] > 300
    assert png == csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf))


def test_csf_boxes_draw_at_most_the_point_limit():
    rng = np.random.default_rng(0)
    values = np.arange(50.0)
    assert points_to_draw(values, 50, rng) is values
    drawn = points_to_draw(values, 20, rng)
    assert drawn.size == 20 and len(set(drawn)) == 20 and set(drawn) <= set(values)
    csf = _csf()
    full = csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf))
    thinned = csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf), max_points_per_box=3)
    assert thinned != full  # fewer points, and the note under the figure says so
    _decode(thinned)


def test_empty_inputs_still_render():
    res = _serum().iloc[0:0]
    curves = cytokine_curves(res, _endpoints())
    _decode(cytokine_curves_png(res, curves))
    csf = _csf().iloc[0:0]
    _decode(csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf)))


def test_format_p():
    assert [format_p(p) for p in (0.0004, 0.0123, 0.5, float("nan"), None)] == [
        "p < 0.001", "p = 0.012", "p = 0.50", "p = NA", "p = NA",
    ]
