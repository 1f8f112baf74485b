"""analysis.cytokine_curves (marts.md; derivations.md, "Cytokine kinetics": LOESS of
log10(analysis_value) on study day per specimen x analyte x group, span 0.75, degree 2,
pointwise 95% band on the whole days of the group's sampled range; R's loess to 1e-6)."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dagster_project.lib.analysis.cytokine_curves import COLUMNS, GROUPS, cytokine_curves, icans_group
from stats.loess import loess_band

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "loess.json"
CASES = json.loads(REFERENCE.read_text())["cases"]


def _results(days, values, *, subjects=None, specimen="serum", analyte="IL6", kind="cytokine"):
    n = len(days)
    return pd.DataFrame(
        {
            "subject_id": subjects if subjects is not None else [f"S{i % 7}" for i in range(n)],
            "specimen": specimen,
            "analyte": analyte,
            "analyte_kind": kind,
            "study_day": days,
            "analysis_value": values,
            "substitution_rule": "lloq_half_uloq",
        }
    )


def _endpoints(grades: dict) -> pd.DataFrame:
    return pd.DataFrame({"subject_id": list(grades), "icans_max_grade": list(grades.values())})


@pytest.mark.parametrize("case", CASES, ids=[f"n{len(c['study_day'])}" for c in CASES])
def test_all_group_matches_r_loess(case):
    """The `all` curve is R's loess()/predict(se=TRUE) on log10 values (reference to 1e-6)."""
    values = np.power(10.0, np.array(case["log10_value"]))
    res = _results(case["study_day"], values)
    out = cytokine_curves(res, _endpoints({}))
    curve = out[(out["group"] == "all")].sort_values("study_day")
    assert curve["status"].eq("ok").all()
    assert curve["study_day"].tolist() == case["grid"]  # whole days of the sampled range
    for ours, theirs in [("fit_log10", "fit"), ("ci_low_log10", "ci_low"), ("ci_high_log10", "ci_high"),
                         ("se_log10", "se")]:
        np.testing.assert_allclose(curve[ours].to_numpy(dtype=float), case[theirs], rtol=0, atol=1e-6)
    assert (curve["n_obs"] == len(case["study_day"])).all()
    assert curve["residual_df"].iloc[0] == pytest.approx(case["residual_df"], abs=1e-6)


def test_icans_group_of_grade():
    assert [icans_group(g) for g in (0, 1, 2, 3, 4, 5, None, float("nan"))] == [
        "ICANS 0-2", "ICANS 0-2", "ICANS 0-2", "ICANS 3-4", "ICANS 3-4", None, None, None,
    ]


def _cohort():
    """Six subjects x days 0..10; subject k has value (k+1) * (1 + day)."""
    rows = []
    for k, subject in enumerate(["A", "B", "C", "D", "E", "F"]):
        for day in range(0, 11):
            rows.append((subject, day, (k + 1) * (1.0 + day)))
    frame = pd.DataFrame(rows, columns=["subject_id", "study_day", "analysis_value"])
    return _results(frame["study_day"], frame["analysis_value"], subjects=frame["subject_id"])


def test_groups_use_adjudicated_icans_max_grade():
    res = _cohort()
    # A, B: 0-2; C, D: 3-4; E: grade 5 (neither named group); F: no grade (all only)
    ep = _endpoints({"A": 0, "B": 2, "C": 3, "D": 4, "E": 5, "F": None})
    out = cytokine_curves(res, ep)
    by_group = out.groupby("group").agg(n_obs=("n_obs", "first"), n_subjects=("n_subjects", "first"))
    assert by_group.loc["all"].tolist() == [66, 6]
    assert by_group.loc["ICANS 0-2"].tolist() == [22, 2]
    assert by_group.loc["ICANS 3-4"].tolist() == [22, 2]
    # the 3-4 curve is the loess of C and D's samples only
    cd = res[res["subject_id"].isin(["C", "D"])]
    expected = loess_band(cd["study_day"], np.log10(cd["analysis_value"]))
    got = out[out["group"] == "ICANS 3-4"].sort_values("study_day")
    np.testing.assert_allclose(got["fit_log10"], expected.curve["fit"], rtol=0, atol=1e-12)
    assert (got["n_obs_day"] == 2).all()


def test_too_small_group_is_reported_not_dropped():
    res = _cohort()
    # the only 3-4 subject has samples on two distinct days: a degree-2 fit needs three
    extra = _results([1, 1, 4], [5.0, 6.0, 7.0], subjects=["G", "G", "G"])
    out = cytokine_curves(pd.concat([res, extra]), _endpoints({"A": 0, "G": 3}))
    small = out[out["group"] == "ICANS 3-4"]
    assert len(small) == 1
    row = small.iloc[0]
    assert row["status"] == "too_small" and row["reason"]
    assert pd.isna(row["study_day"]) and math.isnan(row["fit_log10"]) and math.isnan(row["ci_low_log10"])
    assert row["n_obs"] == 3
    assert set(out["group"]) == set(GROUPS)


def test_group_above_the_ceiling_is_reported_too_large_and_the_others_still_fit():
    res = _cohort()  # 66 samples in `all`, 22 in each ICANS group
    ep = _endpoints({"A": 0, "B": 2, "C": 3, "D": 4, "E": 5, "F": None})
    capped = cytokine_curves(res, ep, max_points=30)
    large = capped[capped["group"] == "all"]
    assert large[["status", "n_obs"]].values.tolist() == [["too_large", 66]]
    assert "ceiling of 30" in large["reason"].iloc[0] and pd.isna(large["study_day"].iloc[0])
    assert math.isnan(large["fit_log10"].iloc[0])
    # the groups at or under the ceiling are the same curves as without one
    free = cytokine_curves(res, ep)
    for group in ("ICANS 0-2", "ICANS 3-4"):
        got = capped[capped["group"] == group].sort_values("study_day")
        want = free[free["group"] == group].sort_values("study_day")
        assert got["status"].eq("ok").all()
        np.testing.assert_array_equal(got["fit_log10"].to_numpy(), want["fit_log10"].to_numpy())
    # exactly at the ceiling is fitted
    assert cytokine_curves(res, ep, max_points=66).query("group == 'all'")["status"].eq("ok").all()


def test_group_without_subjects_is_reported():
    out = cytokine_curves(_cohort(), _endpoints({"A": 1}))
    severe = out[out["group"] == "ICANS 3-4"]
    assert severe[["status", "n_obs", "reason"]].values.tolist() == [["too_small", 0, "no observations"]]


def test_nonpositive_values_are_excluded_and_counted():
    res = _cohort()
    zeros = _results([3, 5], [0.0, -1.0], subjects=["A", "B"])
    out = cytokine_curves(pd.concat([res, zeros]), _endpoints({}))
    clean = cytokine_curves(res, _endpoints({}))
    a = out[out["group"] == "all"].reset_index(drop=True)
    b = clean[clean["group"] == "all"].reset_index(drop=True)
    assert (a["n_nonpositive_excluded"] == 2).all() and (b["n_nonpositive_excluded"] == 0).all()
    np.testing.assert_allclose(a["fit_log10"], b["fit_log10"], rtol=0, atol=0)
    assert (a["n_obs"] == 66).all()


def test_inputs_filtered_to_infused_cytokines():
    res = _cohort()
    not_infused = _results([None, None], [3.0, 4.0], subjects=["Z", "Z"])
    lab = _results(list(range(11)), [1.0 + d for d in range(11)], analyte="CRP", kind="lab")
    csf = _results([-3, -2, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6.0], specimen="csf", analyte="IL6")
    out = cytokine_curves(pd.concat([res, not_infused, lab, csf]), _endpoints({}))
    assert set(zip(out["specimen"], out["analyte"])) == {("serum", "IL6"), ("csf", "IL6")}
    assert out[(out["specimen"] == "serum") & (out["group"] == "all")]["n_obs"].iloc[0] == 66
    only_serum = cytokine_curves(pd.concat([res, lab]), _endpoints({}), specimens=["serum"], analytes=["CRP"])
    assert set(only_serum["analyte"]) == {"CRP"}


def test_columns_and_rule_carried():
    out = cytokine_curves(_cohort(), _endpoints({"A": 0}))
    assert list(out.columns) == COLUMNS
    assert set(out["substitution_rule"]) == {"lloq_half_uloq"}
    assert cytokine_curves(_cohort().iloc[0:0], _endpoints({})).columns.tolist() == COLUMNS


def _warehouse_with(tmp_path, results: pd.DataFrame, endpoints: pd.DataFrame, studies=None):
    """A warehouse of contract v2 by hand: study_id first in the marts, and marts.dim_studies
    (``studies``: study_id -> kinetics_group_by; default one study `default` by ICANS). Frames
    without study_id are the first study's."""
    import duckdb

    studies = studies or {"default": "ICANS"}
    first = next(iter(studies))
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        dim = pd.DataFrame({"study_id": list(studies), "title": list(studies), "time_mode": "calendar",
                            "kinetics_group_by": list(studies.values()), "primary_toxicity_criteria": "ASTCT2019"})
        for name, frame in (("fct_biomarker_results", results.assign(unit="pg/mL")),
                            ("fct_subject_endpoints", endpoints), ("dim_studies", dim)):
            if "study_id" not in frame.columns:
                frame = frame.assign(study_id=first)
            frame = frame[["study_id", *[c for c in frame.columns if c != "study_id"]]]
            con.register("f", frame)
            con.execute(f"create table marts.{name} as select * from f")
            con.unregister("f")
    return db


def test_asset_takes_the_ceiling_from_the_environment(tmp_path, monkeypatch):
    import dagster as dg
    import duckdb

    from dagster_project.defs.analysis.cytokine_curves import cytokine_curves_asset
    from dagster_project.settings import Settings

    ep = _endpoints({"A": 0, "B": 2, "C": 3, "D": 4, "E": 5, "F": None})
    db = _warehouse_with(tmp_path, _cohort(), ep.astype({"icans_max_grade": "Int64"}))
    monkeypatch.setenv("WAREHOUSE_LOESS_MAX_POINTS", "30")
    settings = Settings.from_env(landing_dir=tmp_path, db_path=db, serving_db_path=tmp_path / "s.duckdb")
    result = dg.materialize([cytokine_curves_asset], resources={"settings": settings})
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        status = dict(con.execute("select \"group\", any_value(status) from analysis.cytokine_curves group by 1").fetchall())
        assert con.execute("select * from analysis.cytokine_curves limit 0").df().columns[0] == "study_id"
    assert status == {"all": "too_large", "ICANS 0-2": "ok", "ICANS 3-4": "ok"}
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["groups_too_large"].value == 1 and meta["groups_ok"].value == 2
    # one study: the figures under figures/<study_id>/, the metadata keys as before
    assert {"figure_serum_cytokines_all", "figure_serum_cytokines_by_icans"} <= set(meta)
    assert (tmp_path / "figures" / "default" / "serum_cytokines_by_icans.png").is_file()

    monkeypatch.setenv("WAREHOUSE_LOESS_MAX_POINTS", "lots")
    with pytest.raises(ValueError, match="WAREHOUSE_LOESS_MAX_POINTS must be a whole number"):
        Settings.from_env()


# ---- the study's grouping (marts.md: group_by ICANS by default, or any toxicity or subject
# attribute such as IEC-HS, `group` holding its value) ------------------------------------------

def test_default_grouping_is_icans_and_named_in_group_by():
    out = cytokine_curves(_cohort(), _endpoints({"A": 0, "C": 3}))
    assert set(out["group_by"]) == {"ICANS"}
    assert list(out.columns).index("group_by") == list(out.columns).index("group") - 1


def test_grouping_by_crs_uses_its_max_grade():
    ep = pd.DataFrame({"subject_id": list("ABCDEF"), "icans_max_grade": [0] * 6,
                       "crs_max_grade": [0, 1, 2, 3, 4, None]})
    out = cytokine_curves(_cohort(), ep, group_by="CRS")
    by_group = out.groupby("group")["n_subjects"].first()
    assert by_group.to_dict() == {"all": 6, "CRS 0-2": 3, "CRS 3-4": 2}
    assert set(out["group_by"]) == {"CRS"}


def test_grouping_by_iec_hs_present_and_absent():
    ep = pd.DataFrame({"subject_id": list("ABCDEF"), "icans_max_grade": [0] * 6,
                       "iec_hs_present": pd.array([True, True, False, False, False, None], dtype="boolean")})
    out = cytokine_curves(_cohort(), ep, group_by="IEC-HS")
    assert list(dict.fromkeys(out["group"])) == ["all", "IEC-HS present", "IEC-HS absent"]
    by_group = out.groupby("group")["n_subjects"].first()
    assert by_group.to_dict() == {"all": 6, "IEC-HS present": 2, "IEC-HS absent": 3}
    res = _cohort()
    ab = res[res["subject_id"].isin(["A", "B"])]
    expected = loess_band(ab["study_day"], np.log10(ab["analysis_value"]))
    got = out[out["group"] == "IEC-HS present"].sort_values("study_day")
    np.testing.assert_allclose(got["fit_log10"], expected.curve["fit"], rtol=0, atol=1e-12)


def test_grouping_by_a_subject_attribute_gives_one_group_per_value():
    attributes = pd.DataFrame({"subject_id": list("ABCDE"), "attribute": ["dose_level"] * 5,
                               "value": ["10", "2", "2", "10", None]})
    other = pd.DataFrame({"subject_id": ["F"], "attribute": ["bridging"], "value": ["yes"]})
    out = cytokine_curves(_cohort(), _endpoints({}), group_by="dose_level",
                          attributes=pd.concat([attributes, other]))
    assert list(dict.fromkeys(out["group"])) == ["all", "2", "10"]  # numbers by value
    assert out.groupby("group")["n_subjects"].first().to_dict() == {"all": 6, "2": 2, "10": 2}
    assert set(out["group_by"]) == {"dose_level"}
    # an attribute no subject has: `all` alone
    assert set(cytokine_curves(_cohort(), _endpoints({}), group_by="prior_transplant",
                               attributes=attributes)["group"]) == {"all"}


def test_fractional_study_days_are_the_x_and_the_grid_is_whole_days():
    """A relative-time study: LOESS on the delivered fractional day, evaluated on whole days."""
    res = _cohort()
    res = res.assign(study_day=res["study_day"] + np.where(res["subject_id"] < "D", 0.25, 0.75))
    out = cytokine_curves(res, _endpoints({}))
    curve = out[out["group"] == "all"].sort_values("study_day")
    assert curve["study_day"].tolist() == list(range(1, 11))  # ceil(0.25) .. floor(10.75)
    expected = loess_band(res["study_day"], np.log10(res["analysis_value"]))
    np.testing.assert_allclose(curve["fit_log10"], expected.curve["fit"], rtol=0, atol=1e-12)
    assert (curve["n_obs_day"] == 6).all()  # floor(study_day) counts the day's samples


def test_each_study_alone_and_side_by_side_give_the_same_curves():
    """Two studies with the same subject ids, different data and groupings: each study's rows of
    the stacked table are its curves computed alone."""
    from dagster_project.lib.analysis.cytokine_curves import cytokine_curves_by_study

    a = _cohort()
    b = _cohort().assign(analysis_value=lambda f: f["analysis_value"] * np.where(f["study_day"] > 4, 3.0, 0.5))
    ep_a = _endpoints({"A": 0, "B": 2, "C": 3, "D": 4})
    ep_b = pd.DataFrame({"subject_id": list("ABCDEF"), "icans_max_grade": [0] * 6,
                         "iec_hs_present": [True, False, True, False, True, False]})
    both = cytokine_curves_by_study(
        pd.concat([a.assign(study_id="a"), b.assign(study_id="b")]),
        pd.concat([ep_a.assign(study_id="a"), ep_b.assign(study_id="b")]),
        group_by={"b": "IEC-HS"},
    )
    assert list(both.columns) == ["study_id", *COLUMNS]
    for study, alone in (("a", cytokine_curves(a, ep_a)), ("b", cytokine_curves(b, ep_b, group_by="IEC-HS"))):
        got = both[both["study_id"] == study].drop(columns="study_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, alone)


def test_asset_computes_each_study_by_its_own_grouping(tmp_path):
    """Two studies with the same subject ids: `park` by ICANS (the default), `cd22` by IEC-HS.
    Each study's rows equal its curves computed alone; each has its figures in its folder."""
    import dagster as dg
    import duckdb

    from dagster_project.defs.analysis.cytokine_curves import cytokine_curves_asset
    from dagster_project.settings import Settings

    park_ep = _endpoints({"A": 0, "B": 2, "C": 3, "D": 4, "E": 5, "F": None}).astype({"icans_max_grade": "Int64"})
    cd22 = _cohort().assign(analysis_value=lambda f: f["analysis_value"] * 2.0 + f["study_day"],
                            study_day=lambda f: f["study_day"] + 0.25)
    cd22_ep = park_ep.assign(iec_hs_present=pd.array([True, False, True, False, None, True], dtype="boolean"))
    results = pd.concat([_cohort().assign(study_id="park"), cd22.assign(study_id="cd22")], ignore_index=True)
    no_iec_hs = pd.array([None] * len(park_ep), dtype="boolean")
    endpoints = pd.concat([park_ep.assign(iec_hs_present=no_iec_hs, study_id="park"), cd22_ep.assign(study_id="cd22")],
                          ignore_index=True)
    db = _warehouse_with(tmp_path, results, endpoints, studies={"cd22": "IEC-HS", "park": "ICANS"})
    settings = Settings.from_env({}, landing_dir=tmp_path, db_path=db, serving_db_path=tmp_path / "s.duckdb")
    result = dg.materialize([cytokine_curves_asset], resources={"settings": settings})
    assert result.success
    with duckdb.connect(str(db), read_only=True) as con:
        table = con.execute("select * from analysis.cytokine_curves").df()
    for study, rows, ep, group_by in (("park", _cohort(), park_ep, "ICANS"), ("cd22", cd22, cd22_ep, "IEC-HS")):
        alone = cytokine_curves(rows.assign(unit="pg/mL"), ep, group_by=group_by)
        got = table[table["study_id"] == study].drop(columns="study_id")
        got = got.sort_values(["group", "study_day"]).reset_index(drop=True)
        want = alone.sort_values(["group", "study_day"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert set(table.loc[table["study_id"] == "cd22", "group"]) == {"all", "IEC-HS present", "IEC-HS absent"}
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert "figure_serum_cytokines_by_group (cd22)" in meta and "figure_serum_cytokines_by_icans (park)" in meta
    assert meta["group_by"].value == "cd22: IEC-HS, park: ICANS"
    figures = tmp_path / "figures"
    assert sorted(p.relative_to(figures).as_posix() for p in figures.rglob("*.png")) == [
        "cd22/serum_cytokines_all.png", "cd22/serum_cytokines_by_group.png",
        "park/serum_cytokines_all.png", "park/serum_cytokines_by_icans.png"]
