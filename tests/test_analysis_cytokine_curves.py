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


def _warehouse_with(tmp_path, results: pd.DataFrame, endpoints: pd.DataFrame):
    import duckdb

    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create schema marts")
        for name, frame in (("fct_biomarker_results", results.assign(unit="pg/mL")),
                            ("fct_subject_endpoints", endpoints)):
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
    assert status == {"all": "too_large", "ICANS 0-2": "ok", "ICANS 3-4": "ok"}
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["groups_too_large"].value == 1 and meta["groups_ok"].value == 2

    monkeypatch.setenv("WAREHOUSE_LOESS_MAX_POINTS", "lots")
    with pytest.raises(ValueError, match="WAREHOUSE_LOESS_MAX_POINTS must be a whole number"):
        Settings.from_env()
