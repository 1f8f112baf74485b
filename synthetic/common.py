"""Shared pieces of the synthetic cohort generator: the source contract, the landing writer, formats.

Everything here follows `/work/shared/spec/sources.md` (the input contract):

* `SOURCES` / `COLUMNS` -- the eleven source folders and their exact column names;
* `LandingWriter` -- writes one delivery file as CSV bytes (optionally with a UTF-8 BOM and/or
  CRLF line endings), stamps its modification time with the delivery date at noon UTC (deliveries
  are ordered by mtime, then name), and records name, data-row count and sha256 for the truth file;
* small formatters for ISO 8601 datetimes (naive site-local, ``Z`` or ``+00:00``) and numbers.

Determinism: nothing here reads the clock or iterates over an unordered container; the bytes of a
delivery depend only on the rows given to it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

# --------------------------------------------------------------------------------------------
# The contract (sources.md)
# --------------------------------------------------------------------------------------------
CYTOKINE_COLUMNS: tuple[str, ...] = (
    "sample_id", "subject_id", "collected_at", "analyte", "result", "unit", "lloq", "uloq",
    "plate_id", "assay",
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "subjects": (
        "subject_id", "site_id", "enrolled_on", "age_years", "sex", "weight_kg", "disease",
        "car_t_product", "infused_on", "not_infused_reason",
    ),
    "vitals": (
        "subject_id", "recorded_at", "temperature_c", "systolic_bp_mmhg", "vasopressors",
        "o2_device", "o2_flow_l_min", "spo2_pct",
    ),
    "neuro_assessments": (
        "subject_id", "assessed_at", "ice_score", "consciousness", "seizure", "motor_weakness",
        "cerebral_edema",
    ),
    "toxicity_assessments": ("subject_id", "assessed_on", "crs_grade", "icans_grade", "criteria"),
    "medications": (
        "subject_id", "drug", "administered_at", "dose", "dose_unit", "route", "indication",
    ),
    "response_assessments": ("subject_id", "assessed_on", "response", "criteria"),
    "outcomes": (
        "subject_id", "progressed_on", "died_on", "death_cause", "last_known_alive_on",
    ),
    "serum_cytokines": CYTOKINE_COLUMNS,
    "serum_labs": ("subject_id", "collected_at", "test", "value", "unit"),
    "csf_samples": (
        "sample_id", "subject_id", "collected_at", "wbc_per_ul", "rbc_per_ul", "protein_mg_dl",
        "glucose_mg_dl",
    ),
    "csf_cytokines": CYTOKINE_COLUMNS,
}
SOURCES: tuple[str, ...] = tuple(COLUMNS)

# Identifying columns a site export may carry in `subjects`; the warehouse must drop them.
IDENTIFYING_COLUMNS: tuple[str, ...] = ("patient_name", "mrn", "date_of_birth")

# Bio-Plex Pro human 27-plex panel plus the CAR T markers, in the contract's order.
ANALYTES: tuple[str, ...] = (
    "IL1B", "IL1RA", "IL2", "IL4", "IL5", "IL6", "IL7", "IL8", "IL9", "IL10", "IL12P70", "IL13",
    "IL15", "IL17A", "IFNG", "TNFA", "GMCSF", "GCSF", "MCP1", "MIP1A", "MIP1B", "IP10", "EOTAXIN",
    "FGFB", "PDGFBB", "RANTES", "VEGF", "SIL2RA",
)

LAB_TESTS: tuple[str, ...] = ("CRP", "FERRITIN", "ANC", "PLT", "WBC", "LDH", "FIBRINOGEN", "DDIMER")

# Conversion factor from the harmonized unit (marts.md) to each allowed delivery unit:
# delivered value = harmonized value * factor.
LAB_UNITS: dict[str, dict[str, float]] = {
    "CRP": {"mg/L": 1.0, "mg/dL": 0.1},
    "FERRITIN": {"ng/mL": 1.0, "ug/L": 1.0},
    "ANC": {"10^9/L": 1.0, "10^3/uL": 1.0, "/uL": 1000.0},
    "PLT": {"10^9/L": 1.0, "10^3/uL": 1.0, "/uL": 1000.0},
    "WBC": {"10^9/L": 1.0, "10^3/uL": 1.0, "/uL": 1000.0},
    "LDH": {"U/L": 1.0},
    "FIBRINOGEN": {"mg/dL": 1.0, "g/L": 0.01},
    "DDIMER": {"ug/mL FEU": 1.0, "ng/mL FEU": 1000.0},
}
HARMONIZED_LAB_UNIT: dict[str, str] = {t: next(iter(u)) for t, u in LAB_UNITS.items()}

STEROID_DEX_EQUIV: dict[str, float] = {  # derivations.md, "Steroid exposure"
    "dexamethasone": 1.0, "methylprednisolone": 0.1875, "prednisone": 0.15,
    "hydrocortisone": 0.0375,
}
CRS_MASKING_DRUGS: frozenset[str] = frozenset(
    {"tocilizumab", "siltuximab", *STEROID_DEX_EQUIV}
)

# --------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------
TIME_STYLES = ("naive", "Z", "offset")


def fmt_dt(ts: datetime, style: str = "naive") -> str:
    """ISO 8601 datetime. Naive = site local time; ``Z`` / ``+00:00`` = explicit UTC (sites are UTC)."""
    base = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "naive":
        return base
    if style == "Z":
        return base + "Z"
    if style == "offset":
        return base + "+00:00"
    raise ValueError(f"unknown time style {style!r}")


def fmt_date(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def at(d: date, hour: int, minute: int = 0) -> datetime:
    """Site-local naive datetime on calendar date `d`."""
    return datetime.combine(d, time(hour, minute))


def fmt_num(x: float | None, sig: int = 4) -> str:
    """Plain decimal text with `sig` significant digits, no exponent, no trailing ``.0``."""
    if x is None or not np.isfinite(x):
        return ""
    if x == 0:
        return "0"
    s = np.format_float_positional(float(x), precision=sig, unique=False, fractional=False,
                                   trim="-")
    return s


def fmt_fixed(x: float | None, decimals: int) -> str:
    if x is None or not np.isfinite(x):
        return ""
    return f"{x:.{decimals}f}"


def noon_utc_epoch(d: date) -> int:
    return int(datetime.combine(d, time(12, 0), tzinfo=timezone.utc).timestamp())


# --------------------------------------------------------------------------------------------
# Writing deliveries
# --------------------------------------------------------------------------------------------
def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool = False,
              crlf: bool = False) -> bytes:
    """Serialize already-formatted string cells as RFC 4180 CSV (minimal quoting)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n" if crlf else "\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


@dataclass
class FileRecord:
    file_name: str          # relative to the landing folder, e.g. "vitals/2021-05-01_site01.csv"
    source: str
    delivered_on: date
    rows: int               # data rows (header excluded)
    sha256: str
    bom: bool = False
    crlf: bool = False
    time_style: str = "naive"
    note: str = ""

    def as_truth(self) -> dict:
        return {
            "file_name": self.file_name, "source": self.source,
            "delivered_at": f"{self.delivered_on.isoformat()}T12:00:00Z",
            "rows": self.rows, "sha256": self.sha256, "bom": self.bom, "crlf": self.crlf,
            "time_style": self.time_style, "note": self.note,
        }


@dataclass
class LandingWriter:
    """Writes deliveries under ``out_dir/<source>/<name>`` and remembers what it wrote."""

    out_dir: Path
    records: list[FileRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        for source in SOURCES:
            (self.out_dir / source).mkdir(parents=True, exist_ok=True)

    def _finish(self, rel: str, source: str, delivered_on: date, data: bytes, rows: int,
                **flags) -> FileRecord:
        path = self.out_dir / rel
        path.write_bytes(data)
        ts = noon_utc_epoch(delivered_on)
        os.utime(path, (ts, ts))
        rec = FileRecord(rel, source, delivered_on, rows, hashlib.sha256(data).hexdigest(),
                         **flags)
        self.records.append(rec)
        return rec

    def write_rows(self, source: str, name: str, delivered_on: date, header: Sequence[str],
                   rows: Sequence[Sequence[str]], *, bom: bool = False, crlf: bool = False,
                   time_style: str = "naive", note: str = "") -> FileRecord:
        """Write pre-formatted rows (lists of str) as one CSV delivery."""
        missing = [c for c in COLUMNS[source] if c not in header]
        if missing:
            raise ValueError(f"{source}/{name}: missing contract columns {missing}")
        rel = f"{source}/{name}"
        data = csv_bytes(header, rows, bom=bom, crlf=crlf)
        return self._finish(rel, source, delivered_on, data, len(rows), bom=bom, crlf=crlf,
                            time_style=time_style, note=note)

    def write_arrow(self, source: str, name: str, delivered_on: date, table, *,
                    time_style: str = "naive", note: str = "") -> FileRecord:
        """Fast path (scale profile): a pyarrow Table with the contract's columns, unquoted.

        Callers guarantee no value contains a comma, quote or newline.
        """
        import pyarrow.csv as pcsv

        missing = [c for c in COLUMNS[source] if c not in table.column_names]
        if missing:
            raise ValueError(f"{source}/{name}: missing contract columns {missing}")
        buf = io.BytesIO()
        buf.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pcsv.write_csv(table, buf, write_options=pcsv.WriteOptions(
            include_header=False, quoting_style="none", batch_size=65536))
        return self._finish(f"{source}/{name}", source, delivered_on, buf.getvalue(),
                            table.num_rows, time_style=time_style, note=note)

    def copy(self, original: FileRecord, name: str, delivered_on: date, note: str = "") -> FileRecord:
        """A byte-identical re-delivery of `original` under another name (later mtime)."""
        rel = f"{original.source}/{name}"
        dst = self.out_dir / rel
        shutil.copyfile(self.out_dir / original.file_name, dst)
        ts = noon_utc_epoch(delivered_on)
        os.utime(dst, (ts, ts))
        rec = FileRecord(rel, original.source, delivered_on, original.rows, original.sha256,
                         bom=original.bom, crlf=original.crlf, time_style=original.time_style,
                         note=note)
        self.records.append(rec)
        return rec

    def truth_files(self) -> list[dict]:
        return [r.as_truth() for r in sorted(self.records, key=lambda r: r.file_name)]


def delivery_date_after(d: date, days: int = 10) -> date:
    """A delivery date some days after the last data date, on the 1st or 15th of a month."""
    x = d + timedelta(days=days)
    if x.day <= 15:
        return x.replace(day=15)
    nxt = (x.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt


def half_year_key(d: date) -> str:
    return f"{d.year}H{1 if d.month <= 6 else 2}"
