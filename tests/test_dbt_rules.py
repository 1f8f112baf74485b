"""Orders the dbt project keeps in seeds must be the contract's (schemas/clinical.py): a rule lives
once in Python and once in a seed, and these tests keep the two equal.

- dbt/seeds/o2_devices.csv: the intensity order of oxygen devices, room_air first (marts.md,
  fct_toxicity_daily.o2_device_worst "in the order of the contract's list"), ranked from 0, as
  int_crs_grade_readings.o2_device_rank and its unit tests use it.
- dbt/seeds/response_ranks.csv: CR > PR > SD > PD (derivations.md, "Response"), 1 = best.
  schemas.clinical.RESPONSES lists the same four in that order, then NE, which is not ranked
  (a subject without a ranked response in the window is NE).
"""

from __future__ import annotations

import csv
from pathlib import Path

from schemas.clinical import O2_DEVICES, RESPONSES

SEEDS = Path(__file__).resolve().parents[1] / "dbt" / "seeds"


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
