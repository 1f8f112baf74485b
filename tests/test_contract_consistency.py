"""The contract written three times must say one thing: sources.md (the spec), the pandera
registry (schemas/contract.py) and the dbt project (natural keys of corrections)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from schemas.contract import SOURCES

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "sources.md"


def _spec_rows() -> dict[str, tuple[list[str], str]]:
    """source -> (natural key, column text) from the contract's tables."""
    rows = {}
    for line in SPEC.read_text().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|\s*([^|]+)\|\s*(.+)\|\s*$", line)
        if match:
            key = [k.strip() for k in match.group(2).split(",")]
            rows[match.group(1)] = (key, match.group(3))
    return rows


def test_registry_has_the_eleven_sources_of_the_spec():
    assert set(SOURCES) == set(_spec_rows())
    assert len(SOURCES) == 11


def test_natural_keys_match_the_spec_and_dbt():
    spec = _spec_rows()
    dbt_vars = yaml.safe_load((ROOT / "dbt" / "dbt_project.yml").read_text())["vars"]["natural_keys"]
    for name, source in SOURCES.items():
        assert list(source.natural_key) == spec[name][0], name
        assert dbt_vars[name] == list(source.natural_key), name


def test_every_spec_column_is_in_the_model():
    spec = _spec_rows()
    for name, source in SOURCES.items():
        text = spec[name][1]
        if text.strip().startswith("as `serum_cytokines`"):
            text = spec["serum_cytokines"][1]
        named = set(re.findall(r"(?:^|;\s*)([a-z_0-9]+)(?:,\s*[a-z_0-9]+)*\s*\(", text))
        named |= {n.strip() for group in re.findall(r"(?:^|;\s*)((?:[a-z_0-9]+,\s*)+[a-z_0-9]+)\s*\(", text) for n in group.split(",")}
        missing = named - set(source.columns)
        assert not missing, (name, missing)
