"""The Great Expectations suites (schemas/gx_suites.py) run by dagster_project.lib.quality.gx_runner.

Each suite passes on a small valid table written by hand from marts.md, and fails on a copy
broken in one way of each kind (a value out of range, an unknown category, a duplicated key, a
wrong row count, a null key): the broken frame is derived from the suite's own first expectation
of that kind, and the failure must be reported by an expectation of that kind.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.lib.quality.gx_runner import GxFolders, run_suite
from dagster_project.settings import Settings
from schemas import gx_suites as S
from schemas import vocabulary as V
from schemas.gx_tables import CHECKED_TABLES

ROOT = Path(__file__).resolve().parents[1]
MARTS_SPEC = ROOT.parent / "shared" / "spec" / "marts.md"

KINDS = ("range", "category", "unique", "row_count", "not_null")

# Two studies side by side (studies-and-inputs.md, "Studies"): `default`, a calendar study grouping
# its kinetics by ICANS, and `rel`, a relative-time study (no dates) with IEC-HS data, two toxicity
# criteria, ALL-MRD response and a product of its own; subject S1 is in both (a subject is
# (study_id, subject_id)).
SUBJECTS = pd.DataFrame(
    {
        "study_id": ["default", "default", "default", "rel"],
        "subject_id": ["S1", "S2", "S3", "S1"],
        "site_id": ["site01", "site01", "site02", "nci"],
        "enrolled_on": pd.to_datetime(["2023-01-02", "2023-01-05", "2023-02-01", None]).date,
        "age_years": [61, 70, 55, 9],
        "sex": ["F", "M", "U", "F"],
        "weight_kg": [70.0, 82.5, None, None],
        "disease": ["LBCL", "MCL", "LBCL", "B-ALL"],
        "car_t_product": ["axi-cel", "brexu-cel", None, "CD22 CAR T"],
        "infused_on": pd.to_datetime(["2023-01-20", "2023-01-25", None, None]).date,
        "is_infused": [True, True, False, True],
        "not_infused_reason": [None, None, "manufacturing failure", None],
    }
)
REL_SETTINGS = json.dumps({"title": "rel", "time_mode": "relative", "products": ["CD22 CAR T"],
                           "toxicity_criteria": ["ASTCT2019", "Lee2014"], "response_criteria": ["ALL-MRD"],
                           "kinetics_group_by": "IEC-HS"})
STUDIES = pd.DataFrame(
    {
        "study_id": ["default", "rel"], "title": ["park2023", "CD22"], "time_mode": ["calendar", "relative"],
        "n_subjects": [3, 1], "n_deliveries": [9, 3],
        "last_delivery_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        "primary_toxicity_criteria": ["ASTCT2019", "ASTCT2019"], "kinetics_group_by": ["ICANS", "IEC-HS"],
        "settings_json": [None, REL_SETTINGS],
    }
)
# the toxicity data delivered: default's daily CRS and ICANS grades; rel's summaries of CRS by both
# criteria and of IEC-HS, and no ICANS (as the CD22 export)
CRITERIA_USED = pd.DataFrame({"study_id": ["default", "default", "rel", "rel", "rel"],
                              "toxicity": ["CRS", "ICANS", "CRS", "CRS", "IEC-HS"],
                              "criteria": ["ASTCT2019", "ASTCT2019", "ASTCT2019", "Lee2014", "ASTCT2019"]})
COHORT = S.Cohort.from_dim_subjects(SUBJECTS, STUDIES, criteria_used=CRITERIA_USED)
COMPANIONS = {S.DIM_SUBJECTS: SUBJECTS, S.DIM_STUDIES: STUDIES}


def check(name: str, expectations, frame: pd.DataFrame, folders=None, run_name=None):
    """run_suite on a frame, with SUBJECTS and STUDIES as the marts.dim_subjects and dim_studies the
    membership rules join to."""
    return run_suite(name, expectations, frame, run_name=run_name, companions=COMPANIONS, folders=folders)


def _studies(frame: pd.DataFrame, study_ids) -> pd.DataFrame:
    """``frame`` with study_id first."""
    return pd.concat([pd.DataFrame({"study_id": list(study_ids)}), frame.reset_index(drop=True)], axis=1)


def _toxicity_daily() -> pd.DataFrame:
    first, last = S.daily_grid()
    rows = []
    for (study, subject), day in itertools.product(COHORT.infused, range(first, last + 1)):
        assessed = 0 <= day <= 14
        rows.append(
            {
                "study_id": study, "subject_id": subject, "study_day": day,
                "crs_grade": (2 if day == 3 else 0) if assessed else None,
                "icans_grade": (1 if day == 5 else 0) if assessed else None,
                "crs_grade_derived": (1 if day == 3 else 0) if assessed else None,
                "icans_grade_derived": 0 if assessed else None,
                "tmax_c": 38.6 if day == 3 else 36.8, "min_systolic_bp_mmhg": 110, "vasopressor_count": 0,
                "o2_device_worst": "nasal_cannula" if day == 3 else "room_air", "ice_score_min": 10 if assessed else None,
                "tocilizumab_doses": 1 if day == 3 else 0, "steroid_dex_equiv_mg": 10.0 if day == 5 else 0.0,
                "anakinra_doses": 0,
            }
        )
    return pd.DataFrame(rows)


def _rate_row(study, group_by, group_value, category_column, category, keys) -> dict:
    total = len(COHORT.studies[[s.study_id for s in COHORT.studies].index(study)].infused) if group_by == "overall" else 1
    n = 1 if category in ("any", "grade_2", "ORR", "CR") else 0
    return {"study_id": study, **keys, "group_by": group_by, "group_value": group_value, category_column: category,
            "n_subjects": n, "n_total": total, "pct": 100 * n / total, "ci_low_pct": 0.0 if n == 0 else 1.26,
            "ci_high_pct": 84.2 if n == 0 else 100.0}


def _toxicity_rates() -> pd.DataFrame:
    rows = [_rate_row(s.study_id, group_by, value, "grade_category", category, {"toxicity": tox, "criteria": crit})
            for s in COHORT.studies for tox, crit, categories in s.toxicity_sets
            for group_by, value in s.rate_groups for category in categories]
    return pd.DataFrame(rows)


def _response_rates() -> pd.DataFrame:
    rows = [_rate_row(s.study_id, group_by, value, "measure", measure, {})
            for s in COHORT.studies for group_by, value in s.rate_groups for measure in s.measures]
    return pd.DataFrame(rows)


VALID: dict[str, pd.DataFrame] = {
    "marts.dim_studies": STUDIES.drop(columns="settings_json"),
    "marts.dim_subjects": SUBJECTS,
    "marts.fct_toxicity_daily": _toxicity_daily(),
    "marts.fct_subject_endpoints": _studies(pd.DataFrame(
        {
            "subject_id": ["S1", "S2", "S1"], "car_t_product": ["axi-cel", "brexu-cel", "CD22 CAR T"],
            "disease": ["LBCL", "MCL", "B-ALL"],
            "crs_max_grade": [2, 0, 3], "crs_onset_day": [3, None, 1], "crs_duration_days": [1, None, 4],
            "icans_max_grade": [1, 0, None], "icans_onset_day": [5, None, None], "icans_duration_days": [1, None, None],
            "crs_max_grade_derived": [1, 0, None], "icans_max_grade_derived": [0, 0, None],
            "received_tocilizumab": [True, False, True], "received_steroids": [True, False, False],
            "steroid_dex_equiv_mg_total": [10.0, 0.0, 0.0], "anakinra_doses_total": [0, 0, 0],
            "best_response_d100": ["CR", "NE", "CR"], "os_days": [400, 90, None], "os_event": [False, True, None],
            "pfs_days": [200, 90, None], "pfs_event": [True, True, None],
            "iec_hs_present": pd.array([None, None, True], dtype="boolean"),
        }
    ), ["default", "default", "rel"]),
    "marts.fct_biomarker_results": _studies(pd.DataFrame(
        {
            "measurement_id": ["m1", "m2", "m3", "m4", "m1"], "subject_id": ["S1", "S1", "S2", "S3", "S1"],
            "specimen": ["serum", "serum", "csf", "serum", "serum"],
            "analyte": ["IL6", "CRP", "WBC", "FERRITIN", "IL18"],
            "analyte_kind": ["cytokine", "lab", "csf_chemistry", "lab", "cytokine"],
            "collected_at": pd.to_datetime(["2023-01-19 08:00", "2023-01-23 08:00", "2023-01-30 09:00",
                                            "2023-02-02 10:00", None]),
            # the local date of a calendar study's sample (a date-only reading has it, no instant)
            "local_date": pd.to_datetime(["2023-01-19", "2023-01-23", "2023-01-30", "2023-02-02", None]),
            "study_day": [-1, 3, 5, None, 7.25], "value": [2.0, 35.0, 6.0, 400.0, 80.0],
            "unit": ["pg/mL", "mg/L", "/uL", "ng/mL", "pg/mL"],
            "censoring": ["below_lloq", "none", "none", "none", "none"],
            "analysis_value": [1.0, 35.0, 6.0, 400.0, 80.0],
            "substitution_rule": ["lloq_half_uloq"] * 5, "baseline_value": [1.0, None, None, None, None],
            "fold_change": [1.0, None, None, None, None],
            "delivery_sha256": ["a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64],
        }
    ), ["default"] * 4 + ["rel"]),
    "marts.fct_cytokine_kinetics": _studies(pd.DataFrame(
        {
            "subject_id": ["S1", "S2", "S1"], "specimen": ["serum", "csf", "serum"], "analyte": ["IL6", "IL6", "IL18"],
            "baseline_value": [1.0, None, None], "peak_value": [120.0, 30.0, 80.0], "peak_day": [3, 5, 28.75],
            "auc_d0_d14": [400.0, None, None], "peak_fold_change": [120.0, None, None], "n_samples": [6, 1, 1],
            "n_censored": [1, 0, 0],
        }
    ), ["default", "default", "rel"]),
    "marts.fct_toxicity_concordance": _studies(pd.DataFrame(
        {"subject_id": ["S1", "S1"], "study_day": [3, 5], "toxicity": ["CRS", "ICANS"],
         "adjudicated_grade": [2, 1], "derived_grade": [1, 0]}
    ), ["default"] * 2),
    "marts.agg_toxicity_rates": _toxicity_rates(),
    "marts.agg_response_rates": _response_rates(),
    "marts.agg_consort": _studies(pd.DataFrame(
        {"step_order": [1, 2, 3, 4, 5] * 2, "step": list(V.CONSORT_STEPS) * 2,
         "n_subjects": [3, 2, 1, 2, 2, 1, 1, 0, 1, 1]}
    ), ["default"] * 5 + ["rel"] * 5),
    "analysis.km_curves": _studies(pd.DataFrame(
        {
            "endpoint": ["OS", "OS", "OS", "PFS"], "group_by": ["overall", "overall", "disease", "overall"],
            "group_value": ["all", "all", "MCL", "all"], "time_days": [90.0, 400.0, 90.0, 90.0],
            "n_at_risk": [2, 1, 1, 2], "n_events": [1, 0, 1, 1], "n_censored": [0, 1, 0, 0],
            "survival": [0.5, 0.5, 0.0, 0.5], "ci_low": [0.006, 0.006, None, 0.006], "ci_high": [0.91, 0.91, None, 0.91],
        }
    ), ["default"] * 4),
    "analysis.km_summary": _studies(pd.DataFrame(
        {
            "endpoint": ["OS"] * 3 + ["PFS"] * 3 + ["OS"] * 2 + ["PFS"] * 2,
            "group_by": ["overall", "disease", "disease"] * 2 + ["overall", "disease"] * 2,
            "group_value": ["all", "LBCL", "MCL"] * 2 + ["all", "B-ALL"] * 2,
            "n_subjects": [2, 1, 1] * 2 + [0, 0] * 2, "n_events": [1, 0, 1, 2, 1, 1] + [0] * 4,
            "median_days": [90.0, None, 90.0, 90.0, 200.0, 90.0] + [None] * 4,
            "median_ci_low_days": [90.0, None, None, 90.0, None, None] + [None] * 4,
            "median_ci_high_days": [None] * 10, "survival_12mo": [0.5, 1.0, 0.0, 0.0, 0.0, 0.0] + [None] * 4,
        }
    ), ["default"] * 6 + ["rel"] * 4),
    "analysis.cytokine_curves": _studies(pd.DataFrame(
        {
            "specimen": ["serum", "serum", "csf", "serum"], "analyte": ["IL6", "IL6", "IL6", "IL18"],
            "group_by": ["ICANS", "ICANS", "ICANS", "IEC-HS"], "group": ["all", "all", "ICANS 3-4", "IEC-HS present"],
            "study_day": [0, 1, None, None], "n_obs": [12, 12, 1, 1], "fit_log10": [1.2, 1.5, None, None],
            "ci_low_log10": [0.9, 1.1, None, None], "ci_high_log10": [1.5, 1.9, None, None],
        }
    ), ["default"] * 3 + ["rel"]),
    "analysis.csf_pre_post": _studies(pd.DataFrame(
        {
            "analyte": ["WBC", "IL6"], "n_pre": [2, 1], "n_post": [2, 2], "n_paired": [2, 1],
            "median_pre": [2.0, 4.0], "q1_pre": [1.5, 4.0], "q3_pre": [2.5, 4.0], "median_post": [6.0, 30.0],
            "q1_post": [5.0, 20.0], "q3_post": [7.0, 40.0], "p_value": [0.18, None], "test": ["SR-MW", "SR-MW"],
        }
    ), ["default"] * 2),
}


def test_the_suites_cover_exactly_the_checked_tables():
    """schemas.gx_tables.CHECKED_TABLES is the one list: SUITES is built from it (a suite function
    per table), the Dagster checks are declared from it, and every table has a valid frame here."""
    from dagster_project.defs.quality.checks import gx_checks

    assert tuple(S.SUITES) == CHECKED_TABLES
    assert all(S.SUITES[t].__name__ == t.split(".")[1] for t in CHECKED_TABLES)
    assert set(VALID) == set(CHECKED_TABLES)
    checked = [spec.asset_key.to_user_string() for check in gx_checks for spec in check.check_specs]
    assert checked == [t.replace(".", "/") for t in CHECKED_TABLES]


def test_a_checked_table_without_a_suite_function_is_named():
    """A table listed without its suite function fails loudly, naming the table; a helper that
    happens to share the name (`columns`) is not taken for a suite."""
    with pytest.raises(LookupError, match=r"marts\.no_such_table, marts\.columns: schemas/gx_suites\.py needs"):
        S.suites_for(("marts.dim_subjects", "marts.no_such_table", "marts.columns"))


def test_loading_the_checks_imports_neither_great_expectations_nor_more_than_the_table_list():
    """The Dagster definitions read the table list without importing GX (slow), and the list and
    the mart vocabulary (read by the dbt Python models) import nothing at all."""
    code = (
        "import sys; before = set(sys.modules); import schemas.gx_tables, schemas.vocabulary; "
        "light = sorted(set(sys.modules) - before); import dagster_project.defs.quality.checks; "
        "print(repr((light, 'great_expectations' in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    light, gx_loaded = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    assert set(light) <= {"schemas", "schemas.gx_tables", "schemas.vocabulary"}, light
    assert not gx_loaded


def _spec_harmonized_units() -> dict[tuple[str, str], str]:
    """(specimen, analyte) -> unit of marts.md's "Harmonized units" ("CYTOKINE" for every cytokine)."""
    text = MARTS_SPEC.read_text()
    paragraph = text[text.index("Harmonized units:") + len("Harmonized units:"):].split("\n\n")[0]
    units = {}
    for item in " ".join(paragraph.split()).rstrip(".").split(";"):
        match = re.fullmatch(r"(CSF )?(cytokines|[A-Z][A-Z0-9]*(?:(?:, | and )[A-Z][A-Z0-9]*)*) (.+)", item.strip())
        assert match, item
        csf, analytes, unit = match.groups()
        if analytes == "cytokines":
            units.update({(specimen, S.SEED_CYTOKINE): unit for specimen in V.SPECIMENS})
            continue
        for analyte in re.split(r", | and ", analytes):
            units[("csf" if csf else "serum", analyte)] = unit
    return units


def test_harmonized_units_come_from_the_unit_seed_and_say_what_marts_md_says():
    """The units the suite checks are read from dbt/seeds/unit_conversions.csv (the one place a unit
    lives; no copy in gx_suites), and they are marts.md's."""
    from_suites = {(specimen, analyte): unit for specimen, analytes, unit in S.harmonized_units()
                   for analyte in analytes}
    from_suites.update({(specimen, S.SEED_CYTOKINE): S.cytokine_unit() for specimen in V.SPECIMENS})
    assert from_suites == _spec_harmonized_units()
    assert S.lab_analytes("csf") == ("WBC", "RBC", "PROTEIN", "GLUCOSE")
    assert not hasattr(S, "SERUM_LAB_UNITS") and not hasattr(S, "CSF_CHEMISTRY_UNITS")


@pytest.mark.parametrize("table", list(S.SUITES))
def test_suite_has_the_contract_kinds(table):
    kinds = S.kinds(S.SUITES[table](COHORT))
    # analysis.cytokine_curves has no size rule: its rows follow the days sampled, and a study
    # without cytokine measurements (the CDISC SDTM package) has none
    expected = {"columns", "not_null", "unique", "category", "range", "row_count"}
    if table == "analysis.cytokine_curves":
        expected.discard("row_count")
        assert "row_count" not in kinds
    assert expected <= kinds, kinds


def _first(expectations, kind):
    candidates = [e for e in expectations if (e.meta or {}).get("kind") == kind and getattr(e, "row_condition", None) is None]
    return candidates[0] if candidates else None


def break_frame(frame: pd.DataFrame, expectation) -> pd.DataFrame:
    """A copy of `frame` that breaks `expectation` (one row changed, or the size changed)."""
    broken = frame.copy().astype(object).where(frame.notna(), None)
    kind = expectation.meta["kind"]
    if kind == "range":
        column, low, high = expectation.column, expectation.min_value, expectation.max_value
        broken.loc[0, column] = (high + 1) if high is not None else (low - 1)
    elif kind == "category":
        column = getattr(expectation, "column", None) or expectation.column_A
        known = broken[column].dropna()
        numeric = len(known) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in known)
        broken.loc[0, column] = 999 if numeric else "not-in-the-contract"
    elif kind == "unique":
        columns = [expectation.column] if hasattr(expectation, "column") else list(expectation.column_list)
        for c in columns:
            broken.loc[0, c] = broken.loc[1, c]
    elif kind == "row_count":
        if hasattr(expectation, "value"):
            broken = broken.iloc[:-1]
        elif (expectation.min_value or 0) >= 1:
            broken = broken.iloc[0:0]
        else:
            copies = expectation.max_value // max(len(broken), 1) + 1
            broken = pd.concat([broken] * copies, ignore_index=True)
    elif kind == "not_null":
        broken.loc[0, expectation.column] = None
    else:  # pragma: no cover
        raise AssertionError(kind)
    return broken


@pytest.mark.parametrize("table", list(S.SUITES))
def test_suite_passes_on_valid_table_and_fails_on_each_kind_of_break(table):
    expectations = S.SUITES[table](COHORT)
    valid = check(S.suite_name(table), expectations, VALID[table])
    assert valid.success, valid.failures_markdown()

    broken_kinds = []
    for kind in KINDS:
        expectation = _first(expectations, kind)
        if expectation is None:
            continue
        result = check(S.suite_name(table), expectations, break_frame(VALID[table], expectation))
        assert not result.success, f"{table}: breaking {kind} went unnoticed"
        assert kind in {o.kind for o in result.failed}, f"{table} {kind}:\n{result.failures_markdown()}"
        broken_kinds.append(kind)
    assert broken_kinds == [k for k in KINDS if not (k == "row_count" and table == "analysis.cytokine_curves")]


def _subject_membership(table) -> bool:
    return any((e.meta or {}).get("kind") == "membership" and (e.meta or {}).get("column") == "subject_id"
               for e in S.SUITES[table](COHORT))


MEMBERSHIP_TABLES = [t for t in S.SUITES if _subject_membership(t)]


@pytest.mark.parametrize("table", MEMBERSHIP_TABLES)
def test_rows_of_a_subject_not_infused_or_unknown_fail_membership(table):
    """The facts keyed by infused subjects hold no one else: S3 is enrolled but not infused, S9
    is not in dim_subjects at all, and S2 is a subject of `default`, not of `rel` (a subject is
    (study_id, subject_id)). The rule joins to dim_subjects in DuckDB (no id list)."""
    assert set(MEMBERSHIP_TABLES) == {"marts.fct_toxicity_daily", "marts.fct_subject_endpoints",
                                      "marts.fct_cytokine_kinetics", "marts.fct_toxicity_concordance"}
    for study, outsider in (("default", "S3"), ("default", "S9"), ("rel", "S2")):
        broken = VALID[table].copy()
        broken.loc[0, ["study_id", "subject_id"]] = [study, outsider]
        result = check(S.suite_name(table), S.SUITES[table](COHORT), broken)
        failed = [o for o in result.failed if o.kind == "membership"]
        assert [o.target for o in failed] == ["subject_id"], result.failures_markdown()
        assert failed[0].observed == "1 rows unexpected"


@pytest.mark.parametrize("table", list(S.SUITES))
def test_study_id_is_first_known_and_not_null(table):
    expectations = S.SUITES[table](COHORT)
    frame = VALID[table]
    moved = frame[[*frame.columns[1:], "study_id"]]
    assert "columns" in {o.kind for o in check(S.suite_name(table), expectations, moved).failed}
    if table == "marts.dim_studies":
        return
    unknown = frame.assign(study_id="no-such-study")
    failed = check(S.suite_name(table), expectations, unknown).failed
    assert ("membership", "study_id") in {(o.kind, o.target) for o in failed}


def test_row_count_follows_the_cohort():
    """fct_toxicity_daily must hold every grid day of every infused subject: one more subject fails."""
    bigger = S.Cohort.from_dim_subjects(
        pd.concat([SUBJECTS, SUBJECTS.iloc[[0]].assign(subject_id="S4")], ignore_index=True), STUDIES
    )
    result = check("daily", S.fct_toxicity_daily(bigger), VALID["marts.fct_toxicity_daily"])
    failed = {o.kind for o in result.failed}
    assert "row_count" in failed
    first, last = S.daily_grid()
    assert (first, last) == (-5, 30)  # marts.md: the grid is days -5..30


def test_infused_subject_without_infusion_date_fails():
    """A calendar study's infused subject has an infusion date; a relative-time study's has none
    (it says `infused`), and a date there fails."""
    broken = SUBJECTS.copy()
    broken.loc[0, "infused_on"] = None
    result = check("dim", S.dim_subjects(COHORT), broken)
    assert [(o.kind, o.target) for o in result.failed] == [("not_null", "infused_on")]
    dated = SUBJECTS.copy()
    dated.loc[3, "infused_on"] = pd.Timestamp("2023-01-01").date()
    result = check("dim", S.dim_subjects(COHORT), dated)
    assert [(o.kind, o.target) for o in result.failed] == [("relative_time", "infused_on")]


def test_rate_rows_follow_each_study_own_groups_and_toxicities():
    """A study's rate rows are its own groups (not another study's product), its criteria, and
    IEC-HS by presence only (`any`)."""
    rates = VALID["marts.agg_toxicity_rates"]
    assert check("rates", S.agg_toxicity_rates(COHORT), rates).success
    assert set(rates.loc[rates["toxicity"] == "IEC-HS", "grade_category"]) == {"any"}
    assert set(rates.loc[rates["study_id"] == "rel", "criteria"]) == {"ASTCT2019", "Lee2014"}
    assert set(rates.loc[rates["study_id"] == "rel", "toxicity"]) == {"CRS", "IEC-HS"}  # no ICANS data
    borrowed = rates.copy()
    i = borrowed.index[(borrowed["study_id"] == "default") & (borrowed["group_value"] == "axi-cel")][0]
    borrowed.loc[i, "group_value"] = "CD22 CAR T"  # rel's product in default
    assert [(o.kind, o.target) for o in check("rates", S.agg_toxicity_rates(COHORT), borrowed).failed] == [
        ("grouping", "study_id, group_by, group_value")]
    graded = rates.copy()
    i = graded.index[graded["toxicity"] == "IEC-HS"][0]
    graded.loc[i, "grade_category"] = "grade_2"
    assert [(o.kind, o.target) for o in check("rates", S.agg_toxicity_rates(COHORT), graded).failed] == [
        ("grouping", "study_id, toxicity, criteria, grade_category")]
    responses = VALID["marts.agg_response_rates"]
    assert set(responses.loc[responses["study_id"] == "rel", "measure"]) >= {"CR_MRD_NEG", "CR_MRD_POS"}
    assert "CR_MRD_NEG" not in set(responses.loc[responses["study_id"] == "default", "measure"])


def test_each_study_curves_are_grouped_by_its_own_grouping():
    curves = VALID["analysis.cytokine_curves"].copy()
    curves.loc[3, "group_by"] = "ICANS"  # rel groups by IEC-HS (dim_studies.kinetics_group_by)
    failed = check("curves", S.cytokine_curves(COHORT), curves).failed
    assert [(o.kind, o.target) for o in failed] == [("grouping", "study_id, group_by")]


def test_rate_outside_its_interval_fails():
    rates = VALID["marts.agg_response_rates"].copy()
    rates.loc[0, "ci_high_pct"] = rates.loc[0, "pct"] - 1
    result = check("rates", S.agg_response_rates(COHORT), rates)
    assert {o.kind for o in result.failed} == {"order"}


def test_missing_contract_column_fails():
    result = check("consort", S.agg_consort(COHORT), VALID["marts.agg_consort"].drop(columns="n_subjects"))
    assert "columns" in {o.kind for o in result.failed}


def test_data_docs_are_built_beside_the_warehouse(tmp_path):
    settings = Settings.from_env({}, landing_dir=tmp_path / "landing", db_path=tmp_path / "data" / "warehouse.duckdb",
                                 serving_db_path=tmp_path / "data" / "serving.duckdb")
    folders = GxFolders(root=settings.gx_dir, docs=settings.data_docs_dir)
    table = "marts.agg_consort"
    ok = check(S.suite_name(table), S.agg_consort(COHORT), VALID[table], folders, run_name="run-1")
    broken = VALID[table].assign(n_subjects=[3, 9, 1, 2, 2, 1, 1, 0, 1, 1])
    bad = check(S.suite_name(table), S.agg_consort(COHORT), broken, folders, run_name="run-2")
    assert ok.success and not bad.success
    assert bad.data_docs_index == folders.index == tmp_path / "data" / "docs" / "index.html"
    assert folders.index.exists() and bad.validation_page is not None and bad.validation_page.exists()
    assert "marts__agg_consort" in folders.index.read_text()
    # GX's own files stay under <data dir>/gx; nothing else is written
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["docs", "gx"]
    assert not (folders.root / "great_expectations.yml").exists()
    assert len(list((folders.root / "validations").rglob("*.json"))) == 2


def test_unit_is_the_harmonized_one_of_its_specimen():
    """WBC is 10^9/L in serum and /uL in CSF (marts.md, Harmonized units)."""
    results = VALID["marts.fct_biomarker_results"].copy()
    results.loc[2, "unit"] = "10^9/L"  # the CSF WBC row in the serum unit
    result = check("results", S.fct_biomarker_results(COHORT), results)
    assert [(o.kind, o.target) for o in result.failed] == [("category", "unit")]
    results.loc[2, "unit"] = "/uL"
    results.loc[1, ["analyte", "unit"]] = ["WBC", "/uL"]  # a serum WBC in the CSF unit
    result = check("results", S.fct_biomarker_results(COHORT), results)
    assert [(o.kind, o.target) for o in result.failed] == [("category", "unit")]


def test_warehouse_table_is_validated_in_duckdb_and_the_file_is_released(tmp_path):
    """The production path: the suite runs as queries on a table of the warehouse file (nothing is
    loaded into Python), failures name the rows' rule, and every connection GX opened is closed,
    so the pipeline can write the file again at once."""
    import duckdb

    db_path = tmp_path / "warehouse.duckdb"
    base = VALID["marts.fct_biomarker_results"]
    big = pd.concat([base] * 300, ignore_index=True)
    big["measurement_id"] = [f"m{i}" for i in range(len(big))]  # m5, m7, m9: rows of `default`
    with duckdb.connect(str(db_path)) as con:
        con.execute("create schema marts")
        con.register("big", big)
        con.execute("create table marts.fct_biomarker_results as select * from big")
        con.register("studies", STUDIES)
        con.execute("create table marts.dim_studies as select * from studies")
    ok = run_suite("marts__fct_biomarker_results", S.fct_biomarker_results(COHORT), "marts.fct_biomarker_results", db_path)
    assert ok.success and ok.n_rows == len(big)
    with duckdb.connect(str(db_path)) as con:  # a writer: fails if GX still holds the file
        con.execute("update marts.fct_biomarker_results set censoring = 'unknown' where measurement_id = 'm5'")
        con.execute("update marts.fct_biomarker_results set specimen = null where measurement_id = 'm7'")
        con.execute("update marts.fct_biomarker_results set delivery_sha256 = 'abc' where measurement_id = 'm9'")
    bad = run_suite("marts__fct_biomarker_results", S.fct_biomarker_results(COHORT), "marts.fct_biomarker_results", db_path)
    assert {(o.kind, o.target) for o in bad.failed} == {
        ("category", "censoring"), ("not_null", "specimen"), ("category", "delivery_sha256")}
    assert "1 of" in next(o for o in bad.failed if o.target == "censoring").observed
    with duckdb.connect(str(db_path)) as con:
        con.execute("drop table marts.fct_biomarker_results")


def test_a_relation_without_its_warehouse_file_is_refused():
    with pytest.raises(ValueError, match="needs db_path"):
        run_suite("x", S.agg_consort(COHORT), "marts.agg_consort")
