"""The studies the analysis assets compute and draw for, read from marts.dim_studies, and where
each study's figures go.

Every analysis table is computed per study (lib/analysis/studies.py); every figure is drawn per
study into ``<figures dir>/<study_id>/<stem>.png`` (the same layout for one study or several),
only where the study has the data (a relative-time export without outcomes has no Kaplan-Meier
figure: the asset says so in its metadata, and a figure of an earlier run that is no longer drawn
is removed, so the report never shows a stale one). A changed run (lib/changes.py) computes and
draws only the studies of its new deliveries (`studies_to_compute`); the other studies' rows,
lineage edges and figures stay as the last run wrote them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.lib.changes import PLAN_TAG, STUDIES_TAG
from schemas.vocabulary import DEFAULT_KINETICS_GROUP_BY, DEFAULT_TOXICITY_CRITERIA, RESPONSE_CRITERIA

__all__ = ["StudyInfo", "figure_label", "read_studies", "remove_stale_figures", "studies_to_compute", "study_folder"]

DIM_STUDIES = "marts.dim_studies"


@dataclass(frozen=True)
class StudyInfo:
    """A study's settings the analyses need (marts.dim_studies)."""

    study_id: str
    title: str | None = None
    time_mode: str = "calendar"
    kinetics_group_by: str = DEFAULT_KINETICS_GROUP_BY
    primary_toxicity_criteria: str = DEFAULT_TOXICITY_CRITERIA
    response_criteria: str = RESPONSE_CRITERIA[0]  # comma-separated, as dim_studies lists them

    @property
    def relative(self) -> bool:
        return self.time_mode == "relative"

    @property
    def primary_response_criteria(self) -> str:
        return self.response_criteria.split(",")[0].strip() or RESPONSE_CRITERIA[0]


def read_studies(db_path: str | Path) -> list[StudyInfo]:
    """Every study of marts.dim_studies, by study_id (a missing optional column takes its default)."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        frame = con.execute(f"select * from {DIM_STUDIES} order by study_id").df()
    fields = [f for f in StudyInfo.__dataclass_fields__ if f in frame.columns]
    studies = []
    for row in frame[fields].itertuples(index=False):
        values = {f: getattr(row, f) for f in fields}
        studies.append(StudyInfo(**{k: v for k, v in values.items() if v is not None and v == v}))
    return studies


def studies_to_compute(tags: Mapping[str, str], studies: list[StudyInfo]) -> tuple[list[StudyInfo], list[str] | None]:
    """The studies an analysis asset computes in this run, and what `replace_tables(studies=)`
    takes: a changed run (lib/changes.py, its tags) recomputes only the studies of its new
    deliveries (None: every study, the tables replaced whole); any other run, every study."""
    if tags.get(PLAN_TAG) != "changed":
        return studies, None
    changed = {s for s in tags.get(STUDIES_TAG, "").split(",") if s}
    return [s for s in studies if s.study_id in changed], sorted(changed)


def study_folder(figures_dir: Path, study_id: str) -> Path:
    """Where a study's figures are written: ``<figures dir>/<study_id>/``."""
    return Path(figures_dir) / study_id


def figure_label(studies: Iterable[StudyInfo], study_id: str) -> str | None:
    """The study a figure's metadata names: None when the warehouse holds one study (the keys
    stay ``figure_<stem>``), else the study id."""
    return None if len(list(studies)) <= 1 else study_id


def remove_stale_figures(folder: Path, stems: Iterable[str], drawn: Iterable[str]) -> list[str]:
    """Delete ``<folder>/<stem>.png`` of each of ``stems`` (an asset's figures) that this run did
    not draw (``drawn``); return the stems removed."""
    drawn = set(drawn)
    removed = []
    for stem in stems:
        path = Path(folder) / f"{stem}.png"
        if stem not in drawn and path.exists():
            path.unlink()
            removed.append(stem)
    return removed
