"""Cytokine kinetic curves (LOESS, Park 2023 Fig 4A / ED Fig 2), per study by the study's grouping
(marts.dim_studies.kinetics_group_by), and each study's figures: its headline cytokines for all
subjects, and by its grouping (ICANS: Park 2023 ED Fig 2; any other grouping, e.g. IEC-HS for the
CD22 trial: every serum cytokine of the study with its shaded LOESS band)."""


import dagster as dg
import duckdb
import pandas as pd

from dagster_project.lib.analysis.cytokine_curves import COLUMNS, curve_order, cytokine_curves, subject_groups
from dagster_project.lib.analysis.studies import stack
from dagster_project.defs.analysis.figure_metadata import figure_metadata
from dagster_project.defs.analysis.studies import (figure_label, read_studies, remove_stale_figures, studies_to_compute,
                                                   study_folder)
from dagster_project.defs.table_metadata import table_metadata
from dagster_project.figures.cytokine_curves import cytokine_curves_png
from dagster_project.lib.warehouse import read_table, replace_tables
from dagster_project.settings import Settings
from schemas.vocabulary import DEFAULT_KINETICS_GROUP_BY, PRESENCE_TOXICITY, TOXICITIES

RESULTS = dg.AssetKey(["marts", "fct_biomarker_results"])
ENDPOINTS = dg.AssetKey(["marts", "fct_subject_endpoints"])
STUDIES = dg.AssetKey(["marts", "dim_studies"])
ATTRIBUTES = dg.AssetKey(["marts", "dim_subject_attributes"])
TABLE = dg.AssetKey(["analysis", "cytokine_curves"])
STEMS = ("serum_cytokines_all", "serum_cytokines_by_icans", "serum_cytokines_by_group")
# The panels of Park 2023 Figure 4A.
HEADLINE_CYTOKINES = ["IL6", "IFNG", "IL10", "IL2", "MCP1", "IL1RA", "TNFA", "IL8"]


# Points drawn per figure panel. The curves use every sample; a panel of a registry-size cohort
# draws a fixed random sample of its points (said in the figure's description).
MAX_POINTS_DRAWN = 20_000
_CYTOKINE_ROWS = "study_id = ? and analyte_kind = 'cytokine' and study_day is not null"
_CURVE_COLUMNS = "subject_id, specimen, analyte, analyte_kind, study_day, analysis_value, unit, substitution_rule"


def _attributes(settings: Settings, study_id: str, attribute: str) -> pd.DataFrame:
    """The study's rows of marts.dim_subject_attributes for one attribute (none when the study has
    no such table yet)."""
    with duckdb.connect(settings.db_path, read_only=True) as con:
        exists = con.execute("select count(*) from duckdb_tables() where schema_name = 'marts' "
                             "and table_name = 'dim_subject_attributes'").fetchone()[0]
    if not exists:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("subject_id", "attribute", "value")})
    return read_table(settings.db_path, "marts.dim_subject_attributes", "subject_id, attribute, value",
                      where="study_id = ? and attribute = ?", params=[study_id, attribute])


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
    deps=[RESULTS, ENDPOINTS, STUDIES, ATTRIBUTES],
    group_name="analysis",
    kinds={"python", "duckdb"},
    description="Per study, LOESS of log10(analysis_value) on study day (fractional in a relative-time study) "
    "per specimen x analyte x group of the study's kinetics_group_by (default ICANS: all; adjudicated max 0-2; "
    "3-4; IEC-HS: present, absent; a subject attribute: one group per value), span 0.75, degree 2, pointwise "
    "95% band, on whole days in each group's range; equal to R loess(). Groups too small to fit have one row "
    "with status too_small; groups above WAREHOUSE_LOESS_MAX_POINTS samples (default 5,000; loess is "
    "quadratic in n) one row with status too_large.",
)
def cytokine_curves_asset(context: dg.AssetExecutionContext, settings: Settings) -> dg.MaterializeResult:
    studies = read_studies(settings.db_path)
    computed, only = studies_to_compute(context.run.tags, studies)
    max_points = settings.loess_max_points
    parts, figures, notes = [], {}, []
    for study in computed:
        curves, figure_meta, note = _study_curves(settings, study, studies, max_points)
        parts.append((study.study_id, curves))
        figures |= figure_meta
        if note:
            notes.append(note)
    curves = stack(parts, COLUMNS)
    replace_tables(settings.db_path, "analysis", {"cytokine_curves": curves}, settings.duckdb_config(), studies=only)
    # curves (study x specimen x analyte x group) by status, not rows
    curve_keys = ["study_id", "specimen", "analyte", "group"]
    status = curves.drop_duplicates(curve_keys).groupby("status").size().to_dict() if len(curves) else {}
    grouping = {s.study_id: s.kinetics_group_by for s in studies}
    metadata = {
        **table_metadata(settings.db_path, [TABLE])[TABLE],
        **{f"groups_{k}": int(v) for k, v in status.items()},
        "group_by": dg.MetadataValue.text(", ".join(f"{k}: {v}" for k, v in grouping.items())
                                          if len(grouping) > 1 else next(iter(grouping.values()), "")),
        **figures,
    }
    if notes:
        metadata["figures_not_drawn"] = dg.MetadataValue.text("; ".join(notes) + ".")
    return dg.MaterializeResult(metadata=metadata)


def _study_curves(settings: Settings, study, studies, max_points):
    """One study's curves (one specimen x analyte series at a time, read from DuckDB: memory
    holds one series, not every cytokine row: 3.6 GiB at 10,000 subjects), its figures'
    metadata and a note on the figures it has not."""
    sid = study.study_id
    endpoints = read_table(settings.db_path, "marts.fct_subject_endpoints", where="study_id = ?", params=[sid])
    endpoints = endpoints.drop(columns="study_id", errors="ignore")
    group_by = study.kinetics_group_by
    attributes = None if group_by in TOXICITIES or group_by == PRESENCE_TOXICITY else _attributes(settings, sid, group_by)
    grouping = subject_groups(endpoints, group_by, attributes)
    with duckdb.connect(settings.db_path, read_only=True) as con:
        series = con.execute(
            f"select distinct specimen, analyte from marts.fct_biomarker_results where {_CYTOKINE_ROWS}", [sid]
        ).fetchall()
    by_icans = group_by == DEFAULT_KINETICS_GROUP_BY
    parts, points = [], []
    for specimen, analyte in curve_order(series):
        rows = read_table(
            settings.db_path, "marts.fct_biomarker_results", _CURVE_COLUMNS,
            where=f"{_CYTOKINE_ROWS} and specimen = ? and analyte = ?", params=[sid, specimen, analyte],
        )
        parts.append(cytokine_curves(rows, endpoints, group_by=group_by, attributes=attributes,
                                     max_points=max_points))
        # the points of the panels: the headline cytokines, or every serum cytokine for a grouping
        # other than ICANS (its figure shows them all)
        if specimen == "serum" and (analyte in HEADLINE_CYTOKINES or not by_icans):
            points.append(_drawn_points(rows))
    curves = pd.concat(parts, ignore_index=True) if parts else cytokine_curves(_no_rows(), endpoints, group_by=group_by,
                                                                              attributes=attributes)

    label, folder = figure_label(studies, sid), study_folder(settings.figures_dir, sid)
    serum_analytes = [a for s, a in curve_order(series) if s == "serum"]
    headline = [a for a in HEADLINE_CYTOKINES if a in serum_analytes] or serum_analytes[:len(HEADLINE_CYTOKINES)]
    figures, drawn, note = {}, [], ""
    if not serum_analytes:
        note = f"study {sid}: no serum cytokine, no kinetics figure"
    else:
        serum = pd.concat(points, ignore_index=True) if points else _no_rows()
        shown = _points_note(serum)
        figures |= figure_metadata(
            cytokine_curves_png(serum, curves, specimen="serum", analytes=headline, groups=("all",)),
            folder, "serum_cytokines_all", shown, study=label,
        )
        drawn.append("serum_cytokines_all")
        if by_icans:
            figures |= figure_metadata(
                cytokine_curves_png(serum, curves, specimen="serum", analytes=headline,
                                    groups=grouping.named, subject_groups=grouping.of_subject),
                folder, "serum_cytokines_by_icans", shown, study=label,
            )
            drawn.append("serum_cytokines_by_icans")
        else:
            days = serum["study_day"].dropna()
            span = f" Study days {days.min():g}-{days.max():g}." if len(days) else ""
            figures |= figure_metadata(
                cytokine_curves_png(serum, curves, specimen="serum", analytes=serum_analytes,
                                    groups=grouping.named, subject_groups=grouping.of_subject, band="shaded",
                                    title=f"Serum cytokines by {group_by}"),
                folder, "serum_cytokines_by_group", f"Grouped by {group_by}.{span}{shown}", study=label,
            )
            drawn.append("serum_cytokines_by_group")
    remove_stale_figures(folder, STEMS, drawn)
    return curves, figures, note
