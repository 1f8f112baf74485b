"""Cytokine analyte codes and the normaliser that maps lab spellings onto them.

Contract (sources.md, "Cytokine analytes and results"): case and punctuation are not
significant (`IL-6`, `il6`); Greek letters map to their Latin initial (`IFN-γ` -> IFNG);
an analyte that does not map is quarantined, never guessed.
"""

from __future__ import annotations

import re

# The Bio-Plex Pro human 27-plex panel plus the CAR T markers, in the contract's order, then the
# markers contract v2 adds (studies-and-inputs.md); a study may declare more in its study.yml.
CYTOKINE_CODES: tuple[str, ...] = (
    "IL1B", "IL1RA", "IL2", "IL4", "IL5", "IL6", "IL7", "IL8", "IL9", "IL10", "IL12P70",
    "IL13", "IL15", "IL17A", "IFNG", "TNFA", "GMCSF", "GCSF", "MCP1", "MIP1A", "MIP1B",
    "IP10", "EOTAXIN", "FGFB", "PDGFBB", "RANTES", "VEGF", "SIL2RA",
    "IL18", "IL18BP", "IL1A", "CXCL9", "SGP130", "SIL6R", "STNFR1", "STNFR2", "GRANZYMEB", "PERFORIN",
)

# Greek letters and their spelled-out names collapse to the Latin initial used by the codes.
_GREEK = {"α": "A", "β": "B", "γ": "G", "ALPHA": "A", "BETA": "B", "GAMMA": "G"}

# Lab spellings that differ from the code by more than case and punctuation.
# Each entry is a well-known synonym on multiplex panels (Bio-Plex / Luminex product sheets).
_SYNONYMS = {
    "IL1RECEPTORANTAGONIST": "IL1RA",
    "IL12": "IL12P70",
    "CCL2": "MCP1",
    "CCL3": "MIP1A",
    "CCL4": "MIP1B",
    "CXCL10": "IP10",
    "CCL11": "EOTAXIN",
    "CCL5": "RANTES",
    "BASICFGF": "FGFB",
    "FGFBASIC": "FGFB",
    "PDGFBB": "PDGFBB",
    "IL2RA": "SIL2RA",
    "SIL2R": "SIL2RA",
    "SCD25": "SIL2RA",
    "IL8CXCL8": "IL8",
    "CXCL8": "IL8",
}

_CODES = frozenset(CYTOKINE_CODES)


def normalize_analyte(spelling: str | None, study_synonyms: dict[str, str] | None = None) -> str | None:
    """Return the contract code for a lab's spelling, or None when it does not map.

    `study_synonyms` (StudyConfig.analyte_synonyms: spelling key -> code) are the spellings a
    study declares; they are looked up before the Greek-letter rule, so a declared `MIP-alpha`
    wins over the rule (which would read it as MIPA, no code)."""
    if spelling is None:
        return None
    text = spelling.strip().upper()
    declared = study_synonyms or {}
    plain = re.sub(r"[^A-Z0-9]", "", text)
    if plain in declared:
        return declared[plain]
    for greek, latin in _GREEK.items():
        text = text.replace(greek.upper(), latin)
    key = re.sub(r"[^A-Z0-9]", "", text)
    if key in declared:
        return declared[key]
    if key in _CODES:
        return key
    return _SYNONYMS.get(key)
