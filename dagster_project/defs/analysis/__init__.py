"""Statistics assets on the marts (schema `analysis`): one module per analysis."""

from __future__ import annotations

import importlib
import pkgutil

import dagster as dg


def analysis_keys() -> list[dg.AssetKey]:
    """Keys of every asset declared by the modules of this package (the serving copy needs them)."""
    keys: list[dg.AssetKey] = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, dg.AssetsDefinition):
                keys.extend(value.keys)
    return sorted(set(keys), key=lambda k: k.to_user_string())
