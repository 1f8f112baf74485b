"""The contract written three times must say one thing: sources.md (the spec), the pandera
registry (schemas/contract.py) and the dbt project (natural keys of corrections); and the mart
categories of marts.md are schemas/vocabulary.py's, the one copy every reader imports."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import yaml

from dagster_project.lib.transform.project import dbt_vars
from schemas import clinical
from schemas import vocabulary as V
from schemas.contract import SOURCES

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "sources.md"
SPEC_V2 = ROOT.parent / "shared" / "spec" / "studies-and-inputs.md"


def _spec_rows() -> dict[str, tuple[list[str], str]]:
    """source -> (natural key, column text) from the contract's tables (v1 and v2's new sources)."""
    rows = {}
    for line in SPEC.read_text().splitlines() + SPEC_V2.read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|\s*([^|]+)\|\s*(.+)\|\s*$", line)
        if match:
            key = [k.strip() for k in match.group(2).split(",")]
            rows[match.group(1)] = (key, match.group(3))
    return rows


def test_registry_has_the_fourteen_sources_of_the_spec():
    assert set(SOURCES) == set(_spec_rows())
    assert len(SOURCES) == 11 + 3  # sources.md, plus samples, toxicity_summaries, subject_attributes (v2)


def test_natural_keys_match_the_spec_and_reach_dbt_only_from_the_contract():
    spec = _spec_rows()
    for name, source in SOURCES.items():
        assert list(source.natural_key) == spec[name][0], name
        # a dated key column is compared with its study day (one of the two is empty in a study)
        assert source.key_columns[: len(source.natural_key)] == source.natural_key
        assert set(source.key_columns[len(source.natural_key):]) <= {"study_day"}
    # dbt gets them as --vars (lib/transform/project.dbt_vars), never from a copy in
    # dbt_project.yml; per study (`_study_id` first)
    assert dbt_vars()["natural_keys"] == {name: ["_study_id", *s.key_columns, "_seq"] for name, s in SOURCES.items()}
    assert "natural_keys" not in yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]


def test_every_spec_column_is_in_the_model():
    spec = _spec_rows()
    for name, source in SOURCES.items():
        text = spec[name][1]
        if text.strip().startswith("as `serum_cytokines`"):
            text = spec["serum_cytokines"][1]
        text = text.replace("collected_at (datetime) or study_day", "collected_at (datetime); study_day (")
        named = set(re.findall(r"(?:^|;\s*)([a-z_0-9]+)(?:,\s*[a-z_0-9]+)*\s*\(", text))
        named |= {n.strip() for group in re.findall(r"(?:^|;\s*)((?:[a-z_0-9]+,\s*)+[a-z_0-9]+)\s*\(", text) for n in group.split(",")}
        missing = named - set(source.columns)
        assert not missing, (name, missing)


# ---- the mart categories: marts.md and schemas.vocabulary (read by every other place) ----------

MARTS_SPEC = ROOT.parent / "shared" / "spec" / "marts.md"


def _mart_columns(table: str) -> str:
    """The required-columns cell of a table's row in marts.md."""
    for line in MARTS_SPEC.read_text().splitlines():
        match = re.match(rf"\|\s*`{table}`\s*\|[^|]*\|\s*(.+)\|\s*$", line)
        if match:
            return match.group(1)
    raise AssertionError(f"{table} not in marts.md")


def _listed(table: str, column: str) -> str:
    """The parenthesis after a column in marts.md: `toxicity (`CRS`,`ICANS`)` -> "`CRS`,`ICANS`"."""
    match = re.search(rf"(?:^|,\s*){column} \(([^)]*)\)", _mart_columns(table))
    assert match, (table, column)
    return match.group(1)


def _values(table: str, column: str) -> tuple[str, ...]:
    """The backticked values of a column, `grade_0`..`grade_5` spelled out."""
    text = re.sub(r"`(\w+?)(\d+)`\.\.`\1(\d+)`",
                  lambda m: ",".join(f"`{m.group(1)}{k}`" for k in range(int(m.group(2)), int(m.group(3)) + 1)),
                  _listed(table, column))
    return tuple(re.findall(r"`([^`]+)`", text))


def test_mart_categories_are_the_vocabulary_of_marts_md():
    assert _values("agg_toxicity_rates", "toxicity") == V.TOXICITIES
    assert _values("fct_toxicity_concordance", "toxicity") == V.TOXICITIES
    assert _values("agg_toxicity_rates", "group_by") == V.RATE_GROUP_BYS
    assert _values("agg_response_rates", "group_by") == V.RATE_GROUP_BYS
    assert _values("agg_toxicity_rates", "group_value") == (V.OVERALL_VALUE,)  # `all` for overall
    assert V.RATE_GROUP_BYS[0] == V.OVERALL
    assert _values("agg_toxicity_rates", "grade_category") == V.GRADE_CATEGORIES
    assert _values("agg_response_rates", "measure") == V.MEASURES
    assert _values("agg_consort", "step") == V.CONSORT_STEPS
    assert _values("fct_biomarker_results", "specimen") == V.SPECIMENS
    assert _values("fct_biomarker_results", "censoring") == V.CENSORING
    assert _values("km_curves", "endpoint") == V.ENDPOINTS
    assert _values("km_curves", "group_by") == V.KM_GROUP_BYS
    assert _values("cytokine_curves", "group") == V.CURVE_GROUPS
    # the response codes of the source contract (sources.md) are the best responses of the marts
    response = re.search(r"response \(([^)]*)\)", _spec_rows()["response_assessments"][1]).group(1)
    assert tuple(re.findall(r"`([^`]+)`", response)) == V.RESPONSES == clinical.RESPONSES


def test_grade_categories_mean_what_marts_md_says():
    """`any` = >=1, `severe` = >=3, `grade_0`..`grade_5` = max grade exactly; a missing grade is in none."""
    spec = _listed("agg_toxicity_rates", "grade_category")
    at_least = {name: int(n) for name, n in re.findall(r"`(\w+)` = >=(\d+)", spec)}
    assert at_least == {"any": 1, "severe": 3}
    assert "= max grade exactly" in spec
    for category in V.GRADE_CATEGORIES:
        for grade in range(V.MIN_GRADE, V.MAX_GRADE + 1):
            expected = grade >= at_least[category] if category in at_least else grade == int(category.split("_")[1])
            assert V.in_grade_category(grade, category) == expected, (category, grade)
    # as the dbt model applies it: to a column of max grades, nulls included
    grades = pd.Series([0, 1, 3, 5, None], dtype="float64")
    assert V.in_grade_category(grades, "any").tolist() == [False, True, True, True, False]
    assert V.in_grade_category(grades, "severe").tolist() == [False, False, True, True, False]
    assert V.in_grade_category(grades, "grade_3").tolist() == [False, False, True, False, False]


def test_response_measures_count_the_best_responses_of_derivations_md():
    """ORR = CR or PR; every other measure is one best response (NE its own)."""
    assert V.RESPONSE_MEASURES == {"ORR": ("CR", "PR"), "CR": ("CR",), "PR": ("PR",), "SD": ("SD",),
                                   "PD": ("PD",), "NE": ("NE",)}


def test_dbt_python_models_read_the_vocabulary_and_nothing_of_the_orchestrator():
    """agg_toxicity_rates.py and agg_response_rates.py import only the dependency-free vocabulary
    and the statistics package; schemas.vocabulary itself imports nothing."""
    for path in sorted((ROOT / "dbt" / "models").rglob("*.py")):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert imported <= {"schemas.vocabulary", "stats.clopper_pearson"}, (path.name, imported)
    vocabulary = ast.parse((ROOT / "schemas" / "vocabulary.py").read_text())
    assert not [n for n in ast.walk(vocabulary) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in ast.walk(ast.parse((ROOT / "schemas" / "__init__.py").read_text()))
                if isinstance(n, (ast.Import, ast.ImportFrom))]
