"""The Great Expectations suites (schemas/gx_suites.py) run by dagster_project.lib.quality.gx_runner.

Each suite passes on a small valid table written by hand from marts.md, and fails on a copy
broken in one way of each kind (a value out of range, an unknown category, a duplicated key, a
wrong row count, a null key): the broken frame is derived from the suite's own first expectation
of that kind, and the failure must be reported by an expectation of that kind.
"""

from __future__ import annotations

import ast
import itertools
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

SUBJECTS = pd.DataFrame(
    {
        "subject_id": ["S1", "S2", "S3"],
        "site_id": ["site01", "site01", "site02"],
        "enrolled_on": pd.to_datetime(["2023-01-02", "2023-01-05", "2023-02-01"]).date,
        "age_years": [61, 70, 55],
        "sex": ["F", "M", "U"],
        "weight_kg": [70.0, 82.5, None],
        "disease": ["LBCL", "MCL", "LBCL"],
        "car_t_product": ["axi-cel", "brexu-cel", None],
        "infused_on": pd.to_datetime(["2023-01-20", "2023-01-25", None]).date,
        "is_infused": [True, True, False],
        "not_infused_reason": [None, None, "manufacturing failure"],
    }
)
COHORT = S.Cohort.from_dim_subjects(SUBJECTS)


def check(name: str, expectations, frame: pd.DataFrame, folders=None, run_name=None):
    """run_suite on a frame, with SUBJECTS as the marts.dim_subjects membership rules join to."""
    return run_suite(name, expectations, frame, run_name=run_name, companions={S.DIM_SUBJECTS: SUBJECTS},
                     folders=folders)


def _toxicity_daily() -> pd.DataFrame:
    first, last = S.daily_grid()
    rows = []
    for subject, day in itertools.product(COHORT.infused, range(first, last + 1)):
        assessed = 0 <= day <= 14
        rows.append(
            {
                "subject_id": subject, "study_day": day,
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


def _rates(categories: tuple[str, ...], category_column: str, keys: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    rows = []
    key_names = list(keys)
    for key_values in itertools.product(*keys.values()):
        for (group_by, group_value), category in itertools.product(COHORT.rate_groups, categories):
            total = 2 if group_by == "overall" else 1
            n = 1 if category in ("any", "grade_2", "ORR", "CR") else 0
            rows.append({**dict(zip(key_names, key_values)), "group_by": group_by, "group_value": group_value,
                         category_column: category, "n_subjects": n, "n_total": total, "pct": 100 * n / total,
                         "ci_low_pct": 0.0 if n == 0 else 1.26, "ci_high_pct": 84.2 if n == 0 else 100.0})
    return pd.DataFrame(rows)


VALID: dict[str, pd.DataFrame] = {
    "marts.dim_subjects": SUBJECTS,
    "marts.fct_toxicity_daily": _toxicity_daily(),
    "marts.fct_subject_endpoints": pd.DataFrame(
        {
            "subject_id": ["S1", "S2"], "car_t_product": ["axi-cel", "brexu-cel"], "disease": ["LBCL", "MCL"],
            "crs_max_grade": [2, 0], "crs_onset_day": [3, None], "crs_duration_days": [1, None],
            "icans_max_grade": [1, 0], "icans_onset_day": [5, None], "icans_duration_days": [1, None],
            "crs_max_grade_derived": [1, 0], "icans_max_grade_derived": [0, 0],
            "received_tocilizumab": [True, False], "received_steroids": [True, False],
            "steroid_dex_equiv_mg_total": [10.0, 0.0], "anakinra_doses_total": [0, 0],
            "best_response_d100": ["CR", "NE"], "os_days": [400, 90], "os_event": [False, True],
            "pfs_days": [200, 90], "pfs_event": [True, True],
        }
    ),
    "marts.fct_biomarker_results": pd.DataFrame(
        {
            "measurement_id": ["m1", "m2", "m3", "m4"], "subject_id": ["S1", "S1", "S2", "S3"],
            "specimen": ["serum", "serum", "csf", "serum"], "analyte": ["IL6", "CRP", "WBC", "FERRITIN"],
            "analyte_kind": ["cytokine", "lab", "csf_chemistry", "lab"],
            "collected_at": pd.to_datetime(["2023-01-19 08:00", "2023-01-23 08:00", "2023-01-30 09:00", "2023-02-02 10:00"]),
            "study_day": [-1, 3, 5, None], "value": [2.0, 35.0, 6.0, 400.0], "unit": ["pg/mL", "mg/L", "/uL", "ng/mL"],
            "censoring": ["below_lloq", "none", "none", "none"], "analysis_value": [1.0, 35.0, 6.0, 400.0],
            "substitution_rule": ["lloq_half_uloq"] * 4, "baseline_value": [1.0, None, None, None],
            "fold_change": [1.0, None, None, None], "delivery_sha256": ["a" * 64, "b" * 64, "c" * 64, "d" * 64],
        }
    ),
    "marts.fct_cytokine_kinetics": pd.DataFrame(
        {
            "subject_id": ["S1", "S2"], "specimen": ["serum", "csf"], "analyte": ["IL6", "IL6"],
            "baseline_value": [1.0, None], "peak_value": [120.0, 30.0], "peak_day": [3, 5],
            "auc_d0_d14": [400.0, None], "peak_fold_change": [120.0, None], "n_samples": [6, 1], "n_censored": [1, 0],
        }
    ),
    "marts.fct_toxicity_concordance": pd.DataFrame(
        {"subject_id": ["S1", "S1"], "study_day": [3, 5], "toxicity": ["CRS", "ICANS"],
         "adjudicated_grade": [2, 1], "derived_grade": [1, 0]}
    ),
    "marts.agg_toxicity_rates": _rates(V.GRADE_CATEGORIES, "grade_category", {"toxicity": V.TOXICITIES}),
    "marts.agg_response_rates": _rates(V.MEASURES, "measure", {}),
    "marts.agg_consort": pd.DataFrame(
        {"step_order": [1, 2, 3, 4, 5], "step": list(V.CONSORT_STEPS), "n_subjects": [3, 2, 1, 2, 2]}
    ),
    "analysis.km_curves": pd.DataFrame(
        {
            "endpoint": ["OS", "OS", "OS", "PFS"], "group_by": ["overall", "overall", "disease", "overall"],
            "group_value": ["all", "all", "MCL", "all"], "time_days": [90.0, 400.0, 90.0, 90.0],
            "n_at_risk": [2, 1, 1, 2], "n_events": [1, 0, 1, 1], "n_censored": [0, 1, 0, 0],
            "survival": [0.5, 0.5, 0.0, 0.5], "ci_low": [0.006, 0.006, None, 0.006], "ci_high": [0.91, 0.91, None, 0.91],
        }
    ),
    "analysis.km_summary": pd.DataFrame(
        {
            "endpoint": ["OS"] * 3 + ["PFS"] * 3, "group_by": ["overall", "disease", "disease"] * 2,
            "group_value": ["all", "LBCL", "MCL"] * 2, "n_subjects": [2, 1, 1] * 2, "n_events": [1, 0, 1, 2, 1, 1],
            "median_days": [90.0, None, 90.0, 90.0, 200.0, 90.0], "median_ci_low_days": [90.0, None, None, 90.0, None, None],
            "median_ci_high_days": [None] * 6, "survival_12mo": [0.5, 1.0, 0.0, 0.0, 0.0, 0.0],
        }
    ),
    "analysis.cytokine_curves": pd.DataFrame(
        {
            "specimen": ["serum", "serum", "csf"], "analyte": ["IL6", "IL6", "IL6"], "group": ["all", "all", "ICANS 3-4"],
            "study_day": [0, 1, None], "n_obs": [12, 12, 1], "fit_log10": [1.2, 1.5, None],
            "ci_low_log10": [0.9, 1.1, None], "ci_high_log10": [1.5, 1.9, None],
        }
    ),
    "analysis.csf_pre_post": pd.DataFrame(
        {
            "analyte": ["WBC", "IL6"], "n_pre": [2, 1], "n_post": [2, 2], "n_paired": [2, 1],
            "median_pre": [2.0, 4.0], "q1_pre": [1.5, 4.0], "q3_pre": [2.5, 4.0], "median_post": [6.0, 30.0],
            "q1_post": [5.0, 20.0], "q3_post": [7.0, 40.0], "p_value": [0.18, None], "test": ["SR-MW", "SR-MW"],
        }
    ),
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
    assert {"columns", "not_null", "unique", "category", "range", "row_count"} <= kinds, kinds


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
    assert broken_kinds == list(KINDS)


MEMBERSHIP_TABLES = [t for t in S.SUITES if "membership" in S.kinds(S.SUITES[t](COHORT))]


@pytest.mark.parametrize("table", MEMBERSHIP_TABLES)
def test_rows_of_a_subject_not_infused_or_unknown_fail_membership(table):
    """The facts keyed by infused subjects hold no one else: S3 is enrolled but not infused, S9
    is not in dim_subjects at all. The rule joins to dim_subjects in DuckDB (no id list)."""
    assert set(MEMBERSHIP_TABLES) == {"marts.fct_toxicity_daily", "marts.fct_subject_endpoints",
                                      "marts.fct_cytokine_kinetics", "marts.fct_toxicity_concordance"}
    for outsider in ("S3", "S9"):
        broken = VALID[table].copy()
        broken.loc[0, "subject_id"] = outsider
        result = check(S.suite_name(table), S.SUITES[table](COHORT), broken)
        failed = [o for o in result.failed if o.kind == "membership"]
        assert [o.target for o in failed] == ["subject_id"], result.failures_markdown()
        assert failed[0].observed == "1 rows unexpected"


def test_row_count_follows_the_cohort():
    """fct_toxicity_daily must hold every grid day of every infused subject: one more subject fails."""
    bigger = S.Cohort.from_dim_subjects(
        pd.concat([SUBJECTS, SUBJECTS.iloc[[0]].assign(subject_id="S4")], ignore_index=True)
    )
    result = check("daily", S.fct_toxicity_daily(bigger), VALID["marts.fct_toxicity_daily"])
    failed = {o.kind for o in result.failed}
    assert "row_count" in failed
    first, last = S.daily_grid()
    assert (first, last) == (-5, 30)  # marts.md: the grid is days -5..30


def test_infused_subject_without_infusion_date_fails():
    broken = SUBJECTS.copy()
    broken.loc[0, "infused_on"] = None
    result = check("dim", S.dim_subjects(COHORT), broken)
    assert [o.target for o in result.failed] == ["infused_on"]


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
    broken = VALID[table].assign(n_subjects=[3, 9, 1, 2, 2])
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
    big["measurement_id"] = [f"m{i}" for i in range(len(big))]
    with duckdb.connect(str(db_path)) as con:
        con.execute("create schema marts")
        con.register("big", big)
        con.execute("create table marts.fct_biomarker_results as select * from big")
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
