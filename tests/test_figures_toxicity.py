"""Park 2023 Figure 2 (CRS / ICANS rates) renders to PNG bytes from hand-made agg_toxicity_rates rows,
within the largest figure size."""

import io

import pandas as pd
import pytest
from PIL import Image

from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, png_size
from dagster_project.figures.toxicity import (
    grade_distribution,
    toxicity_note,
    toxicity_rates_figure,
)

from png_image import png_image as _png

DPI = 40  # keep the tests light

# Max grades of 6 infused subjects: axi-cel 4 (CRS 0,1,2,3; ICANS 0,0,3,1), tisa-cel 2 (CRS 1,1;
# ICANS 0,0). The CIs are placeholders: the figure draws what the mart says.
MAX_GRADES = {
    "CRS": {"axi-cel": [0, 1, 2, 3], "tisa-cel": [1, 1]},
    "ICANS": {"axi-cel": [0, 0, 3, 1], "tisa-cel": [0, 0]},
}


def _rates(max_grades: dict = MAX_GRADES) -> pd.DataFrame:
    rows = []
    for tox, by_product in max_grades.items():
        groups = [("overall", "all", sum(by_product.values(), []))]
        groups += [("car_t_product", p, g) for p, g in by_product.items()]
        for group_by, value, grades in groups:
            cats = {"any": lambda g: g >= 1, "severe": lambda g: g >= 3}
            cats.update({f"grade_{k}": (lambda k: lambda g: g == k)(k) for k in range(6)})
            for cat, test in cats.items():
                n = sum(test(g) for g in grades)
                pct = 100.0 * n / len(grades)
                rows.append({"toxicity": tox, "group_by": group_by, "group_value": value,
                             "grade_category": cat, "n_subjects": n, "n_total": len(grades),
                             "pct": pct, "ci_low_pct": max(pct - 20, 0.0),
                             "ci_high_pct": min(pct + 20, 100.0)})
    return pd.DataFrame(rows)


def test_figure_renders_with_note_in_png():
    image = _png(toxicity_rates_figure(_rates(), dpi=DPI))
    assert image.info["Description"] == toxicity_note(0, 30)
    assert "Clopper-Pearson" in image.info["Description"]


def test_grade_distribution_stacks_the_max_grades():
    table = grade_distribution(_rates(), "CRS")
    assert table.index.tolist() == ["All", "axi-cel", "tisa-cel"]
    assert table.loc["axi-cel", ["grade_1", "grade_2", "grade_3", "grade_4", "grade_5"]].tolist() \
        == [25.0, 25.0, 25.0, 0.0, 0.0]
    # the stacked grades 1..5 add up to the any-grade rate
    for _, row in table.iterrows():
        assert sum(row[f"grade_{g}"] for g in range(1, 6)) == pytest.approx(row["any_pct"])
    assert table.loc["All", ["any_n", "n_total"]].tolist() == [5, 6]
    icans = grade_distribution(_rates(), "ICANS", include_overall=False)
    assert icans.index.tolist() == ["axi-cel", "tisa-cel"]
    assert icans.loc["tisa-cel", "any_pct"] == 0.0


def test_empty_cohort_still_renders():
    rates = _rates()
    rates = rates[rates.group_by == "overall"].assign(n_subjects=0, n_total=0, pct=None,
                                                      ci_low_pct=None, ci_high_pct=None)
    _png(toxicity_rates_figure(rates, dpi=DPI))


def test_by_disease_and_bad_input():
    rates = _rates()
    with pytest.raises(ValueError, match="group_by"):
        toxicity_rates_figure(rates, group_by="site_id", dpi=DPI)
    with pytest.raises(ValueError, match="lack columns"):
        toxicity_rates_figure(rates.drop(columns=["ci_low_pct"]), dpi=DPI)
    _png(toxicity_rates_figure(rates, group_by="disease", dpi=DPI))  # no disease rows: All only


@pytest.mark.parametrize("products", [2, 6], ids=["two_products", "six_products"])
def test_figure_fits_the_maximum_size_at_its_dpi(products):
    names = [f"product-{k}" for k in range(products)]
    grades = {tox: {name: by_product["axi-cel"] for name in names} for tox, by_product in MAX_GRADES.items()}
    png = toxicity_rates_figure(_rates(grades))
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(120, abs=0.1)  # not shrunk to fit
