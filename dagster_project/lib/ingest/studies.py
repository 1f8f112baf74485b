"""The studies of the landing folder (studies-and-inputs.md, "Studies").

    $WAREHOUSE_LANDING_DIR/
      study.yml                       optional: the default study's settings
      <source>/<file>                 contract deliveries of the default study
      <study>/study.yml               the study's settings; optional for a contract-only study
      <study>/<source>/<file>         contract deliveries of <study>
      <study>/<format>/<file>         foreign deliveries read by the adapter <format>

A folder is a source when its name is one, else a study when its name is a valid study id, else
it is reported and not read. A study whose study.yml does not validate is `invalid`: it is
recorded (raw.studies, with the error naming the file and the key) and its files wait in the
landing folder; the other studies load.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.contract import SOURCES
from schemas.study import STUDY_FILE, StudyConfig, StudyFileError, default_config, read_study_file, valid_study_id

# Adapter formats: a study's subfolder of that name holds files of that format.
ADAPTER_FORMATS = ("mapped", "sdtm", "bioplex")


@dataclass(frozen=True)
class Study:
    study_id: str
    folder: Path  # the folder holding its <source>/ and <format>/ folders
    config: StudyConfig
    study_file: str | None  # its study.yml, relative to the landing folder; None when it has none

    def source_folder(self, name: str) -> Path:
        return self.folder / name

    @property
    def vocabulary(self) -> dict:
        """The keyword arguments of Source.schema_for for this study."""
        return {"time_mode": self.config.time_mode, "diseases": self.config.diseases,
                "products": self.config.products, "analytes": tuple(self.config.analytes)}


@dataclass(frozen=True)
class InvalidStudy:
    study_id: str
    study_file: str
    message: str


@dataclass(frozen=True)
class Landing:
    root: Path
    studies: tuple[Study, ...]
    invalid: tuple[InvalidStudy, ...]
    unknown: tuple[str, ...]  # folders and files that are neither a source, a study nor a format

    def study(self, study_id: str) -> Study:
        return next(s for s in self.studies if s.study_id == study_id)

    def delivery_folders(self) -> list[Path]:
        """Every folder whose files are deliveries: each valid study's source and format folders
        (what the landing sensor watches)."""
        return [s.folder / name for s in self.studies for name in (*SOURCES, *ADAPTER_FORMATS)]


def _config(path: Path, landing_dir: Path, study_id: str) -> tuple[StudyConfig | None, str | None, str | None]:
    """(config, its file name, error)."""
    if not path.is_file():
        return default_config(study_id), None, None
    shown = path.relative_to(landing_dir).as_posix()
    try:
        return read_study_file(path, shown), shown, None
    except StudyFileError as exc:
        return None, shown, str(exc)


def read_landing(landing_dir: Path, default_study: str) -> Landing:
    """Every study of the landing folder, valid or not, and what is neither."""
    studies: list[Study] = []
    invalid: list[InvalidStudy] = []
    unknown: list[str] = []
    if not landing_dir.is_dir():
        return Landing(landing_dir, (Study(default_study, landing_dir, default_config(default_study), None),), (), ())
    config, shown, error = _config(landing_dir / STUDY_FILE, landing_dir, default_study)
    if error:
        invalid.append(InvalidStudy(default_study, shown, error))
    else:
        studies.append(Study(default_study, landing_dir, config, shown))
    for path in sorted(landing_dir.iterdir()):
        if path.name.startswith(".") or path.name in SOURCES or path.name == STUDY_FILE:
            continue
        if not path.is_dir() or path.is_symlink():
            unknown.append(path.name)
            continue
        if not valid_study_id(path.name) or path.name == default_study:
            unknown.append(path.name + "/")
            continue
        config, shown, error = _config(path / STUDY_FILE, landing_dir, path.name)
        if error:
            invalid.append(InvalidStudy(path.name, shown, error))
            continue
        studies.append(Study(path.name, path, config, shown))
        mapping = config.adapters.mapped.mapping if config.adapters.mapped else None
        for inner in sorted(path.iterdir()):
            expected = inner.name in SOURCES or inner.name in ADAPTER_FORMATS if inner.is_dir() else \
                inner.name in (STUDY_FILE, mapping)
            if not expected and not inner.name.startswith("."):
                unknown.append(inner.relative_to(landing_dir).as_posix() + ("/" if inner.is_dir() else ""))
    return Landing(landing_dir, tuple(studies), tuple(invalid), tuple(unknown))
