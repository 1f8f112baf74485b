"""CSF before/after box plots (Park 2023 Fig. 4B/C) render to PNG bytes from the pre/post
selection and the analysis table, with a point limit per box and empty inputs, within the largest
figure size; a panel whose pre or post values are all censored shows why instead of a p-value;
the p-values carry Benjamini-Hochberg q-values over the panels tested."""

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread
from PIL import Image
from statsmodels.stats.multitest import multipletests

from dagster_project.figures.csf_pre_post import csf_pre_post_png, panel_tests, panel_tests_note, points_to_draw
from dagster_project.figures.render import MAX_HEIGHT_PX, MAX_WIDTH_PX, format_p, png_size
from dagster_project.lib.analysis.csf_pre_post import csf_pre_post, select_pre_post
from schemas.analytes import CYTOKINE_CODES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 40  # where the size does not matter: keep the tests light


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


def _csf_all_cytokines(all_censored=("IL1B",), pre_censored=("IL10",)):
    """WBC, protein and every cytokine of the contract (as a full cohort draws); every value
    of ``all_censored`` below the LLOQ (LLOQ/2 substitutes), and every pre value of ``pre_censored``;
    8 pairs, one pre-only and one post-only subject."""
    rng = np.random.default_rng(3)
    rows = []
    for analyte in ("WBC", "PROTEIN", *CYTOKINE_CODES):
        for k, subject in enumerate("ABCDEFGHIJ"):
            for timepoint, day, shift in (("pre", -1, 0.0), ("post", 5, 1.0 + 0.2 * k)):
                if (subject, timepoint) in (("A", "post"), ("J", "pre")):
                    continue  # one pre-only and one post-only subject: the partially matched test
                censored = analyte in all_censored or (timepoint == "pre" and analyte in pre_censored)
                value = 0.5 if censored else float(rng.lognormal(1.0 + shift, 0.5))
                rows.append((subject, "csf", analyte, f"{subject}-{timepoint}", day,
                             pd.Timestamp("2024-01-10") + pd.Timedelta(days=day), value, "pg/mL",
                             "below_lloq" if censored else "none"))
    frame = pd.DataFrame(rows, columns=["subject_id", "specimen", "analyte", "sample_id", "study_day",
                                        "collected_at", "analysis_value", "unit", "censoring"])
    kind = np.where(frame["analyte"].isin(["WBC", "PROTEIN"]), "csf_chemistry", "cytokine")
    return frame.assign(analyte_kind=kind, substitution_rule="lloq_half_uloq")


@pytest.fixture(scope="module")
def every_cytokine():
    """(selection, summary, PNG Description at a low dpi) of :func:`_csf_all_cytokines`."""
    csf = _csf_all_cytokines()
    selection, summary = select_pre_post(csf), csf_pre_post(csf)
    description = Image.open(io.BytesIO(csf_pre_post_png(selection, summary, dpi=DPI))).info["Description"]
    return selection, summary, description


def test_csf_figure_of_every_cytokine_fits_at_its_dpi(every_cytokine):
    selection, summary, _ = every_cytokine
    png = csf_pre_post_png(selection, summary)
    width, height = png_size(png)
    assert width <= MAX_WIDTH_PX and height <= MAX_HEIGHT_PX
    # drawn at its own dpi (100): the panels wrap into rows that fit, no shrinking needed
    assert Image.open(io.BytesIO(png)).info["dpi"][0] == pytest.approx(100, abs=0.1)
    small = csf_pre_post_png(select_pre_post(_csf()), csf_pre_post(_csf()))
    assert max(png_size(small)) <= MAX_WIDTH_PX


def test_a_side_entirely_censored_shows_why_instead_of_p(every_cytokine):
    selection, summary, description = every_cytokine
    panels = panel_tests(selection, summary).set_index("analyte")
    # the analysis table keeps its p-values; the figure's panels do not show them
    assert summary.set_index("analyte").loc[["IL1B", "IL10"], "p_value"].notna().all()
    assert panels.at["IL1B", "no_test"] == "all values below LLOQ"
    assert panels.at["IL10", "no_test"] == "all pre values below LLOQ"
    for analyte in ("IL1B", "IL10"):
        assert panels.at[analyte, "text"].endswith(": no test") and "p =" not in panels.at[analyte, "text"]
        assert pd.isna(panels.at[analyte, "q_value"])
    assert panels.at["IL6", "no_test"] is None and panels.at["IL6", "text"].startswith("p ")
    assert "no test where every pre or every post value is censored" in description and "2 panels" in description
    note = panel_tests_note(panels.reset_index())
    # WBC, protein and every cytokine, less the two panels without a test
    assert "IL1B, IL10" in note and f"over the {len(CYTOKINE_CODES)} tests shown" in note


def test_q_values_are_benjamini_hochberg_over_the_panels_tested(every_cytokine):
    selection, summary, description = every_cytokine
    panels = panel_tests(selection, summary).set_index("analyte")
    tested = summary[~summary["analyte"].isin(["IL1B", "IL10"])]
    expected = multipletests(tested["p_value"].to_numpy(dtype=float), method="fdr_bh")[1]
    np.testing.assert_allclose(panels.loc[tested["analyte"], "q_value"].to_numpy(dtype=float), expected)
    row = panels.loc["WBC"]
    assert row["text"] == f"{format_p(row['p_value'])}, {format_p(row['q_value'], 'q')}"
    assert "Benjamini-Hochberg" in description and f"over the {len(CYTOKINE_CODES)} tests shown" in description


def test_selection_without_censoring_forms_tests_every_panel():
    csf = _csf()  # no censoring column: nothing known to be censored, every panel keeps its p
    panels = panel_tests(select_pre_post(csf), csf_pre_post(csf))
    assert panels["no_test"].isna().all() and panels["text"].str.startswith("p ").all()
