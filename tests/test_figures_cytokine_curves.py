"""Cytokine kinetic curves (Park 2023 Fig. 4A, Extended Data Fig. 2) render to PNG bytes from
the analysis table, including groups too small to fit and empty inputs, within the largest figure
size, with legends that count samples (and their subjects)."""

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from PIL import Image

from dagster_project.figures.cytokine_curves import curve_label, cytokine_curves_png
from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, png_size
from dagster_project.lib.analysis.cytokine_curves import cytokine_curves

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


def test_empty_inputs_still_render():
    res = _serum().iloc[0:0]
    curves = cytokine_curves(res, _endpoints())
    _decode(cytokine_curves_png(res, curves))


def test_legend_counts_samples_and_subjects():
    res, ep = _serum(), _endpoints()
    curves = cytokine_curves(res, ep)
    for group, subjects in (("all", "ABCDEFGH"), ("ICANS 0-2", "ABCDEF"), ("ICANS 3-4", "GH")):
        curve = curves[(curves["analyte"] == "IL6") & (curves["group"] == group) & (curves["status"] == "ok")]
        samples = res[(res["analyte"] == "IL6") & res["subject_id"].isin(list(subjects))]
        n, k = len(samples), len(subjects)  # 10 sampled days per subject: n counts samples, not subjects
        assert curve_label(group, curve) == f"{group} (n = {n} samples, {k} subjects)"


@pytest.mark.parametrize("groups", [("all",), ("ICANS 0-2", "ICANS 3-4")], ids=["fig4a", "ed_fig2"])
def test_headline_panels_fit_the_maximum_size_at_their_dpi(groups):
    res, ep = _serum(), _endpoints()
    eight = pd.concat([res.assign(analyte=a) for a in ("IL6", "IFNG", "IL10", "IL2", "MCP1", "IL1RA", "TNFA", "IL8")])
    curves = cytokine_curves(eight, ep)
    png = cytokine_curves_png(eight, curves, groups=groups, endpoints=ep)
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(100, abs=0.1)  # 2 rows of 4, not shrunk


def test_grouping_by_iec_hs_renders_with_a_shaded_band():
    """The CD22 trial's figure: cytokines by carHLH (IEC-HS present / absent) with the LOESS band
    shaded; the points coloured by each subject's group."""
    from dagster_project.lib.analysis.cytokine_curves import subject_groups

    res = _serum().assign(study_day=lambda f: f["study_day"] + 0.25)  # relative time: fractional days
    ep = _endpoints().assign(iec_hs_present=[False] * 6 + [True] * 2)
    curves = cytokine_curves(res, ep, group_by="IEC-HS")
    grouping = subject_groups(ep, "IEC-HS")
    assert grouping.named == ("IEC-HS present", "IEC-HS absent")
    png = cytokine_curves_png(res, curves, groups=grouping.named, subject_groups=grouping.of_subject, band="shaded")
    image = _decode(png)
    assert image[..., :3].std() > 0.05
    assert png != cytokine_curves_png(res, curves, groups=grouping.named, subject_groups=grouping.of_subject)
    with pytest.raises(ValueError, match="band"):
        cytokine_curves_png(res, curves, band="dotted")


def test_legend_names_an_attribute_group_with_its_attribute():
    res = _serum()
    attributes = pd.DataFrame({"subject_id": list("ABCDEFGH"), "attribute": "dose_level", "value": ["1"] * 4 + ["2"] * 4})
    curves = cytokine_curves(res, _endpoints(), group_by="dose_level", attributes=attributes)
    curve = curves[(curves["analyte"] == "IL6") & (curves["group"] == "2")]
    assert curve_label("2", curve).startswith("dose_level = 2 (n = ")
    ok = curves[(curves["analyte"] == "IL6") & (curves["group"] == "all")]
    assert curve_label("all", ok).startswith("all (n = ")
