"""Response and Kaplan-Meier figures (Park 2023 Fig 3A-C / ED Fig 1A-C) render to PNG bytes."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dagster_project.lib.analysis.survival import build_km_tables
from dagster_project.figures.response import (
    best_response_counts,
    best_response_figure,
    km_figure,
    km_note,
    number_at_risk,
    response_note,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 40  # keep the tests light


def _endpoints():
    return pd.DataFrame({
        "subject_id": [f"S{i}" for i in range(8)],
        "car_t_product": ["axi-cel"] * 4 + ["brexu-cel"] * 3 + [None],
        "disease": ["LBCL"] * 5 + ["MCL"] * 3,
        "best_response_d100": ["CR", "CR", "PR", "NE", "PD", "CR", "SD", "PR"],
        "os_days": [400, 380, 300, 47, 120, 500, 200, 90],
        "os_event": [False, False, True, True, True, False, True, False],
        "pfs_days": [400, 380, 150, 47, 60, 500, 100, 90],
        "pfs_event": [0, 0, 1, 1, 1, 0, 1, 0],
    })


def _png(data: bytes) -> Image.Image:
    assert isinstance(data, bytes) and data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    return image


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
