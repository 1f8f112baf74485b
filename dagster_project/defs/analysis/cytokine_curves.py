"""Cytokine kinetic curves (LOESS, Park 2023 Fig 4A / ED Fig 2) and their figures."""


import dagster as dg
import duckdb
import pandas as pd

from dagster_project.lib.analysis.cytokine_curves import curve_order, cytokine_curves
from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.cytokine_curves import cytokine_curves_png
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings

RESULTS = dg.AssetKey(["marts", "fct_biomarker_results"])
ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
TABLE = dg.AssetKey(["analysis", "cytokine_curves"])
# The panels of Park 2023 Figure 4A.
HEADLINE_CYTOKINES = ["IL6", "IFNG", "IL10", "IL2", "MCP1", "IL1RA", "TNFA", "IL8"]


# Points drawn per figure panel. The curves use every sample; a panel of a registry-size cohort
# draws a fixed random sample of its points (said in the figure's description).
MAX_POINTS_DRAWN = 20_000
_CYTOKINE_ROWS = "analyte_kind = 'cytokine' and study_day is not null"
_CURVE_COLUMNS = "subject_id, specimen, analyte, analyte_kind, study_day, analysis_value, unit, substitution_rule"


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({c.strip(): pd.Series(dtype=object) for c in _CURVE_COLUMNS.split(",")}).astype(
        {"study_day": float, "analysis_value": float}
    )


def _drawn_points(rows: pd.DataFrame) -> pd.DataFrame:
    """The points of one panel: all of them, or a fixed random MAX_POINTS_DRAWN with column `_of`
    holding how many there were (read back by _points_note for the figure's description)."""
    if len(rows) <= MAX_POINTS_DRAWN:
        return rows
    return rows.sample(n=MAX_POINTS_DRAWN, random_state=0).sort_index().assign(_of=len(rows))


def _points_note(points: pd.DataFrame) -> str:
    if "_of" not in points or points["_of"].isna().all():
        return ""
    return (f" Points: a fixed random {MAX_POINTS_DRAWN:,} of each panel's samples where it has more "
            f"(up to {int(points['_of'].max()):,}); the curves use all of them.")


@dg.asset(
    key=TABLE,
    deps=[RESULTS, ENDPOINTS],
    group_name="analysis",
    kinds={"python", "duckdb"},
    description="LOESS of log10(analysis_value) on study day per specimen x analyte x group (all; "
    "adjudicated ICANS max 0-2; 3-4), span 0.75, degree 2, pointwise 95% band, on whole days in each "
    "group's range; equal to R loess(). Groups too small to fit have one row with status too_small; "
    "groups above WAREHOUSE_LOESS_MAX_POINTS samples (default 5,000; loess is quadratic in n) one row "
    "with status too_large.",
)
def cytokine_curves_asset(settings: Settings) -> dg.MaterializeResult:
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints", "subject_id, icans_max_grade")
    max_points = settings.loess_max_points
    # One specimen x analyte series at a time, read from DuckDB: memory holds one series, not
    # every cytokine row (3.6 GiB at 10,000 subjects, more than the machine at 100,000).
    with duckdb.connect(settings.db_path, read_only=True) as con:
        series = con.execute(
            f"select distinct specimen, analyte from marts.fct_biomarker_results where {_CYTOKINE_ROWS}"
        ).fetchall()
    parts, headline = [], []
    for specimen, analyte in curve_order(series):
        rows = read_table(
            settings.db_path, "marts.fct_biomarker_results", _CURVE_COLUMNS,
            where=f"{_CYTOKINE_ROWS} and specimen = ? and analyte = ?", params=[specimen, analyte],
        )
        parts.append(cytokine_curves(rows, endpoints, max_points=max_points))
        if specimen == "serum" and analyte in HEADLINE_CYTOKINES:
            headline.append(_drawn_points(rows))
    curves = pd.concat(parts, ignore_index=True) if parts else cytokine_curves(_no_rows(), endpoints)
    replace_tables(settings.db_path, "analysis", {"cytokine_curves": curves}, settings.duckdb_config())
    folder = settings.figures_dir
    serum = pd.concat(headline, ignore_index=True) if headline else _no_rows()
    drawn = _points_note(serum)
    figures = figure_metadata(
        cytokine_curves_png(serum, curves, specimen="serum", analytes=HEADLINE_CYTOKINES, groups=("all",)),
        folder, "serum_cytokines_all", drawn,
    )
    figures |= figure_metadata(
        cytokine_curves_png(
            serum, curves, specimen="serum", analytes=HEADLINE_CYTOKINES, groups=("ICANS 0-2", "ICANS 3-4"),
            endpoints=endpoints,
        ),
        folder, "serum_cytokines_by_icans", drawn,
    )
    # curves (specimen x analyte x group) by status, not rows
    curve_keys = ["specimen", "analyte", "group"]
    status = curves.drop_duplicates(curve_keys).groupby("status").size().to_dict() if "status" in curves else {}
    return dg.MaterializeResult(
        metadata={
            **table_metadata(settings.db_path, [TABLE])[TABLE],
            **{f"groups_{k}": int(v) for k, v in status.items()},
            **figures,
        }
    )
