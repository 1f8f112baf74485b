"""The helpers every figure module shares: PNG bytes with their text chunks and their largest
size, the p-value text, Benjamini-Hochberg q-values, the no-test reasons, the panel grid."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image
from statsmodels.stats.multitest import multipletests

from dagster_project.figures.render import (
    MAX_HEIGHT_PX,
    MAX_WIDTH_PX,
    bh_q_values,
    censored_reason,
    format_p,
    label_tests,
    multiplicity_note,
    p_label,
    panel_grid,
    png_bytes,
    png_size,
    unit_of,
)


def test_format_p():
    assert [format_p(p) for p in (0.0004, 0.0123, 0.5, float("nan"), None)] == [
        "p < 0.001", "p = 0.012", "p = 0.50", "p = NA", "p = NA",
    ]
    assert format_p(0.1967) == "p = 0.20"


def test_png_bytes_carry_title_and_description_when_given():
    fig = Figure(figsize=(2, 2))
    fig.add_subplot(1, 1, 1).plot([0, 1], [0, 1])
    plain = Image.open(io.BytesIO(png_bytes(fig, 40)))
    assert plain.format == "PNG" and "Title" not in plain.info and "Description" not in plain.info
    named = Image.open(io.BytesIO(png_bytes(fig, 40, tight=True, title="t", description="what it shows")))
    assert named.info["Title"] == "t" and named.info["Description"] == "what it shows"
    assert named.size != plain.size  # tight crops the white margin


def test_panel_grid_has_one_panel_even_without_any():
    fig, axes = panel_grid(5, 4, (2.0, 1.0))
    assert len(axes) == 5 and tuple(fig.get_size_inches()) == (8.0, 2.0)
    fig, axes = panel_grid(0, 4, (2.0, 1.0), extra_height=0.5)
    assert len(axes) == 1 and tuple(fig.get_size_inches()) == (2.0, 1.5)


def test_unit_of_is_the_one_unit_or_none():
    assert unit_of(pd.DataFrame({"unit": ["pg/mL", "pg/mL", None]})) == "pg/mL"
    assert unit_of(pd.DataFrame({"unit": ["pg/mL", "ng/mL"]})) is None
    assert unit_of(pd.DataFrame({"value": [1.0]})) is None


def test_png_size_reads_the_header():
    fig = Figure(figsize=(3, 2))
    assert png_size(png_bytes(fig, 50)) == (150, 100)
    with pytest.raises(ValueError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))


def test_png_bytes_never_exceed_the_maximum_size():
    # 20 x 30 in at 100 dpi would be 2,000 x 3,000 px: rendered again at the dpi that fits
    fig = Figure(figsize=(20, 30))
    fig.add_subplot(1, 1, 1).plot([0, 1], [0, 1])
    png = png_bytes(fig, 100, title="big")
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert max(width / MAX_WIDTH_PX, height / MAX_HEIGHT_PX) > 0.97  # shrunk just enough, not to a thumbnail
    assert Image.open(io.BytesIO(png)).info["dpi"][0] < 100
    small = Figure(figsize=(2, 2))
    assert png_size(png_bytes(small, 100)) == (200, 200)  # a figure that fits is left alone


def test_panel_grid_wraps_columns_to_the_maximum_width():
    fig, axes = panel_grid(8, 8, (2.0, 1.0), dpi=100)  # 8 x 200 px would be 1,600 px wide
    ncols = math.floor(MAX_WIDTH_PX / 200)
    assert len(axes) == 8 and tuple(fig.get_size_inches()) == (2.0 * ncols, 1.0 * math.ceil(8 / ncols))
    assert fig.get_layout_engine() is not None  # constrained: titles never overlap


def test_bh_q_values_are_statsmodels_fdr_bh_over_the_tests_given():
    p = [0.01, float("nan"), 0.04, 0.03, None, 0.2]
    q = bh_q_values(p)
    tested = [0.01, 0.04, 0.03, 0.2]
    expected = multipletests(tested, method="fdr_bh")[1]
    assert np.isnan(q[1]) and np.isnan(q[4])
    np.testing.assert_allclose(q[[0, 2, 3, 5]], expected)
    # by hand: p x 4 / rank (0.04, 0.06, 0.0533, 0.2), then the running minimum from the largest p
    np.testing.assert_allclose(expected, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(bh_q_values([None, float("nan")])).all()


def test_test_lines_say_why_there_is_no_p():
    assert p_label(0.0312, 0.21) == "p = 0.031, q = 0.21"
    assert p_label(0.0312) == "p = 0.031"
    assert p_label(0.0312, 0.21, "all pre values below LLOQ") == "all pre values below LLOQ: no test"
    assert format_p(0.0004, "q") == "q < 0.001"
    assert censored_reason({"pre": ["below_lloq", "below_lloq"], "post": ["none", "below_lloq"]}) \
        == "all pre values below LLOQ"
    assert censored_reason({"pre": ["below_lloq"], "post": ["below_lloq"]}) == "all values below LLOQ"
    assert censored_reason({"pre": ["none"], "post": ["below_lloq", "above_uloq"]}) == "all post values censored"
    assert censored_reason({"pre": ["none", "extrapolated"], "post": ["below_lloq", "none"]}) is None
    assert censored_reason({"pre": [None], "post": []}) is None  # no censoring information, no values


def test_label_tests_adjusts_over_the_panels_that_show_a_p():
    shown = label_tests(["A", "B", "C", "D"], [0.01, 0.02, 0.5, None], [None, "all values below LLOQ", None, None])
    assert shown.loc["B", "text"] == "all values below LLOQ: no test" and pd.isna(shown.loc["B", "q_value"])
    np.testing.assert_allclose(shown.loc[["A", "C"], "q_value"], multipletests([0.01, 0.5], method="fdr_bh")[1])
    assert shown.loc["A", "text"] == "p = 0.010, q = 0.020" and shown.loc["D", "text"] == "p = NA"
    assert "2 tests shown" in multiplicity_note(int(shown["q_value"].notna().sum()))
    one = label_tests(["A", "B"], [0.01, None], [None, None])  # one test: nothing to adjust
    assert one.loc["A", "text"] == "p = 0.010" and multiplicity_note(1) == ""
