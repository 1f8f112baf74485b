"""The `sdtm` adapter: one CDISC SDTM domain file -> contract rows (studies-and-inputs.md, "Adapters").

A sponsor delivers SDTM as SAS transport (`.xpt`, version 5, read by pyreadstat) or CDISC
Dataset-JSON 1.1 (`.json`, or `.ndjson`: the metadata object on the first line, one row array per
line after it; read with the json module), one file per domain, into `<study>/sdtm/`.
`read_sdtm` turns ONE such file into text rows per contract source and accounts for every record:
mapped, out of scope (with a reason) or quarantined (with a rule). The rows then go through the
same validation as contract deliveries. The XPT and the Dataset-JSON of one domain give identical
contract rows (only `_locator`, which names the file, differs). Example study:
examples/studies/cdisc_msg/study.yml.

Reading
-------
- Variables are named in upper case. The domain is the file's DOMAIN column (one value; a file
  with several is rejected), else its dataset name (XPT member name, Dataset-JSON `name`), else
  the file's stem: a split dataset (`LBCH`) is its DOMAIN, a SUPPQUAL (`SUPPLB`) is not used.
- Every cell becomes trimmed text; blank is missing (SDTM has no "NA" convention, so "NA" is text).
  Numbers, from XPT or from a Dataset-JSON column typed integer / float / double / decimal (1.1
  writes decimals as strings), are written alike: rounded to 15 significant digits (an XPT number
  is an IBM hex float; its IEEE reading is off in the last bit, 4.99 -> 4.989999999999999), then
  a whole number without a decimal point (17.0 -> "17"), any other Python's shortest round-trip
  text ("4.99"). This is what makes XPT == JSON.
- Identifying variables are dropped on read, before anything looks at the rows: BRTHDTC (birth
  date), INVNAM (investigator's name), and every --REFID (specimen / accession identifiers beside
  dates). An XPT file is read without them (pyreadstat `usecols`). Their values are in no output,
  frame, locator or message.
- A file that cannot be read (not XPT, not JSON, not Dataset-JSON 1.1, rows not matching the
  columns, `records` not the number of rows) raises the ingest's `DeliveryRejected`; a study
  setting the file needs that is missing raises `SdtmError` (both: no rows from that file).
  Row-level problems never raise: they are quarantine rows.
- Calendar time only: SDTM dates every record (--DTC); its --DY counts from RFSTDTC without a day
  0, which is not the contract's study day (day 0 = infusion). `time_mode="relative"` raises
  `SdtmError` rather than shift days by a guess.

Records, locators, accounting
-----------------------------
A record is one row of the file x one output: DM has two outputs (subjects, outcomes), every other
domain one. `_row_number` is the row's position in the file (1 = first); `_locator` names the
file, the domain, the row and its sequence number: `cdisc_msg/sdtm/lb.xpt, LB record 17 (LBSEQ 17)`
(DM, which has no --SEQ: `..., DM record 3 (USUBJID CDISC003), outcomes`). records == mapped +
out_of_scope + quarantined (checked); a quarantined record has exactly one quarantine row (its
first problem). Out-of-scope and quarantine rows carry the contract source the record would feed
(LB: serum_labs, VS: vitals, AE: toxicity_summaries, CM: medications, RS: response_assessments,
DM: subjects / outcomes); a domain that feeds nothing (EX, DS, DD, MH, SV, TS, IE, SUPP--, any
other) is accounted under `subjects`, the part every foreign file registers.

The key: a record keeps its --SEQ (unique within a subject and a domain). Every frame has a
`_seq` column (the record's --SEQ as text, empty for DM). SDTM holds one row per test and may
hold several readings of a test at one time (positions, repeats), and VS gives one row per
measurement, so vitals (subject_id, recorded_at), serum_labs (subject_id, collected_at, test),
medications (subject_id, drug, administered_at) and response_assessments (subject_id,
assessed_on) rows collide on their contract keys: THE LOADER MUST ADD `_seq` TO THE NATURAL KEY
of these rows from this adapter (duplicates, corrections). serum_cytokines need no help (their
sample_id is `<USUBJID>-LB<LBSEQ>`); subjects, outcomes (one per DM row) and toxicity_summaries
(one per subject and toxicity, below) are unique on their own keys.

Dates (--DTC, ISO 8601)
-----------------------
- A full datetime (`2013-01-10T11:20`, seconds, fraction, `Z` or offset optional) -> the contract
  datetime text as given; in a date column (`*_on`), its date.
- A date with a time missing or incomplete (`2013-01-10`, `2013-01-10T11`) -> the date
  `YYYY-MM-DD`, also in datetime columns (a reading of that day, time unknown; the time is never
  completed). THE LOADER MUST ACCEPT A DATE-ONLY TEXT IN DATETIME COLUMNS (recorded_at,
  collected_at, administered_at) as such a reading.
- A coarser partial date (`2013-08`, `2013`, `2013---15`) where the contract needs the day ->
  quarantined, rule `partial_date`, value as given (never completed by a guess).
- Anything else (intervals, durations, free text) is passed as given: the contract's validation
  quarantines it; a missing date is left missing the same way.

Domains
-------
DM -> subjects and outcomes (one record each per row)
  subject_id  USUBJID: the only subject variable every domain carries (SUBJID is DM-only)
  site_id     SITEID
  enrolled_on RFICDTC, informed consent: a subject is enrolled when consent is signed; screening
              vitals and labs follow it (RFSTDTC, the first dose, would put them "before
              enrollment", which the ingest quarantines)
  age_years   AGE in AGEU YEARS (or blank); MONTHS / WEEKS / DAYS -> whole years; other AGEU
              quarantined (`unit_not_convertible`)
  sex         SEX (M, F, U; anything else is the validation's)
  disease     study.yml adapters.sdtm.disease (SDTM has no disease; required to read DM)
  infused_on  infusion_from: ex -> the first (earliest EXSTDTC, then lowest EXSEQ) EX record whose
              EXTRT is adapters.sdtm.infusion_treatment; the loader reads the study's EX file with
              `infusion_dates` and passes the result to read_sdtm for DM (`infusions`).
              infusion_from: dm -> RFXSTDTC (first study treatment), when the study says the
              first study treatment is the infusion. A partial date -> `partial_date`; an
              infusion record without EXSTDTC -> `infusion_without_date`.
  car_t_product adapters.sdtm.product for an infused subject (required to read DM), else empty
  not_infused_reason  ARMNRS when given (`SCREEN FAILURE`), else "no EX record of <treatment>" /
              "no RFXSTDTC"
  weight_kg   empty (VS WEIGHT is another file: see VS)
  outcomes:   died_on = DTHDTC (DTHFL Y without a date: quarantined, `death_without_date`);
              last_known_alive_on = RFPENDTC (end of participation: the last contact);
              progressed_on and death_cause empty (DD's cause and DS's disposition would each need
              to merge into this one row per subject; not read, see DS/DD).
EX -> nothing of its own: every record out of scope. infusion_from: ex -> the infusion record
  ("the infusion: DM reads its date into subjects.infused_on"), a later record of the infusion
  treatment, or another EXTRT ("EXTRT PLACEBO is not the infusion (ZANOMALINE)");
  infusion_from: dm -> "EX not used: the infusion date is DM RFXSTDTC (infusion_from: dm)".
VS -> vitals, one row per record (the other measurements empty)
  TEMP -> temperature_c (C as is; F converted, (F - 32) x 5/9 rounded to 0.01), SYSBP ->
  systolic_bp_mmhg (mmHg), OXYSAT -> spo2_pct (%); recorded_at = VSDTC. Any other VSTESTCD
  (DIABP, PULSE, WEIGHT, HEIGHT, ...) out of scope "VSTESTCD WEIGHT not mapped": vitals has no
  weight, and subjects.weight_kg would need DM's row.
LB -> serum_labs or serum_cytokines by LBTESTCD (adapters.sdtm.lab_codes, default
  WBC -> WBC, PLAT -> PLT, NEUT -> ANC, CRP, FERRITIN, LDH, FIBRINO -> FIBRINOGEN, DDIMER, IL6 ->
  the cytokine IL6): a target among the contract's serum_labs tests feeds serum_labs, any other
  code is a cytokine analyte (the study's analyte vocabulary validates it). Another LBTESTCD:
  out of scope "LBTESTCD ALB not mapped". LBSPEC other than blank, BLOOD, SERUM, PLASMA or WHOLE
  BLOOD (urine, CSF): out of scope.
  serum_labs: the standardised result (LBSTRESN, else LBSTRESC, with LBSTRESU) when it is a number
  in a unit of the test (spellings: 10^9/L = x10^9/L = GI/L, 10^3/uL = K/uL, U/L = IU/L, ...) or
  one converted to it (LDH ukat/L x 60), else the original (LBORRES, LBORRESU); a number in a
  contract unit is kept as delivered. Neither: quarantined, `censored_value` (`<5`: serum_labs
  has no censored value), `not_a_number` or `unit_not_allowed`.
  serum_cytokines: result = LBSTRESC, else LBORRES, as delivered (`<5`, `>5000`, `*12.1` stay the
  assay's censored / extrapolated texts), unit pg/mL or ng/mL (ng/L = pg/mL), else the original,
  else `unit_not_allowed`; sample_id `<USUBJID>-LB<LBSEQ>`; collected_at = LBDTC; lloq, uloq,
  plate_id, assay empty (LBORNRLO is a normal range, not a quantification limit).
  VSSTAT / LBSTAT / RSSTAT NOT DONE: out of scope "LBSTAT NOT DONE: no result"; a blank result
  otherwise: quarantined, `missing_result`.
AE -> toxicity_summaries for AEDECOD (AETERM when AEDECOD is blank) `Cytokine release syndrome`
  (CRS), `Immune effector cell-associated neurotoxicity syndrome` (ICANS) or a term of
  adapters.sdtm.ae_terms (compared without case). criteria = adapters.sdtm.aetoxgr_criteria
  (default ASTCT2019); present true (false when AEOCCUR is N); max_grade = AETOXGR (empty when
  the file has none; not 0..5: quarantined `invalid_grade`). One summary per subject and
  toxicity: the record of the highest grade (then lowest AESEQ) feeds it, the subject's other
  records of that toxicity are out of scope, naming it. onset_day / resolved_day empty (they
  need the infusion date, in DM / EX). Other AEs: out of scope "AEDECOD 'HEADACHE' not mapped"
  (AETERM, verbatim text, is never quoted). Absence of CRS is not asserted from AE.
CM -> medications for CMDECOD (CMTRT when blank) naming a contract drug: the name, its first
  word (before a space, comma, ; ( or /: HYDROCORTISONE, TOPICAL -> hydrocortisone) or a brand
  (ACTEMRA, SYLVANT, KINERET, DECADRON, SOLU-MEDROL, SOLU-CORTEF, KEPPRA). Other medications:
  out of scope "CMTRT 'ASPIRIN' not mapped" (the contract's medications are the CRS / ICANS
  interventions; `other` is for those a site reports, not every concomitant drug). CMOCCUR N:
  out of scope. administered_at = CMSTDTC; dose = CMDOSE; dose_unit CMDOSU (MG -> mg, MG/KG ->
  mg/kg, else as given); route CMROUTE (INTRAVENOUS -> IV, SUBCUTANEOUS -> SC, ORAL -> PO, else
  as given); indication from CMINDC (cytokine release syndrome / CRS -> crs; ICANS /
  neurotoxicity -> icans; containing PROPHYLAXIS -> prophylaxis; other text -> other; blank ->
  empty). The contract's validation quarantines what does not fit (TABLET, TOPICAL).
RS -> response_assessments only for the RSTESTCD that adapters.sdtm.overall_response_test names:
  response = RSSTRESC (CR, PR, SD, PD, NE), assessed_on = RSDTC, criteria =
  adapters.sdtm.response_criteria (RSEVAL is not filtered: with several evaluators, the loader's
  key with `_seq` keeps each evaluator's record). Every other RS record (all of them when the
  study names no overall response test: an RS of questionnaire items is not a tumour response)
  out of scope "RSTESTCD HAMD101 not mapped".
Any other domain (DS, DD, MH, SV, TS, IE, QS, SUPP--, ...): every record out of scope,
  "domain DS not used".

study.yml keys (adapters.sdtm; schemas/study.py SdtmAdapter)
------------------------------------------------------------
infusion_treatment   EXTRT of the cell infusion (needed to read DM and EX with infusion_from: ex)
infusion_from        ex (default) | dm
product, disease     subjects.car_t_product / subjects.disease (needed to read DM)
lab_codes            LBTESTCD -> contract test or analyte; empty = the defaults above
ae_terms             extra AEDECOD -> CRS | ICANS | IEC-HS
aetoxgr_criteria     ASTCT2019 (default) | Lee2014 | CTCAE5
overall_response_test  the RSTESTCD of the overall response; default none (RS not read)
response_criteria    Lugano2014 (default) | ALL-MRD | IMWG2016 | iwCLL2018

API
---
read_sdtm(path, file_name, config, time_mode="calendar", infusions=None) -> MappedFile
infusion_dates(path, file_name, config) -> {USUBJID: EXSTDTC of the infusion}   (an EX file)
read_dataset(path, file_name) -> SdtmDataset (domain, name, columns, rows as text dicts)
MappedFile (from mapped.py): rows (source -> text frame: the contract columns this adapter fills,
in contract order, then `_seq`, `_row_number`, `_locator`), out_of_scope (source, row_number,
locator, reason), quarantine (source, row_number, locator, column_name, rule, value), records,
data_rows (rows of the file).

Integration (the loader, dagster_project/lib/ingest/load.py, like the mapped files)
- add `_seq` to the natural key of vitals, serum_labs, medications, response_assessments rows;
- accept a date-only text in datetime columns as a reading of that day;
- infusion_from: ex: read the study's EX file with `infusion_dates` before DM and pass it as
  `infusions` (DM depends on EX's bytes: a new EX file must re-read DM, e.g. by putting the EX
  digest into the reader digest of the DM file);
- pass the study's time_mode (relative raises SdtmError: the file is rejected with the message);
- the study's `products` / `diseases` must declare adapters.sdtm.product / disease when they are
  not contract codes (the validation then accepts them).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dagster_project.lib.adapters.mapped import MappedFile
from dagster_project.lib.ingest.reader import DeliveryRejected
from schemas.clinical import DRUGS
from schemas.contract import SOURCES
from schemas.serum import CYTOKINE_UNITS, LAB_UNITS
from schemas.study import SdtmAdapter

XPT_SUFFIXES = (".xpt",)
JSON_SUFFIXES = (".json", ".ndjson")
SDTM = "sdtm"  # the adapter format: the folder <study>/sdtm/ (ingest.studies.ADAPTER_FORMATS)


class SdtmError(ValueError):
    """The study's settings do not let this file be read (a missing adapters.sdtm key, the EX
    dates DM needs, a relative-time study); names the file and the key."""


# ---- identifying variables -----------------------------------------------------------------------

IDENTIFYING_VARIABLES = ("BRTHDTC", "INVNAM")  # plus every --REFID


def is_identifying(name: str) -> bool:
    name = name.upper()
    return name in IDENTIFYING_VARIABLES or name.endswith("REFID")


# ---- reading one dataset -------------------------------------------------------------------------

@dataclass
class SdtmDataset:
    domain: str                         # DM, LB, ... (DOMAIN column, else dataset name)
    name: str                           # the dataset name as the file gives it
    columns: list[str]                  # upper case, identifying variables removed
    rows: list[dict[str, str | None]]   # cells as text (None = blank)


def _number_text(value: float) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    # 15 significant digits: an XPT number is an IBM hex float, whose conversion to IEEE leaves
    # the last bit off (4.99 reads as 4.989999999999999); SAS itself keeps 15 digits.
    value = float(f"{float(value):.15g}")
    return str(int(value)) if value.is_integer() else repr(value)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number_text(value)
    text = str(value).strip()
    return text or None


_NUMERIC_TYPES = ("integer", "float", "double", "decimal")


def _json_cell(value: Any, data_type: str) -> str | None:
    if data_type in _NUMERIC_TYPES and isinstance(value, str) and value.strip():
        try:
            return _number_text(float(value))
        except ValueError:
            return _cell(value)
    return _cell(value)


def _read_xpt(path: Path, file_name: str) -> tuple[str, list[str], list[dict[str, str | None]]]:
    import pyreadstat

    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        keep = [c for c in meta.column_names if not is_identifying(c)]
        frame, meta = pyreadstat.read_xport(str(path), usecols=keep, disable_datetime_conversion=True)
    except Exception as exc:  # pyreadstat raises its own types for a file that is not XPT
        raise DeliveryRejected(file_name, f"not a readable SAS transport file ({exc})") from exc
    columns = [c.upper() for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise DeliveryRejected(file_name, "two variables of one name")
    cells = [[_cell(v) for v in frame[c].tolist()] for c in frame.columns]
    rows = [dict(zip(columns, values)) for values in zip(*cells)] if cells else [{} for _ in range(len(frame))]
    return meta.table_name or "", columns, rows


def _read_json(path: Path, file_name: str) -> tuple[str, list[str], list[dict[str, str | None]]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise DeliveryRejected(file_name, f"cannot be read ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise DeliveryRejected(file_name, "not UTF-8 text") from exc
    try:
        if path.suffix.lower() == ".ndjson":
            lines = [line for line in text.splitlines() if line.strip()]
            if not lines:
                raise DeliveryRejected(file_name, "an empty NDJSON file")
            meta = json.loads(lines[0])
            data = [json.loads(line) for line in lines[1:]]
        else:
            meta = json.loads(text)
            data = meta.get("rows", []) if isinstance(meta, dict) else None
    except json.JSONDecodeError as exc:
        raise DeliveryRejected(file_name, f"not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(meta, dict) or not str(meta.get("datasetJSONVersion", "")).startswith("1.1"):
        raise DeliveryRejected(file_name, "not Dataset-JSON 1.1 (no datasetJSONVersion 1.1.x)")
    columns_meta = meta.get("columns")
    if not isinstance(columns_meta, list) or not all(isinstance(c, dict) and c.get("name") for c in columns_meta):
        raise DeliveryRejected(file_name, "Dataset-JSON without its columns")
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise DeliveryRejected(file_name, "Dataset-JSON rows are not arrays")
    names = [str(c["name"]).upper() for c in columns_meta]
    if len(set(names)) != len(names):
        raise DeliveryRejected(file_name, "two variables of one name")
    types = [str(c.get("dataType", "string")) for c in columns_meta]
    for number, row in enumerate(data, start=1):
        if len(row) != len(names):
            raise DeliveryRejected(file_name, f"row {number} has {len(row)} values for {len(names)} columns")
    if "records" in meta and meta["records"] != len(data):
        raise DeliveryRejected(file_name, f"says {meta['records']} records but holds {len(data)} rows")
    keep = [i for i, n in enumerate(names) if not is_identifying(n)]
    columns = [names[i] for i in keep]
    rows = [{names[i]: _json_cell(row[i], types[i]) for i in keep} for row in data]
    return str(meta.get("name") or ""), columns, rows


def read_dataset(path: Path, file_name: str) -> SdtmDataset:
    """One SDTM dataset as text rows, identifying variables dropped."""
    path = Path(path)
    if path.is_symlink():
        raise DeliveryRejected(file_name, "a symbolic link: not followed")
    if not path.is_file():
        raise DeliveryRejected(file_name, "not a file")
    suffix = path.suffix.lower()
    if suffix in XPT_SUFFIXES:
        name, columns, rows = _read_xpt(path, file_name)
    elif suffix in JSON_SUFFIXES:
        name, columns, rows = _read_json(path, file_name)
    else:
        raise DeliveryRejected(file_name, f"unsupported file type '{suffix}' (expected .xpt, .json or .ndjson)")
    domains = {r.get("DOMAIN") for r in rows} - {None}
    if len(domains) > 1:
        raise DeliveryRejected(file_name, f"several domains in one file ({', '.join(sorted(domains))})")
    domain = (next(iter(domains)) if domains else name or path.stem).upper()
    return SdtmDataset(domain, name, columns, rows)


# ---- dates ---------------------------------------------------------------------------------------

_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
_DAY_PARTIAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.\-]*")
_PARTIAL_DATE = re.compile(r"(?:\d{4}|-)(?:-(?:\d{2}|-)){0,2}(?:T[0-9:.\-]*)?")

PARTIAL_DATE = "partial_date"


def _dtc(text: str | None, kind: str) -> tuple[str | None, bool]:
    """(the contract text, partial?) of an ISO 8601 --DTC for a `date` or `datetime` column."""
    if text is None:
        return None, False
    if _FULL_DATE.fullmatch(text):
        return text, False
    if _DATETIME.fullmatch(text):
        return (text if kind == "datetime" else text[:10]), False
    if _DAY_PARTIAL_TIME.fullmatch(text):
        return text[:10], False
    if _PARTIAL_DATE.fullmatch(text) and any(ch.isdigit() for ch in text):
        return None, True
    return text, False  # not a date at all: the contract's validation says so


# ---- numbers and units ---------------------------------------------------------------------------

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CENSORED = re.compile(r"\s*(?:[<>]=?|OOR\s*[<>])\s*.*", re.IGNORECASE)


def _number(text: str | None) -> float | None:
    return float(text) if text is not None and _NUMBER.fullmatch(text) else None


def _unit_key(unit: str | None) -> str:
    return re.sub(r"\s+", "", (unit or "").replace("µ", "u").replace("μ", "u")).lower()


# Spellings of the contract's lab units (compared without case, spaces, µ).
_UNIT_SPELLINGS: dict[str, str] = {}
for _unit, _spellings in {
    "10^9/L": ("10^9/l", "10*9/l", "10e9/l", "x10^9/l", "x10e9/l", "10**9/l", "gi/l", "10^9cells/l"),
    "10^3/uL": ("10^3/ul", "10*3/ul", "10e3/ul", "x10^3/ul", "k/ul", "thou/ul", "10^3/mm3", "10*3/mm3"),
    "/uL": ("/ul", "cells/ul", "/mm3", "cells/mm3"),
    "mg/L": ("mg/l",), "mg/dL": ("mg/dl",), "ng/mL": ("ng/ml",), "ug/L": ("ug/l", "mcg/l"),
    "U/L": ("u/l", "iu/l"), "g/L": ("g/l",), "ukat/L": ("ukat/l",),
    "ug/mL FEU": ("ug/mlfeu", "mg/lfeu"), "ng/mL FEU": ("ng/mlfeu", "ug/lfeu"),
    "pg/mL": ("pg/ml", "ng/l"),
}.items():
    _UNIT_SPELLINGS.update(dict.fromkeys(_spellings, _unit))
# (test, unit) -> (contract unit, factor): units a test's contract units do not list.
_LAB_CONVERSIONS = {("LDH", "ukat/L"): ("U/L", 60.0)}

_VITAL_UNITS: dict[str, dict[str, Callable[[float], float] | None]] = {
    # None: the number as delivered; a function: converted (rounded to 0.01).
    "temperature_c": {**dict.fromkeys(("c", "degc", "°c", "[degc]", "celsius", "cel"), None),
                      **dict.fromkeys(("f", "degf", "°f", "[degf]", "fahrenheit"), lambda f: (f - 32) * 5 / 9)},
    "systolic_bp_mmhg": dict.fromkeys(("mmhg", "mm[hg]"), None),
    "spo2_pct": dict.fromkeys(("%",), None),
}
VITAL_TESTS = {"TEMP": "temperature_c", "SYSBP": "systolic_bp_mmhg", "OXYSAT": "spo2_pct"}

DEFAULT_LAB_CODES = {"WBC": "WBC", "PLAT": "PLT", "NEUT": "ANC", "CRP": "CRP", "FERRITIN": "FERRITIN",
                     "LDH": "LDH", "FIBRINO": "FIBRINOGEN", "DDIMER": "DDIMER", "IL6": "IL6"}
BLOOD_SPECIMENS = ("BLOOD", "SERUM", "PLASMA", "WHOLE BLOOD", "SERUM OR PLASMA")

DEFAULT_AE_TERMS = {"cytokine release syndrome": "CRS",
                    "immune effector cell-associated neurotoxicity syndrome": "ICANS"}

_DRUG_BRANDS = {"actemra": "tocilizumab", "roactemra": "tocilizumab", "sylvant": "siltuximab",
                "kineret": "anakinra", "decadron": "dexamethasone", "solu-medrol": "methylprednisolone",
                "medrol": "methylprednisolone", "solu-cortef": "hydrocortisone", "keppra": "levetiracetam"}
_ROUTES = {"INTRAVENOUS": "IV", "IV": "IV", "SUBCUTANEOUS": "SC", "SC": "SC", "ORAL": "PO", "PO": "PO"}
_DOSE_UNITS = {"mg": "mg", "mg/kg": "mg/kg"}


def _fmt(value: float) -> str:
    return _number_text(round(value, 2))


# ---- records -------------------------------------------------------------------------------------

@dataclass
class _Out:
    """One record's fate: a row of `source`, or out of scope (reason), or quarantined (rule)."""

    source: str
    row: dict[str, str | None] | None = None
    reason: str | None = None
    rule: tuple[str, str, str | None] | None = None  # (column_name, rule, value)


def _row(source: str, **values: str | None) -> _Out:
    return _Out(source, row=values)


def _skip(source: str, reason: str) -> _Out:
    return _Out(source, reason=reason)


def _bad(source: str, column: str, rule: str, value: str | None) -> _Out:
    return _Out(source, rule=(column, rule, value))


@dataclass
class _Context:
    file_name: str
    domain: str
    config: SdtmAdapter
    infusions: Mapping[str, str | None] | None
    notes: dict[int, _Out] = field(default_factory=dict)  # per-file decisions (AE, EX), by row index


def _not_done(rec: dict, domain: str, source: str) -> _Out | None:
    if (rec.get(f"{domain}STAT") or "").upper() == "NOT DONE":
        return _skip(source, f"{domain}STAT NOT DONE: no result")
    return None


# ---- DM ------------------------------------------------------------------------------------------

_AGE_UNITS = {"YEARS": 1.0, "MONTHS": 12.0, "WEEKS": 52.1775, "DAYS": 365.25}


def _dm(rec: dict, ctx: _Context) -> list[_Out]:
    cfg = ctx.config
    subject = rec.get("USUBJID")
    # subjects
    subjects: _Out
    enrolled, partial = _dtc(rec.get("RFICDTC"), "date")
    age, age_problem = rec.get("AGE"), None
    unit = (rec.get("AGEU") or "YEARS").upper()
    if age is not None:
        if unit not in _AGE_UNITS:
            age_problem = ("AGEU", "unit_not_convertible", rec.get("AGEU"))
        elif unit != "YEARS" and _number(age) is not None:
            age = str(int(_number(age) // _AGE_UNITS[unit]))
    undated = False
    if cfg.infusion_from == "ex":
        infusions = ctx.infusions or {}
        infusion_text, infusion_column = infusions.get(subject), "EXSTDTC"
        undated = subject in infusions and infusion_text is None
        absent = f"no EX record of {cfg.infusion_treatment}"
    else:
        infusion_text, infusion_column, absent = rec.get("RFXSTDTC"), "RFXSTDTC", "no RFXSTDTC"
    infused, infusion_partial = _dtc(infusion_text, "date")
    if partial:
        subjects = _bad("subjects", "RFICDTC", PARTIAL_DATE, rec.get("RFICDTC"))
    elif infusion_partial:
        subjects = _bad("subjects", infusion_column, PARTIAL_DATE, infusion_text)
    elif undated:
        subjects = _bad("subjects", "EXSTDTC", "infusion_without_date", None)
    elif age_problem:
        subjects = _bad("subjects", *age_problem)
    else:
        subjects = _row("subjects", subject_id=subject, site_id=rec.get("SITEID"), enrolled_on=enrolled,
                        age_years=age, sex=rec.get("SEX"), disease=cfg.disease,
                        car_t_product=cfg.product if infused else None, infused_on=infused,
                        not_infused_reason=None if infused else (rec.get("ARMNRS") or absent))
    # outcomes
    died, died_partial = _dtc(rec.get("DTHDTC"), "date")
    alive, alive_partial = _dtc(rec.get("RFPENDTC"), "date")
    if died_partial:
        outcomes = _bad("outcomes", "DTHDTC", PARTIAL_DATE, rec.get("DTHDTC"))
    elif (rec.get("DTHFL") or "").upper() == "Y" and died is None:
        outcomes = _bad("outcomes", "DTHDTC", "death_without_date", None)
    elif alive_partial:
        outcomes = _bad("outcomes", "RFPENDTC", PARTIAL_DATE, rec.get("RFPENDTC"))
    else:
        outcomes = _row("outcomes", subject_id=subject, died_on=died, last_known_alive_on=alive)
    return [subjects, outcomes]


# ---- EX ------------------------------------------------------------------------------------------

def _first_infusions(rows: list[dict], treatment: str | None) -> dict[str, int]:
    """USUBJID -> index of its infusion record: the earliest EXSTDTC (then lowest EXSEQ) whose
    EXTRT is the treatment. Dates compare as ISO text (a partial date sorts first and is then
    quarantined by DM: the first exposure is not known to the day)."""
    if not treatment:
        return {}
    wanted = treatment.strip().casefold()
    best: dict[str, tuple] = {}
    for i, rec in enumerate(rows):
        if (rec.get("EXTRT") or "").casefold() != wanted or rec.get("USUBJID") is None:
            continue
        key = (rec.get("EXSTDTC") is None, rec.get("EXSTDTC") or "", _number(rec.get("EXSEQ")) or math.inf, i)
        if rec["USUBJID"] not in best or key < best[rec["USUBJID"]]:
            best[rec["USUBJID"]] = key
    return {subject: key[-1] for subject, key in best.items()}


def _need_infusion_treatment(config: SdtmAdapter, file_name: str) -> None:
    if config.infusion_from == "ex" and not config.infusion_treatment:
        raise SdtmError(f"{file_name}: adapters.sdtm.infusion_treatment: name the EXTRT of the cell infusion "
                        "(or set infusion_from: dm)")


def infusion_dates(path: Path, file_name: str, config: SdtmAdapter) -> dict[str, str | None]:
    """USUBJID -> EXSTDTC of the subject's infusion record (None: the record has no date), from
    the study's EX file (infusion_from: ex). What read_sdtm needs, as `infusions`, to read DM."""
    _need_infusion_treatment(config, file_name)
    data = read_dataset(path, file_name)
    if data.domain != "EX":
        raise SdtmError(f"{file_name}: domain {data.domain}, not EX: it gives no infusion dates")
    first = _first_infusions(data.rows, config.infusion_treatment)
    return {subject: data.rows[i].get("EXSTDTC") for subject, i in first.items()}


def _ex_notes(rows: list[dict], ctx: _Context) -> None:
    cfg = ctx.config
    if cfg.infusion_from == "dm":
        for i in range(len(rows)):
            ctx.notes[i] = _skip("subjects", "EX not used: the infusion date is DM RFXSTDTC (infusion_from: dm)")
        return
    first = _first_infusions(rows, cfg.infusion_treatment)
    chosen = set(first.values())
    wanted = cfg.infusion_treatment.strip().casefold()
    for i, rec in enumerate(rows):
        if i in chosen:
            reason = "the infusion: DM reads its date into subjects.infused_on"
        elif (rec.get("EXTRT") or "").casefold() == wanted and rec.get("USUBJID") is not None:
            reason = f"a later EX record of {cfg.infusion_treatment}: the infusion is the subject's first"
        else:
            reason = f"EXTRT {rec.get('EXTRT')} is not the infusion ({cfg.infusion_treatment})"
        ctx.notes[i] = _skip("subjects", reason)


# ---- VS ------------------------------------------------------------------------------------------

def _vs(rec: dict, ctx: _Context) -> list[_Out]:
    code = (rec.get("VSTESTCD") or "").upper()
    target = VITAL_TESTS.get(code)
    if target is None:
        return [_skip("vitals", f"VSTESTCD {code or '(blank)'} not mapped")]
    done = _not_done(rec, "VS", "vitals")
    if done:
        return [done]
    candidates = [c for c in ((_first(rec, "VSSTRESN", "VSSTRESC"), rec.get("VSSTRESU"), "VSSTRESC", "VSSTRESU"),
                              (rec.get("VSORRES"), rec.get("VSORRESU"), "VSORRES", "VSORRESU"))
                  if c[0] is not None]
    if not candidates:
        return [_bad("vitals", "VSORRES", "missing_result", None)]
    units = _VITAL_UNITS[target]
    value = None
    for text, unit, *_ in candidates:
        number = _number(text)
        if number is not None and _unit_key(unit) in units:
            convert = units[_unit_key(unit)]
            value = text if convert is None else _fmt(convert(number))
            break
    if value is None:
        text, unit, column, unit_column = candidates[0]
        if _number(text) is None:
            return [_bad("vitals", column, "not_a_number", text)]
        return [_bad("vitals", unit_column, "unit_not_allowed", unit)]
    recorded, partial = _dtc(rec.get("VSDTC"), "datetime")
    if partial:
        return [_bad("vitals", "VSDTC", PARTIAL_DATE, rec.get("VSDTC"))]
    return [_row("vitals", subject_id=rec.get("USUBJID"), recorded_at=recorded, **{target: value})]


def _first(rec: dict, *names: str) -> str | None:
    return next((rec[n] for n in names if rec.get(n) is not None), None)


# ---- LB ------------------------------------------------------------------------------------------

def _lab_codes(config: SdtmAdapter) -> dict[str, str]:
    codes = config.lab_codes or DEFAULT_LAB_CODES
    return {k.upper(): v for k, v in codes.items()}


def _lb(rec: dict, ctx: _Context) -> list[_Out]:
    code = (rec.get("LBTESTCD") or "").upper()
    target = _lab_codes(ctx.config).get(code)
    if target is None:
        return [_skip("serum_labs", f"LBTESTCD {code or '(blank)'} not mapped")]
    source = "serum_labs" if target in LAB_UNITS else "serum_cytokines"
    specimen = (rec.get("LBSPEC") or "").upper()
    if specimen and specimen not in BLOOD_SPECIMENS:
        return [_skip(source, f"LBSPEC {specimen}: not a blood specimen")]
    done = _not_done(rec, "LB", source)
    if done:
        return [done]
    collected, partial = _dtc(rec.get("LBDTC"), "datetime")
    standard = (_first(rec, "LBSTRESN", "LBSTRESC"), rec.get("LBSTRESU"), "LBSTRESC", "LBSTRESU")
    original = (rec.get("LBORRES"), rec.get("LBORRESU"), "LBORRES", "LBORRESU")
    candidates = [c for c in (standard, original) if c[0] is not None]
    if not candidates:
        return [_bad(source, "LBORRES", "missing_result", None)]
    subject = rec.get("USUBJID")
    if source == "serum_cytokines":
        chosen = next(((text, _UNIT_SPELLINGS[_unit_key(unit)]) for text, unit, *_ in candidates
                       if _UNIT_SPELLINGS.get(_unit_key(unit)) in CYTOKINE_UNITS), None)
        if chosen is None:
            return [_bad(source, candidates[0][3], "unit_not_allowed", candidates[0][1])]
        if partial:
            return [_bad(source, "LBDTC", PARTIAL_DATE, rec.get("LBDTC"))]
        seq = rec.get("LBSEQ")
        return [_row(source, sample_id=f"{subject}-LB{seq}" if subject and seq else None, subject_id=subject,
                     collected_at=collected, analyte=target, result=chosen[0], unit=chosen[1])]
    for text, unit, *_ in candidates:
        number = _number(text)
        canonical = _UNIT_SPELLINGS.get(_unit_key(unit))
        if number is None or canonical is None:
            continue
        if canonical in LAB_UNITS[target]:
            value, unit_out = text, canonical
        elif (target, canonical) in _LAB_CONVERSIONS:
            unit_out, factor = _LAB_CONVERSIONS[(target, canonical)]
            value = _fmt(number * factor)
        else:
            continue
        if partial:
            return [_bad(source, "LBDTC", PARTIAL_DATE, rec.get("LBDTC"))]
        return [_row(source, subject_id=subject, collected_at=collected, test=target, value=value, unit=unit_out)]
    text, unit, column, unit_column = candidates[0]
    if _CENSORED.fullmatch(text):
        return [_bad(source, column, "censored_value", text)]
    if _number(text) is None:
        return [_bad(source, column, "not_a_number", text)]
    return [_bad(source, unit_column, "unit_not_allowed", unit)]


# ---- AE ------------------------------------------------------------------------------------------

def _ae_term(rec: dict, ctx: _Context) -> str | None:
    terms = {**DEFAULT_AE_TERMS, **{k.strip().casefold(): v for k, v in ctx.config.ae_terms.items()}}
    term = rec.get("AEDECOD") or rec.get("AETERM")
    return terms.get(term.casefold()) if term else None


def _grade(rec: dict) -> int | None:
    text = rec.get("AETOXGR")
    number = _number(text)
    return int(number) if number is not None and number.is_integer() and 0 <= number <= 5 else None


def _ae_notes(rows: list[dict], ctx: _Context) -> None:
    """One summary per (subject, toxicity): the record of the highest grade (then lowest AESEQ)
    feeds it, the subject's other records of that toxicity are out of scope."""
    groups: dict[tuple, list[int]] = {}
    for i, rec in enumerate(rows):
        toxicity = _ae_term(rec, ctx)
        if toxicity is None:
            continue
        if rec.get("AETOXGR") is not None and _grade(rec) is None:
            ctx.notes[i] = _bad("toxicity_summaries", "AETOXGR", "invalid_grade", rec.get("AETOXGR"))
            continue
        groups.setdefault((rec.get("USUBJID"), toxicity), []).append(i)
    for (subject, toxicity), members in groups.items():
        occurred = [i for i in members if (rows[i].get("AEOCCUR") or "").upper() != "N"]
        pool = occurred or members

        def rank(i: int) -> tuple:
            grade = _grade(rows[i])
            return (-(grade if grade is not None else -1), _number(rows[i].get("AESEQ")) or math.inf, i)

        chosen = min(pool, key=rank)
        grade = _grade(rows[chosen]) if occurred else None
        ctx.notes[chosen] = _row("toxicity_summaries", subject_id=subject, toxicity=toxicity,
                                 criteria=ctx.config.aetoxgr_criteria, present="true" if occurred else "false",
                                 max_grade=None if grade is None else str(grade))
        seq = rows[chosen].get("AESEQ")
        for i in members:
            if i != chosen:
                ctx.notes[i] = _skip("toxicity_summaries",
                                     f"another {toxicity} record of {subject}: the summary is AESEQ {seq}")


def _ae(rec: dict, ctx: _Context) -> list[_Out]:
    decod = rec.get("AEDECOD")
    reason = f"AEDECOD {decod!r} not mapped" if decod else "AEDECOD blank and AETERM not a mapped term"
    return [_skip("toxicity_summaries", reason)]


# ---- CM ------------------------------------------------------------------------------------------

def _drug(name: str) -> str | None:
    text = name.strip().casefold()
    known = {d: d for d in DRUGS if d != "other"} | _DRUG_BRANDS
    if text in known:
        return known[text]
    head = re.split(r"[\s,;(/]", text, maxsplit=1)[0]
    return known.get(head)


def _indication(text: str | None) -> str | None:
    if text is None:
        return None
    upper = text.upper()
    if "CYTOKINE RELEASE" in upper or re.search(r"\bCRS\b", upper):
        return "crs"
    if "ICANS" in upper or "NEUROTOXICITY" in upper:
        return "icans"
    if "PROPHYLAXIS" in upper:
        return "prophylaxis"
    return "other"


def _cm(rec: dict, ctx: _Context) -> list[_Out]:
    variable = "CMDECOD" if rec.get("CMDECOD") else "CMTRT"
    name = rec.get(variable)
    drug = _drug(name) if name else None
    if drug is None:
        return [_skip("medications", f"{variable} {name!r} not mapped" if name else "CMTRT blank")]
    if (rec.get("CMOCCUR") or "").upper() == "N":
        return [_skip("medications", "CMOCCUR N: not given")]
    given, partial = _dtc(rec.get("CMSTDTC"), "datetime")
    if partial:
        return [_bad("medications", "CMSTDTC", PARTIAL_DATE, rec.get("CMSTDTC"))]
    unit = rec.get("CMDOSU")
    route = rec.get("CMROUTE")
    return [_row("medications", subject_id=rec.get("USUBJID"), drug=drug, administered_at=given,
                 dose=rec.get("CMDOSE"), dose_unit=_DOSE_UNITS.get((unit or "").lower(), unit),
                 route=_ROUTES.get((route or "").upper(), route), indication=_indication(rec.get("CMINDC")))]


# ---- RS ------------------------------------------------------------------------------------------

def _rs(rec: dict, ctx: _Context) -> list[_Out]:
    code = (rec.get("RSTESTCD") or "").upper()
    wanted = (ctx.config.overall_response_test or "").upper()
    if not wanted or code != wanted:
        why = "" if wanted else " (the study names no overall_response_test)"
        return [_skip("response_assessments", f"RSTESTCD {code or '(blank)'} not mapped{why}")]
    done = _not_done(rec, "RS", "response_assessments")
    if done:
        return [done]
    response = _first(rec, "RSSTRESC", "RSORRES")
    if response is None:
        return [_bad("response_assessments", "RSSTRESC", "missing_result", None)]
    assessed, partial = _dtc(rec.get("RSDTC"), "date")
    if partial:
        return [_bad("response_assessments", "RSDTC", PARTIAL_DATE, rec.get("RSDTC"))]
    return [_row("response_assessments", subject_id=rec.get("USUBJID"), assessed_on=assessed,
                 response=response.upper(), criteria=ctx.config.response_criteria)]


# ---- the adapter ---------------------------------------------------------------------------------

_HANDLERS: dict[str, Callable[[dict, _Context], list[_Out]]] = {
    "DM": _dm, "VS": _vs, "LB": _lb, "AE": _ae, "CM": _cm, "RS": _rs,
}
_FILE_NOTES: dict[str, Callable[[list[dict], _Context], None]] = {"EX": _ex_notes, "AE": _ae_notes}
_OUTPUTS = {"DM": ("subjects", "outcomes")}
# The contract columns this adapter fills per source (the others are left to the loader: empty).
FILLED = {
    "subjects": ("subject_id", "site_id", "enrolled_on", "age_years", "sex", "disease", "car_t_product",
                 "infused_on", "not_infused_reason"),
    "outcomes": ("subject_id", "died_on", "last_known_alive_on"),
    "vitals": ("subject_id", "recorded_at", *VITAL_TESTS.values()),
    "serum_labs": ("subject_id", "collected_at", "test", "value", "unit"),
    "serum_cytokines": ("sample_id", "subject_id", "collected_at", "analyte", "result", "unit"),
    "toxicity_summaries": ("subject_id", "toxicity", "criteria", "present", "max_grade"),
    "medications": ("subject_id", "drug", "administered_at", "dose", "dose_unit", "route", "indication"),
    "response_assessments": ("subject_id", "assessed_on", "response", "criteria"),
}


def _locator(file_name: str, domain: str, number: int, rec: dict, source: str | None) -> str:
    seq = rec.get(f"{domain}SEQ")
    if seq is not None:
        which = f" ({domain}SEQ {seq})"
    elif rec.get("USUBJID") is not None:
        which = f" (USUBJID {rec['USUBJID']})"
    else:
        which = ""
    return f"{file_name}, {domain} record {number}{which}" + (f", {source}" if source else "")


def read_sdtm(path: Path, file_name: str, config: SdtmAdapter, time_mode: str = "calendar",
              infusions: Mapping[str, str | None] | None = None) -> MappedFile:
    """Turn one SDTM domain file into contract rows, as the module docstring says.

    `file_name` names the file in messages and locators (e.g. `cdisc_msg/sdtm/lb.xpt`);
    `config` is the study's adapters.sdtm; `time_mode` the study's (calendar only); `infusions`
    the study's infusion dates (`infusion_dates` of its EX file), needed to read DM when
    infusion_from is ex.
    """
    if time_mode != "calendar":
        raise SdtmError(f"{file_name}: the sdtm adapter reads calendar studies only (SDTM dates every "
                        f"record; its --DY is not the contract's study day): time_mode is {time_mode}")
    data = read_dataset(Path(path), file_name)
    domain = data.domain
    if domain == "DM":
        for key in ("disease", "product"):
            if getattr(config, key) is None:
                raise SdtmError(f"{file_name}: adapters.sdtm.{key}: DM needs the study's {key} (SDTM has none)")
        _need_infusion_treatment(config, file_name)
        if config.infusion_from == "ex" and infusions is None:
            raise SdtmError(f"{file_name}: DM needs the infusion dates of the study's EX file "
                            "(infusion_from: ex): read it with infusion_dates and pass them as infusions")
    if domain == "EX":
        _need_infusion_treatment(config, file_name)
    ctx = _Context(file_name, domain, config, infusions)
    if domain in _FILE_NOTES:
        _FILE_NOTES[domain](data.rows, ctx)
    handler = _HANDLERS.get(domain)
    outputs = _OUTPUTS.get(domain)

    produced: dict[str, list[dict]] = {}
    out_of_scope, quarantine = [], []
    records = 0
    for index, rec in enumerate(data.rows):
        number = index + 1
        if index in ctx.notes:
            outs = [ctx.notes[index]]
        elif handler is not None:
            outs = handler(rec, ctx)
        else:
            outs = [_skip("subjects", f"domain {domain} not used")]
        for out in outs:
            records += 1
            locator = _locator(file_name, domain, number, rec, out.source if outputs else None)
            if out.row is not None:
                produced.setdefault(out.source, []).append(
                    {**out.row, "_seq": rec.get(f"{domain}SEQ"), "_row_number": number, "_locator": locator})
            elif out.reason is not None:
                out_of_scope.append((out.source, number, locator, out.reason))
            else:
                quarantine.append((out.source, number, locator, *out.rule))

    rows = {}
    for source, items in produced.items():
        order = SOURCES[source].columns
        columns = sorted(FILLED[source], key=order.index) + ["_seq", "_row_number", "_locator"]
        frame = pd.DataFrame(items, columns=columns, dtype=object)
        frame = frame.where(frame.notna(), None)
        rows[source] = frame.astype({"_row_number": "int64"})
    result = MappedFile(
        rows=rows,
        out_of_scope=pd.DataFrame(out_of_scope, columns=["source", "row_number", "locator", "reason"]),
        quarantine=pd.DataFrame(quarantine, columns=["source", "row_number", "locator", "column_name", "rule", "value"]),
        records=records,
        data_rows=len(data.rows),
    )
    if not result.balanced:  # an invariant of the loop above, checked because accounting is the point
        raise RuntimeError(f"{file_name}: records do not balance: {result.counts}")
    return result


__all__ = ["DEFAULT_LAB_CODES", "IDENTIFYING_VARIABLES", "SdtmDataset", "SdtmError", "infusion_dates",
           "is_identifying", "read_dataset", "read_sdtm"]
