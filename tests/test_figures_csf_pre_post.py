"""CSF before/after box plots (Park 2023 Fig. 4B/C) render to PNG bytes from the pre/post
selection and the analysis table, with a point limit per box and empty inputs."""

import io

import numpy as np
import pandas as pd
from matplotlib.image import imread

from dagster_project.figures.csf_pre_post import csf_pre_post_png, points_to_draw
from dagster_project.lib.analysis.csf_pre_post import csf_pre_post, select_pre_post

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
    csf = _csf().iloc[0:0]
    _decode(csf_pre_post_png(select_pre_post(csf), csf_pre_post(csf)))
