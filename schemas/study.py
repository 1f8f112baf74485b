"""`study.yml`: the one place a study is described (studies-and-inputs.md, "Studies").

Validated by pydantic when read: an unknown key, a wrong type or a value outside a vocabulary is
one `StudyFileError` naming the file and the key path (`cd22/study.yml: time_mode: ...`); that
study does not load and the others do (dagster_project/lib/ingest/studies.py). The README has a
complete, commented example; examples/studies/*/study.yml are the shipped ones.

Vocabularies are opened here, per study: `diseases` and `products` may name codes the contract
does not list (a CD22 CAR T of an academic trial has no brand name), and `analytes` maps a code
(new or known) to the spellings its lab writes. Criteria, time mode and the toxicities are closed
vocabularies (schemas/vocabulary.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schemas.vocabulary import (
    DEFAULT_TOXICITY_CRITERIA, RESPONSE_CRITERIA, STUDY_ID_PATTERN, SUMMARY_TOXICITIES, TIME_MODES,
    TOXICITY_CRITERIA,
)

STUDY_FILE = "study.yml"

TimeMode = Literal[TIME_MODES]  # type: ignore[valid-type]
ResponseCriteria = Literal[RESPONSE_CRITERIA]  # type: ignore[valid-type]
ToxicityCriteria = Literal[TOXICITY_CRITERIA]  # type: ignore[valid-type]


class StudyFileError(ValueError):
    """A study.yml that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MappedAdapter(_Strict):
    """Settings of the `mapped` adapter: the mapping file, relative to the study folder."""

    mapping: str = Field(min_length=1)


class SdtmAdapter(_Strict):
    """Settings of the `sdtm` adapter (issue 16): the EX treatment that is the cell infusion,
    the LBTESTCD -> contract test or analyte codes, and the RSTESTCD of the overall response.
    Every key is documented in dagster_project/lib/adapters/sdtm.py ("study.yml keys")."""

    # The EXTRT of the cell infusion (compared without case); infusion_from: ex reads the
    # subject's first EX record of it, dm reads DM.RFXSTDTC (the first study treatment).
    infusion_treatment: str | None = None
    infusion_from: Literal["ex", "dm"] = "ex"
    # subjects.car_t_product of an infused subject and subjects.disease of every DM subject:
    # SDTM has neither (a contract code or one the study declares in products / diseases).
    product: str | None = None
    disease: str | None = None
    # LBTESTCD -> contract serum_labs test or cytokine analyte. Empty: the adapter's defaults
    # (WBC, PLAT, NEUT, CRP, FERRITIN, LDH, FIBRINO, DDIMER, IL6); given: exactly these.
    lab_codes: dict[str, str] = Field(default_factory=dict)
    # AEDECOD -> toxicity, added to the defaults (Cytokine release syndrome -> CRS, Immune
    # effector cell-associated neurotoxicity syndrome -> ICANS); e.g. an IEC-HS term.
    ae_terms: dict[str, Literal[SUMMARY_TOXICITIES]] = Field(default_factory=dict)  # type: ignore[valid-type]
    aetoxgr_criteria: ToxicityCriteria = DEFAULT_TOXICITY_CRITERIA  # what AETOXGR grades by
    overall_response_test: str | None = None
    response_criteria: ResponseCriteria = "Lugano2014"  # of the overall response RS records

    @field_validator("lab_codes")
    @classmethod
    def _lab_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for testcd, code in value.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,7}", testcd):
                raise ValueError(f"{testcd!r} is not an LBTESTCD (letters, digits, _; at most 8)")
            if not re.fullmatch(r"[A-Z0-9]{2,20}", code):
                raise ValueError(f"{testcd}: {code!r} must be a contract test or analyte code "
                                 "(upper-case letters and digits)")
        return value


class BioplexAdapter(_Strict):
    """Settings of the `bioplex` adapter (dagster_project/lib/adapters/bioplex.py). A well's
    specimen label finds its subject, time and specimen through the study's `samples` manifest;
    these keys say what the manifest cannot."""

    # The plate's compartment: the records that are no specimen's result (standards, blanks,
    # controls, plate metadata, labels missing from the manifest) are counted under its source,
    # serum -> serum_cytokines, csf -> csf_cytokines. A result goes by its manifest specimen.
    specimen: Literal["serum", "csf"] = "serum"
    # A `plasma` specimen of the manifest feeds serum_cytokines only when the study says so (the
    # contract has no plasma source; serum and plasma differ for VEGF, PDGF-BB, RANTES); when
    # false its results are out of scope, counted with the reason.
    plasma_as_serum: bool = False


class Adapters(_Strict):
    mapped: MappedAdapter | None = None
    sdtm: SdtmAdapter | None = None
    bioplex: BioplexAdapter | None = None


class StudyConfig(_Strict):
    """A study's settings; every key optional but `title` (a contract-only study may have no file)."""

    title: str = Field(min_length=1, max_length=200)
    time_mode: TimeMode = "calendar"
    # IANA zone of the site's clock (calendar studies); default: WAREHOUSE_SITE_TIMEZONE.
    site_timezone: str | None = None
    diseases: tuple[str, ...] = ()  # codes the study uses beyond the contract's
    products: tuple[str, ...] = ()  # CAR T products beyond the contract's
    analytes: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # code -> spellings
    response_criteria: tuple[ResponseCriteria, ...] = ("Lugano2014",)
    # The first is the study's primary criteria: fct_subject_endpoints reports its grades.
    toxicity_criteria: tuple[ToxicityCriteria, ...] = (DEFAULT_TOXICITY_CRITERIA,)
    # What analysis.cytokine_curves groups subjects by: a toxicity (its max grade 0-2 / 3-4, or
    # present / absent for IEC-HS) or a subject attribute's value.
    kinetics_group_by: str = "ICANS"
    adapters: Adapters = Field(default_factory=Adapters)

    @field_validator("toxicity_criteria", "response_criteria")
    @classmethod
    def _not_empty(cls, value: tuple) -> tuple:
        if not value:
            raise ValueError("list at least one")
        if len(set(value)) != len(value):
            raise ValueError("a criteria is listed twice")
        return value

    @field_validator("site_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"not an IANA time zone: {value!r}") from exc
        return value

    @field_validator("analytes")
    @classmethod
    def _analyte_codes(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for code in value:
            if not re.fullmatch(r"[A-Z0-9]{2,20}", code):
                raise ValueError(f"analyte code {code!r} must be upper-case letters and digits")
        return value

    @field_validator("kinetics_group_by")
    @classmethod
    def _group_by(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name a toxicity or a subject attribute")
        return value

    @property
    def primary_toxicity_criteria(self) -> str:
        return self.toxicity_criteria[0]

    @property
    def groups_by_toxicity(self) -> bool:
        return self.kinetics_group_by in SUMMARY_TOXICITIES

    def analyte_synonyms(self) -> dict[str, str]:
        """Normalised spelling -> code, for the analyte normaliser (schemas/analytes.py)."""
        return {key: code for code, spellings in self.analytes.items()
                for key in (_spelling_key(s) for s in (code, *spellings))}


def _spelling_key(spelling: str) -> str:
    """The normaliser's comparison key of a spelling (case and punctuation dropped)."""
    return re.sub(r"[^A-Z0-9]", "", spelling.strip().upper())


def default_config(study_id: str) -> StudyConfig:
    """The settings of a study without a study.yml: calendar time, contract vocabularies."""
    return StudyConfig(title=study_id)


def valid_study_id(name: str) -> bool:
    return re.fullmatch(STUDY_ID_PATTERN, name) is not None


def _location(loc: tuple) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def read_study_file(path: Path, shown_as: str) -> StudyConfig:
    """Parse and validate one study.yml; `shown_as` is its name in messages (e.g. `cd22/study.yml`)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(f"{shown_as}: cannot be read ({exc})") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise StudyFileError(f"{shown_as}: not valid YAML{line}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StudyFileError(f"{shown_as}: expected a mapping of keys, got {type(data).__name__}")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as exc:
        # An unknown key first: a misspelt key also makes its correct spelling "missing".
        first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise StudyFileError(f"{shown_as}: {_location(first['loc'])}: {message}{more}") from None

