"""Orders the dbt project keeps in seeds must be the contract's (schemas/clinical.py): a rule lives
once in Python and once in a seed, and these tests keep the two equal.

- dbt/seeds/o2_devices.csv: the intensity order of oxygen devices, room_air first (marts.md,
  fct_toxicity_daily.o2_device_worst "in the order of the contract's list"), ranked from 0, as
  int_crs_grade_readings.o2_device_rank and its unit tests use it.
- dbt/seeds/response_ranks.csv: CR > PR > SD > PD (derivations.md, "Response"), 1 = best.
  schemas.clinical.RESPONSES lists the same four in that order, then NE, which is not ranked
  (a subject without a ranked response in the window is NE).
- dbt/dbt_project.yml vars true_texts (a yes/no cell's "yes") and default_toxicity_criteria (a
  study without settings): schemas.clinical.TRUE_TEXTS and schemas.vocabulary.DEFAULT_TOXICITY_CRITERIA.
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from schemas.clinical import O2_DEVICES, RESPONSES

DBT_DIR = Path(__file__).resolve().parents[1] / "dbt"
SEEDS = DBT_DIR / "seeds"


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_o2_device_seed_equals_the_contract_order():
    rows = _seed("o2_devices")
    assert [(r["o2_device"], int(r["o2_device_rank"])) for r in rows] == [
        (device, rank) for rank, device in enumerate(O2_DEVICES)
    ]


def test_response_rank_seed_equals_the_contract_order():
    rows = _seed("response_ranks")
    assert RESPONSES[-1] == "NE"
    assert [(r["response"], int(r["response_rank"])) for r in rows] == [
        (response, rank) for rank, response in enumerate(RESPONSES[:-1], start=1)
    ]


def _project_vars() -> dict:
    return yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]


def test_true_texts_var_equals_the_contract():
    from schemas.clinical import TRUE_TEXTS

    assert tuple(_project_vars()["true_texts"]) == TRUE_TEXTS


def test_default_toxicity_criteria_var_equals_the_vocabulary():
    from schemas.vocabulary import DEFAULT_TOXICITY_CRITERIA

    assert _project_vars()["default_toxicity_criteria"] == DEFAULT_TOXICITY_CRITERIA


# ---- the categories dbt's accepted_values tests repeat -----------------------------------------
# A dbt data test has to spell its accepted values in yml; each list is one of the contract's
# vocabularies (schemas/), and this test holds every such list to the vocabulary it repeats.

# accepted_values_or_declared (dbt/tests/generic/): the contract's list, which a study may extend.
ACCEPTED_VALUES_TESTS = ("accepted_values", "accepted_values_or_declared")


def _accepted_values() -> list[tuple[str, str, list]]:
    found = []
    for path in sorted((DBT_DIR / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests") or []:
                    for name in ACCEPTED_VALUES_TESTS:
                        if isinstance(test, dict) and name in test:
                            found.append((model["name"], column["name"], test[name]["arguments"]["values"]))
    return found


def _vocabularies() -> dict[str, tuple]:
    from dagster_project.lib.ingest.studies import ADAPTER_FORMATS
    from schemas import clinical, lineage, serum, vocabulary
    from schemas.contract import SOURCES

    seed_units = {row["to_unit"] for row in csv.DictReader((DBT_DIR / "seeds" / "unit_conversions.csv").open())}
    derived_grades = tuple(range(vocabulary.MIN_GRADE, vocabulary.MAX_GRADE))  # signs never grade death
    return {
        # audit.deliveries: a contract file's source, or a foreign file's adapter
        "source": (*SOURCES, *ADAPTER_FORMATS), "status": ("loaded", "duplicate", "rejected"),
        "step": vocabulary.CONSORT_STEPS, "measure": (*vocabulary.MEASURES, *vocabulary.MRD_MEASURES),
        "group_by": vocabulary.RATE_GROUP_BYS,
        "toxicity": vocabulary.TOXICITIES, "summary_toxicity": vocabulary.SUMMARY_TOXICITIES,
        "criteria": vocabulary.TOXICITY_CRITERIA, "time_mode": vocabulary.TIME_MODES,
        "mrd": vocabulary.MRD_STATUSES, "endpoint_source": vocabulary.ENDPOINT_SOURCES,
        "grade_category": vocabulary.GRADE_CATEGORIES,
        "specimen": vocabulary.SPECIMENS, "analyte_kind": vocabulary.ANALYTE_KINDS,
        "censoring": vocabulary.CENSORING, "best_response_d100": vocabulary.RESPONSES,
        "disease": clinical.DISEASES, "sex": clinical.SEXES, "car_t_product": clinical.CAR_T_PRODUCTS,
        "o2_device_worst": clinical.O2_DEVICES, "test": tuple(serum.LAB_UNITS),
        "unit": tuple(seed_units),
        "adjudicated_grade": tuple(range(vocabulary.MIN_GRADE, vocabulary.MAX_GRADE + 1)),
        "crs_grade": tuple(range(vocabulary.MIN_GRADE, vocabulary.MAX_GRADE + 1)),
        "derived_grade": derived_grades,
        # ASTCT: hypotension and hypoxia alone start at grade 2 (derivations.md)
        "hypotension_grade": (0, *range(2, vocabulary.MAX_GRADE)),
        # audit.lineage: the tables of schemas/lineage.py that dbt writes edges for
        "target_table": lineage.DBT_TARGETS,
    }


def test_dbt_accepted_values_are_the_contract_vocabularies():
    vocab = _vocabularies()
    aliases = {"icans_grade": "crs_grade", "crs_max_grade": "crs_grade", "icans_max_grade": "crs_grade",
               "max_grade": "crs_grade", "grade_a": "crs_grade", "grade_b": "crs_grade",
               "crs_grade_derived": "derived_grade", "icans_grade_derived": "derived_grade",
               "crs_max_grade_derived": "derived_grade", "icans_max_grade_derived": "derived_grade",
               "hypoxia_grade": "hypotension_grade", "best_response_mrd": "mrd",
               "crs_endpoint_source": "endpoint_source", "icans_endpoint_source": "endpoint_source"}
    # Every toxicity column but the concordance's (adjudicated vs derived: CRS and ICANS only)
    # also takes IEC-HS (studies-and-inputs.md).
    summary_toxicity_models = {"stg_clinical__toxicity_summaries", "int_toxicity_max_grades", "agg_toxicity_rates",
                               "fct_toxicity_source_disagreements", "fct_toxicity_criteria_shift"}
    # int_*: ASTCT grades computed from signs (0..4); the adjudicated ones may be 5 (death).
    derived_models = {"int_crs_grade_readings", "int_crs_grade_daily", "int_icans_grade_assessments",
                      "int_icans_grade_daily"}
    mismatches = []
    for model, column, values in _accepted_values():
        name = aliases.get(column, column)
        if model in derived_models and name == "crs_grade":
            name = "derived_grade"
        if model in summary_toxicity_models and name == "toxicity":
            name = "summary_toxicity"
        if model.startswith("stg_") and column == "unit":
            assert set(values) <= set(vocab["unit"]), (model, column)
            continue
        assert name in vocab, f"{model}.{column}: accepted_values with no vocabulary named here; add it"
        if set(values) != set(vocab[name]):
            mismatches.append((model, column, values, vocab[name]))
    assert mismatches == []
