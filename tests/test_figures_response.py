"""Best response figure (Park 2023 Fig 3A / ED Fig 1A) renders to PNG bytes with its footnote, within
the largest figure size."""

import io

import pandas as pd
import pytest
from PIL import Image

from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, png_size
from dagster_project.figures.response import best_response_counts, best_response_figure, response_note

from png_image import png_image as _png

DPI = 40  # keep the tests light


def _endpoints():
    return pd.DataFrame({
        "subject_id": [f"S{i}" for i in range(8)],
        "car_t_product": ["axi-cel"] * 4 + ["brexu-cel"] * 3 + [None],
        "disease": ["LBCL"] * 5 + ["MCL"] * 3,
        "best_response_d100": ["CR", "CR", "PR", "NE", "PD", "CR", "SD", "PR"],
    })


def test_response_figure_renders_with_note_in_png():
    df = _endpoints()
    image = _png(best_response_figure(df, dpi=DPI))
    assert image.info["Description"] == response_note(df, fold_ne_into_pd=False)
    _png(best_response_figure(df, group_by="disease", include_overall=False, dpi=DPI))


def test_fold_ne_into_pd_changes_note_and_counts():
    df = _endpoints()
    shown = response_note(df, fold_ne_into_pd=False)
    folded = response_note(df, fold_ne_into_pd=True)
    assert shown != folded
    assert "own category" in shown and "not folded" in shown
    assert "folded into PD" in folded and "1 subject" in folded and "is included" in folded
    image = _png(best_response_figure(df, fold_ne_into_pd=True, dpi=DPI))
    assert image.info["Description"] == folded

    own = best_response_counts(df, "disease")
    fold = best_response_counts(df, "disease", fold_ne_into_pd=True)
    assert "NE" in own.columns and "NE" not in fold.columns
    assert own.loc["LBCL", ["PD", "NE"]].tolist() == [1, 1] and fold.loc["LBCL", "PD"] == 2
    # ORR = (CR + PR) / all infused, whatever NE is drawn as
    assert own.orr_pct.tolist() == fold.orr_pct.tolist() == [60.0, 200 / 3]


def test_response_counts_groupings():
    counts = best_response_counts(_endpoints(), "car_t_product")
    assert counts.index.tolist() == ["axi-cel", "brexu-cel", "missing"]
    assert counts.n.tolist() == [4, 3, 1]
    assert best_response_counts(_endpoints(), "overall").loc["all", "orr_n"] == 5


def test_unknown_response_raises():
    df = _endpoints()
    df.loc[0, "best_response_d100"] = None
    with pytest.raises(ValueError, match="best_response_d100"):
        best_response_figure(df, dpi=DPI)


@pytest.mark.parametrize("products", [2, 8], ids=["side_by_side", "one_panel_per_row"])
def test_response_figure_fits_the_maximum_size_at_its_dpi(products):
    df = _endpoints().assign(car_t_product=[f"product-{k % products}" for k in range(8)])
    png = best_response_figure(df)
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(120, abs=0.1)  # not shrunk to fit
