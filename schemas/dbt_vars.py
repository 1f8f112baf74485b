"""The derivation windows and grids dbt owns (`vars:` of dbt/dbt_project.yml), read by Python.

A window used by both a dbt model and a Python analysis or check (the baseline before
infusion, the toxicity window, the daily grid) is written once, as a dbt var; Python reads it
here, at call time. `window("baseline_window")` is `(baseline_window_first_day,
baseline_window_last_day)`, both edges included (derivations.md, "Windows").
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

DBT_PROJECT_FILE = Path(__file__).resolve().parents[1] / "dbt" / "dbt_project.yml"


@cache
def dbt_vars() -> dict:
    return yaml.safe_load(DBT_PROJECT_FILE.read_text())["vars"]


def window(name: str) -> tuple[int, int]:
    """(first day, last day) of the dbt vars `<name>_first_day` and `<name>_last_day`."""
    values = dbt_vars()
    return int(values[f"{name}_first_day"]), int(values[f"{name}_last_day"])
