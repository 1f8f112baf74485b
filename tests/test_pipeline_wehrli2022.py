"""The whole pipeline on the wehrli2022 cohort (anakinra for ICANS, Wehrli et al. JITC 2022): the
intervention tables and figures (derivations.md, "Around an anakinra course").

Expected values come from the generator's truth file (course days, cytokine sample days, the
directions it planted), never from the warehouse's own output.
"""

from datetime import date

import duckdb
import pandas as pd
import pytest

from conftest import PipelineRun  # noqa: F401  (the wehrli_run fixture is in conftest)

LAB_AND_VITAL = ["TMAX", "ANC", "PLT", "CRP", "FERRITIN"]
FIGURES = [
    "anakinra_swimmer.png",
    "anakinra_tmax_anc_plt.png",
    "anakinra_ctcae_pies.png",
    "anakinra_crp_ferritin_waterfall.png",
    "anakinra_cytokines.png",
]


@pytest.fixture(scope="module")
def tables(wehrli_run):
    assert wehrli_run.exit_code == 0, wehrli_run.output[-3000:]
    with duckdb.connect(str(wehrli_run.serving), read_only=True) as con:
        return {
            name: con.execute(f"select * from analysis.{name}").df()
            for name in ("intervention_windows", "intervention_tests", "intervention_lab_grades")
        }


@pytest.fixture(scope="module")
def truth_subjects(wehrli_run) -> pd.DataFrame:
    return pd.DataFrame(wehrli_run.truth["subjects"]).set_index("subject_id")


def test_run_succeeds(wehrli_run):
    assert wehrli_run.exit_code == 0, wehrli_run.output[-3000:]


def test_one_row_per_subject_with_a_course_and_measure(tables, truth_subjects):
    w = tables["intervention_windows"]
    measures = list(dict.fromkeys(w["measure"]))
    assert measures[:5] == LAB_AND_VITAL
    assert len(measures) > 5  # the serum cytokines
    assert set(w["subject_id"]) == set(truth_subjects.index)  # every subject had a course
    assert not w.duplicated(["subject_id", "measure"]).any()
    assert len(w) == len(truth_subjects) * len(measures)
    g = tables["intervention_lab_grades"]
    assert len(g) == 2 * len(truth_subjects) and not g.duplicated(["subject_id", "test"]).any()


def test_courses_match_the_planted_anakinra_days(tables, truth_subjects):
    w = tables["intervention_windows"]
    tmax = w[w["measure"] == "TMAX"].set_index("subject_id")
    for sid, s in truth_subjects.iterrows():
        infused = date.fromisoformat(s["infused_on"])
        assert (tmax.at[sid, "first_dose_at"].date() - infused).days == s["anakinra_first_day"], sid
        assert (tmax.at[sid, "last_dose_at"].date() - infused).days == s["anakinra_last_day"], sid
        assert (tmax.at[sid, "last_dose_at"] - tmax.at[sid, "first_dose_at"]).days == s["anakinra_doses"] - 1, sid
    g = tables["intervention_lab_grades"].set_index(["subject_id", "test"])
    for sid, s in truth_subjects.iterrows():
        assert g.at[(sid, "ANC"), "window_first_day"] == s["anakinra_last_day"] + 21
        assert g.at[(sid, "ANC"), "window_last_day"] == s["anakinra_last_day"] + 28


def test_cytokine_samples_are_the_planted_ones(tables, truth_subjects):
    w = tables["intervention_windows"]
    il6 = w[w["measure"] == "IL6"].set_index("subject_id")
    assert (il6["status"] == "paired").all()
    for sid, s in truth_subjects.iterrows():
        assert il6.at[sid, "before_study_day"] == s["cytokine_pre_day"], sid
        assert il6.at[sid, "after_study_day"] == s["cytokine_post_day"], sid


def test_window_counts_are_reported(tables, truth_subjects):
    w, t = tables["intervention_windows"], tables["intervention_tests"].set_index("measure")
    assert set(t.index) == set(w["measure"])
    for measure, rows in w.groupby("measure"):
        assert t.at[measure, "n_pairs"] == (rows["status"] == "paired").sum()
        assert t.at[measure, "n_pairs"] + t.at[measure, "n_missing"] == len(truth_subjects)
        assert t.at[measure, "test"] == ("paired_t" if measure in LAB_AND_VITAL else "ratio_paired_t")
    # every subject has the vitals and labs around the course (generator: vitals every 1-4 h, labs daily)
    for measure in LAB_AND_VITAL:
        assert t.at[measure, "n_pairs"] == len(truth_subjects), measure
    g = tables["intervention_lab_grades"]
    assert (g["worst_ctcae_grade_d21_d28"].isna() == (g["status"] != "ok")).all()
    assert g["worst_ctcae_grade_d21_d28"].dropna().between(0, 4).all()


def test_temperature_falls_on_average(tables):
    t = tables["intervention_tests"].set_index("measure")
    assert t.at["TMAX", "mean_after"] < t.at["TMAX", "mean_before"]
    assert t.at["TMAX", "statistic"] < 0


def test_planted_directions(tables, wehrli_run):
    t = tables["intervention_tests"].set_index("measure")
    for measure, direction in wehrli_run.truth["expected_after_anakinra"].items():
        assert direction == "down"
        if t.at[measure, "test"] == "ratio_paired_t":
            assert t.at[measure, "gm_ratio"] < 1, measure
        else:
            assert t.at[measure, "mean_after"] < t.at[measure, "mean_before"], measure
            assert t.at[measure, "median_pct_change"] < 0, measure


def test_figures_are_written(wehrli_run, tables):
    folder = wehrli_run.root / "figures" / "default"  # <figures dir>/<study_id>/
    for name in FIGURES:
        path = folder / name
        assert path.is_file() and path.stat().st_size > 1000, name
        assert path.read_bytes().startswith(b"\x89PNG")
