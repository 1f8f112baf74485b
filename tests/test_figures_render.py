"""The helpers every figure module shares: PNG bytes with their text chunks, the p-value text,
the panel grid."""

import io

import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from dagster_project.figures.render import format_p, panel_grid, png_bytes, unit_of


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
