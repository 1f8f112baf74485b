"""Kaplan-Meier figures (Park 2023 Fig 3B/C / ED Fig 1B/C) render to PNG bytes with the
number-at-risk table and the footnote, within the largest figure size, each group in the legend
with its subjects and a one-subject group drawn over the others."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, png_size
from dagster_project.figures.survival import km_figure, km_groups, km_note, number_at_risk
from dagster_project.lib.analysis.survival import build_km_tables

from png_image import png_image as _png

DPI = 40  # keep the tests light


def _endpoints():
    """8 subjects; os_days 47, 90, 120, 200, 300, 380, 400, 500."""
    return pd.DataFrame({
        "subject_id": [f"S{i}" for i in range(8)],
        "disease": ["LBCL"] * 5 + ["MCL"] * 3,
        "os_days": [400, 380, 300, 47, 120, 500, 200, 90],
        "os_event": [False, False, True, True, True, False, True, False],
        "pfs_days": [400, 380, 150, 47, 60, 500, 100, 90],
        "pfs_event": [0, 0, 1, 1, 1, 0, 1, 0],
    })


@pytest.mark.parametrize("endpoint,group_by", [("OS", "overall"), ("PFS", "disease")])
def test_km_figure_renders(endpoint, group_by):
    curves, _, tests = build_km_tables(_endpoints())
    p = tests.set_index("endpoint").loc[endpoint, "p_value"]
    image = _png(km_figure(curves, endpoint, group_by,
                           p_value=p if group_by == "disease" else None, dpi=DPI))
    assert image.info["Description"].startswith("Kaplan-Meier")
    assert "95% confidence interval" in image.info["Description"]
    assert ("Log-rank p" in image.info["Description"]) == (group_by == "disease")


def test_km_figure_without_rows_still_renders():
    curves, _, _ = build_km_tables(_endpoints().iloc[:0])
    _png(km_figure(curves, "OS", dpi=DPI))


def test_number_at_risk_from_curve():
    curves, _, _ = build_km_tables(_endpoints())
    overall = curves[(curves.endpoint == "OS") & (curves.group_by == "overall")]
    # os_days 47, 90, 120, 200, 300, 380, 400, 500
    months = np.array([0, 3, 6, 9, 12, 15, 18]) * 30.4375
    assert number_at_risk(overall, months) == [8, 6, 5, 4, 3, 1, 0]


def test_km_note_names_the_event():
    assert "event: death" in km_note("OS")
    assert "progression or death" in km_note("PFS", p_value=0.0004)
    assert "Log-rank p < 0.001" in km_note("PFS", p_value=0.0004)
    assert "Log-rank p = 0.20" in km_note("PFS", p_value=0.1967)


def _with_one_fl_subject():
    """LBCL 5, MCL 3 and FL 1 subject (censored at 16 months, under MCL's line at survival 1)."""
    one = pd.DataFrame({"subject_id": ["S8"], "disease": ["FL"], "os_days": [500], "os_event": [False],
                        "pfs_days": [500], "pfs_event": [0]})
    return pd.concat([_endpoints(), one], ignore_index=True)


def test_km_legend_names_each_group_with_its_subjects():
    curves, _, _ = build_km_tables(_with_one_fl_subject())
    rows = curves[(curves.endpoint == "OS") & (curves.group_by == "disease")]
    groups = km_groups(rows, "disease").set_index("name")
    assert groups["label"].tolist() == ["FL (n = 1 subject)", "LBCL (n = 5 subjects)", "MCL (n = 3 subjects)"]
    # distinct colours and line styles; the smallest group drawn last (on top), narrowest, with markers
    assert groups["color"].is_unique and groups["linestyle"].is_unique
    assert groups["zorder"].idxmax() == "FL" and groups["zorder"].idxmin() == "LBCL"
    assert groups["linewidth"].idxmin() == "FL" and groups.loc["FL", "small"]
    overall = km_groups(curves[(curves.endpoint == "OS") & (curves.group_by == "overall")], "overall")
    assert overall["label"].tolist() == ["All (n = 9 subjects)"] and not overall["small"].any()


@pytest.mark.parametrize("group_by", ["overall", "disease"])
def test_km_figure_fits_the_maximum_size_at_its_dpi(group_by):
    curves, _, tests = build_km_tables(_with_one_fl_subject())
    png = km_figure(curves, "OS", group_by, p_value=tests.set_index("endpoint").loc["OS", "p_value"])
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(150, abs=0.1)  # not shrunk to fit
