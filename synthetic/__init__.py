"""Synthetic CAR T cohort generator: landing-folder deliveries plus a truth file.

Independent of the warehouse on purpose: it is the test oracle. It imports nothing from
dagster_project, schemas or stats (tests/test_settings.py checks), so a bug in the warehouse's
rules cannot hide by being repeated here; it writes what the contract says a site delivers and
a truth file of what the papers' numbers should come out as.

    from synthetic import generate
    truth = generate("park2023", Path("data/landing"), seed=20230703)

writes ``out_dir/<source>/<delivery file>.csv`` for the eleven sources of the source contract
(`/work/shared/spec/sources.md`), each file's modification time set to its delivery date at noon
UTC, and the truth JSON to `truth_path` (default ``out_dir.parent / "cohort_truth.json"``, outside
the landing folder). Output is byte-for-byte deterministic for a given profile, seed and size.

Profiles (one module each):

* ``park2023``  -- 34 enrolled / 31 infused, calibrated to Park et al. Nat Med 2023 (prophylactic
  anakinra), with planted dirt listed in the truth; see `park2023`.
* ``wehrli2022`` -- 14 subjects given anakinra for steroid-refractory ICANS (Wehrli et al. JITC
  2022); see `wehrli2022`.
* ``scale``     -- N subjects (default 1000) of the same shape for benchmarks, vectorised and
  written one delivery per source per 1,000 subjects; see `scale`.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_SEED = 20230703
PROFILES = ("park2023", "scale", "wehrli2022")


def generate(profile: str, out_dir: Path, seed: int = DEFAULT_SEED, subjects: int | None = None,
             truth_path: Path | None = None) -> dict:
    """Generate the `profile` cohort into `out_dir`; write and return the truth dict."""
    out_dir = Path(out_dir)
    if profile == "park2023":
        from . import park2023 as mod
    elif profile == "scale":
        from . import scale as mod
    elif profile == "wehrli2022":
        from . import wehrli2022 as mod
    else:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    truth = mod.generate(out_dir, seed, subjects)
    truth_path = Path(truth_path) if truth_path is not None else out_dir.parent / "cohort_truth.json"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.write_text(json.dumps(truth, indent=1, ensure_ascii=False, sort_keys=False) + "\n",
                          encoding="utf-8")
    return truth


__all__ = ["DEFAULT_SEED", "PROFILES", "generate"]
