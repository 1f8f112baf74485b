"""Run a Great Expectations suite over a DataFrame and keep Data Docs beside the warehouse.

Pure (no Dagster). GX 1.x API: an ephemeral Data Context whose expectation suites and
validation results live in files under `<data dir>/gx/` (so the Data Docs index lists every
table's latest validations, whichever process ran them) and whose Data Docs site is
`<data dir>/docs/`; a pandas data source with one dataframe asset per suite and a whole-dataframe
batch definition; a `ValidationDefinition` and a `Checkpoint` with `UpdateDataDocsAction`. No
great_expectations.yml is written, nothing goes to the repository tree, and nothing to the
network (analytics off in the environment and in the context's config).

<data dir> is the folder of the warehouse file (data/ by default).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: E402
from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig  # noqa: E402

SITE_NAME = "warehouse"
DATASOURCE_NAME = "warehouse"
# Validation results kept per suite (older ones, and their pages, are dropped).
KEEP_VALIDATIONS = 10
# Enough to say what broke: counts and the first few unexpected values.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 5}


@dataclass(frozen=True)
class GxFolders:
    root: Path  # GX's own files: expectation suites, validation results, the lock
    docs: Path  # the Data Docs site

    @classmethod
    def for_warehouse(cls, db_path: str | Path) -> GxFolders:
        data_dir = Path(db_path).resolve().parent
        return cls(root=data_dir / "gx", docs=data_dir / "docs")

    @property
    def index(self) -> Path:
        return self.docs / "index.html"


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str  # GX type, e.g. expect_column_values_to_be_between
    kind: str  # meta.kind of the suite: columns, not_null, unique, range, category, row_count, order
    arguments: dict[str, Any]
    success: bool
    observed: str  # what was seen: the observed value, or the count and a few unexpected values
    exception: str | None = None

    @property
    def target(self) -> str:
        a = self.arguments
        if "column" in a:
            return str(a["column"])
        if "column_A" in a:
            return f"{a['column_A']}, {a['column_B']}"
        if "column_list" in a:
            return ", ".join(a["column_list"])
        return "table"

    @property
    def rule(self) -> str:
        shown = {k: v for k, v in self.arguments.items() if k not in ("column", "column_A", "column_B", "column_list")}
        text = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        return f"{self.expectation}({text})"


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    outcomes: tuple[ExpectationOutcome, ...]
    n_rows: int
    data_docs_index: Path | None  # None when run in memory only
    validation_page: Path | None

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def failures_markdown(self) -> str:
        lines = ["| kind | target | rule | observed |", "|---|---|---|---|"]
        for o in self.failed:
            observed = o.exception or o.observed
            lines.append(f"| {o.kind} | {o.target} | {_md(o.rule)} | {_md(observed)} |")
        return "\n".join(lines)


def run_suite(
    suite_name: str,
    expectations: Sequence[gx.expectations.Expectation],
    frame: pd.DataFrame,
    db_path: str | Path | None = None,
    run_name: str | None = None,
) -> SuiteResult:
    """Validate `frame` against the expectations.

    With `db_path` (the warehouse file) the suite and its result are kept under <data dir>/gx/
    and the Data Docs under <data dir>/docs/ are updated; without it everything stays in memory.
    """
    run_id = gx.RunIdentifier(run_name=run_name or "adhoc")
    n_rows, frame = len(frame), compact(frame)
    if db_path is None:
        context = gx.get_context(mode="ephemeral", project_config=_config(None))
        validation = _validation(context, suite_name, expectations)
        validation_result = validation.run(batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT,
                                           run_id=run_id)
        index = page = None
    else:
        folders = GxFolders.for_warehouse(db_path)
        with _locked(folders):
            context = gx.get_context(mode="ephemeral", project_config=_config(folders))
            validation = _validation(context, suite_name, expectations)
            checkpoint = context.checkpoints.add_or_update(
                gx.Checkpoint(
                    name=suite_name,
                    validation_definitions=[validation],
                    actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])],
                    result_format=RESULT_FORMAT,
                )
            )
            _prune_validations(folders, suite_name)
            result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
            (identifier, validation_result), *_ = result.run_results.items()
            index, page = folders.index, _validation_page(context, identifier)
    return SuiteResult(
        suite=suite_name,
        success=bool(validation_result.success),
        outcomes=tuple(_outcome(r) for r in validation_result.results),
        n_rows=n_rows,
        data_docs_index=index,
        validation_page=page,
    )


def compact(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns with repeated values as categoricals: a large mart validates in a fraction of
    the memory and time (GX's pandas engine works column by column on the frame it is given)."""
    converted = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and len(column) > 1000:
            values = column.dropna()
            if values.map(type).eq(str).all() and values.nunique() <= len(column) // 2:
                converted[name] = column.astype("category")
    return frame.assign(**converted) if converted else frame


def _validation(context, suite_name: str, expectations: Sequence[gx.expectations.Expectation]):
    """The suite over a whole-dataframe batch of a pandas data source."""
    asset = context.data_sources.add_or_update_pandas(DATASOURCE_NAME).add_dataframe_asset(name=suite_name)
    batch = asset.add_batch_definition_whole_dataframe("whole_table")
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(name=suite_name, expectations=[e.copy(deep=True) for e in expectations])
    )
    return context.validation_definitions.add_or_update(gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))


def _config(folders: GxFolders | None) -> DataContextConfig:
    """Suites and results in files under folders.root (or in memory), Data Docs in folders.docs."""
    memory = {"class_name": "InMemoryStoreBackend"}

    def files(sub: str) -> dict:
        if folders is None:
            return memory
        (folders.root / sub).mkdir(parents=True, exist_ok=True)
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folders.root / sub)}

    sites = {}
    if folders is not None:
        folders.docs.mkdir(parents=True, exist_ok=True)
        sites[SITE_NAME] = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(folders.docs)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    return DataContextConfig(
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": files("expectations")},
            "validation_results_store": {"class_name": "ValidationResultsStore", "store_backend": files("validations")},
            # definitions and checkpoints are rebuilt from code on every run: nothing to keep
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": memory},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": memory},
        },
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )


@contextmanager
def _locked(folders: GxFolders) -> Iterator[None]:
    """One suite at a time per data folder: checks may run in parallel processes (dagster dev)."""
    folders.root.mkdir(parents=True, exist_ok=True)
    with open(folders.root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune_validations(folders: GxFolders, suite_name: str) -> None:
    """Keep the newest results of a suite; the Data Docs drop the pages of removed ones."""
    stored = sorted((folders.root / "validations" / suite_name).rglob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in stored[: max(len(stored) - (KEEP_VALIDATIONS - 1), 0)]:
        old.unlink(missing_ok=True)
        for parent in old.parents:
            if parent == folders.root / "validations" or any(parent.iterdir()):
                break
            parent.rmdir()


def _validation_page(context, identifier) -> Path | None:
    try:
        urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=SITE_NAME)
    except Exception:  # the page link is a convenience; the index is always there
        return None
    for entry in urls:
        url = entry.get("site_url")
        if url and url.startswith("file://"):
            return Path(unquote(urlparse(url).path))
    return None


def _outcome(result) -> ExpectationOutcome:
    config = result.expectation_config
    arguments = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    info = result.exception_info or {}
    exception = info.get("exception_message") if info.get("raised_exception") else None
    return ExpectationOutcome(
        expectation=config.type,
        kind=(config.meta or {}).get("kind", ""),
        arguments=arguments,
        success=bool(result.success),
        observed=_observed(dict(result.result or {})),
        exception=exception,
    )


def _observed(result: dict) -> str:
    if "observed_value" in result:
        return _short(result["observed_value"])
    if "unexpected_count" in result:
        text = f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected"
        sample = result.get("partial_unexpected_list") or []
        if sample:
            text += ", e.g. " + _short(sample[:5])
        return text
    return ""


def _short(value: Any, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
