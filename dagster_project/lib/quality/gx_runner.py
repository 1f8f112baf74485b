"""Run a Great Expectations suite over a warehouse table, in DuckDB, and keep Data Docs beside it.

Pure (no Dagster). GX 1.x API: an ephemeral Data Context whose expectation suites and
validation results live in files under `<data dir>/gx/` (so the Data Docs index lists every
table's latest validations, whichever process ran them) and whose Data Docs site is
`<data dir>/docs/`; a SQL data source on the DuckDB file (SQLAlchemy through duckdb-engine,
opened read-only) with one query asset per suite and a whole-table batch definition; a
`ValidationDefinition` and a `Checkpoint` with `UpdateDataDocsAction`. No great_expectations.yml
is written, nothing goes to the repository tree, and nothing to the network (analytics off in
the environment and in the context's config; the Data Docs pages are rewritten to load nothing
remote, see `_make_offline`).

Why SQL and not a pandas frame: GX's pandas engine holds the table and a copy per row condition
in memory (fct_biomarker_results at 10,000 subjects: 90 s and 8-10 GiB); its SQL engine sends
each expectation to DuckDB as a query, so memory stays DuckDB's and the time that of a scan.
A DataFrame (tests, ad-hoc checks) is written to a scratch DuckDB file and checked the same way,
so there is one engine to trust.

The folders are the settings' (Settings.gx_dir, Settings.data_docs_dir: <data dir>/gx, /docs).
"""

from __future__ import annotations

import ast
import atexit
import fcntl
import html
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import duckdb  # noqa: E402
import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.execution_engine import sqlalchemy_execution_engine as _gx_sql  # noqa: E402
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
    column: str | None = None  # the column a query expectation is about (its meta.column)

    @property
    def target(self) -> str:
        a = self.arguments
        if self.column is not None:
            return self.column
        if "column" in a:
            return str(a["column"])
        if "column_A" in a:
            return f"{a['column_A']}, {a['column_B']}"
        if "column_list" in a:
            return ", ".join(a["column_list"])
        return "table"

    @property
    def rule(self) -> str:
        shown = {k: v for k, v in self.arguments.items()
                 if k not in ("column", "column_A", "column_B", "column_list", "row_condition", "condition_parser")}
        text = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        where = self.arguments.get("row_condition")
        return f"{self.expectation}({text})" + (f" where {_short(_condition_text(where))}" if where else "")


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
    data: pd.DataFrame | str,
    db_path: str | Path | None = None,
    run_name: str | None = None,
    companions: Mapping[str, pd.DataFrame] | None = None,
    folders: GxFolders | None = None,
) -> SuiteResult:
    """Validate `data` against the expectations, in DuckDB.

    `data` is a relation of the warehouse file `db_path` ("marts.dim_subjects"), or a DataFrame.
    With `folders` (Settings.gx_dir, Settings.data_docs_dir) the suite and its result are kept
    and the Data Docs updated; without, nothing is kept. `companions` ({"marts.dim_subjects": frame}) are the other tables a checked
    frame's expectations join to, written beside it in the scratch file.
    """
    if isinstance(data, pd.DataFrame):
        with tempfile.TemporaryDirectory(prefix="gx-frame-") as scratch:
            scratch_db = Path(scratch) / "frame.duckdb"
            with duckdb.connect(str(scratch_db)) as con:
                for relation, frame in {**(companions or {}), "frame": data}.items():
                    schema, _, name = relation.rpartition(".")
                    if schema:
                        con.execute(f'create schema if not exists "{schema}"')
                    con.register("frame_to_check", frame)
                    con.execute(f'create table {relation} as select * from frame_to_check')
                    con.unregister("frame_to_check")
            return _run(suite_name, expectations, scratch_db, "frame", folders, run_name)
    if db_path is None:
        raise ValueError(f"run_suite: the relation {data!r} needs db_path, the warehouse file it is in")
    return _run(suite_name, expectations, Path(db_path), data, folders, run_name)


def _run(suite_name, expectations, source_db: Path, relation: str, folders: GxFolders | None,
         run_name) -> SuiteResult:
    run_id = gx.RunIdentifier(run_name=run_name or "adhoc")
    with duckdb.connect(str(source_db), read_only=True) as con:
        n_rows = con.execute(f"select count(*) from {relation}").fetchone()[0]
    with _locked(folders):
        context = gx.get_context(mode="ephemeral", project_config=_config(folders))
        datasource = context.data_sources.add_or_update_sql(
            name=DATASOURCE_NAME,
            connection_string=f"duckdb:///{source_db.resolve()}",
            kwargs={"connect_args": {"read_only": True}},
        )
        try:
            validation = _validation(context, datasource, suite_name, relation, expectations)
            if folders is None:
                validation_result = validation.run(result_format=RESULT_FORMAT, run_id=run_id)
                index = page = None
            else:
                checkpoint = context.checkpoints.add_or_update(
                    gx.Checkpoint(
                        name=suite_name,
                        validation_definitions=[validation],
                        actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])],
                        result_format=RESULT_FORMAT,
                    )
                )
                _prune_validations(folders, suite_name)
                result = checkpoint.run(run_id=run_id)
                _make_offline(folders.docs)  # GX's pages load CDNs and a tracking logo URL
                (identifier, validation_result), *_ = result.run_results.items()
                index, page = folders.index, _validation_page(context, identifier)
        finally:
            _close(datasource)
    return SuiteResult(
        suite=suite_name,
        success=bool(validation_result.success),
        outcomes=tuple(_outcome(r) for r in validation_result.results),
        n_rows=n_rows,
        data_docs_index=index,
        validation_page=page,
    )


def _close(datasource) -> None:
    """Close every connection GX opened on the file: the warehouse must be free for the next
    writer as soon as the check ends. The data source has two engines (one tested the connection
    when it was added, one ran the queries), and the execution engine's own `close()` leaves its
    kept connection open."""
    execution = datasource.get_execution_engine()
    kept = getattr(execution, "_connection", None)
    if kept is not None:
        kept.close()
    execution.engine.dispose()
    datasource.get_engine().dispose()


class _DuckDBDialect(str):
    """`duckdb`, in the shape GX's list of dialects expects (a string with a `.value`)."""

    @property
    def value(self) -> str:
        return str(self)


def _keep_duckdb_connection() -> None:
    """Make GX keep one connection per DuckDB engine, as it does for SQLite.

    Written here because neither GX 1.24 nor duckdb-engine has a setting for it: for dialects
    outside its `_PERSISTED_CONNECTION_DIALECTS`, GX fetches a query's rows after handing its
    connection back (`with engine.connect(): result = execute(...)`, then `result.fetchall()`);
    duckdb-engine begins a DuckDB transaction on checkout and rolls it back on checkin, which
    discards the pending result, so every metric comes back empty ("list index out of range").
    tests/test_gx_suites.py fails if this stops working.
    """
    dialects = _gx_sql._PERSISTED_CONNECTION_DIALECTS
    if "duckdb" not in [getattr(d, "value", d) for d in dialects]:
        _gx_sql._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DuckDBDialect("duckdb"))


_keep_duckdb_connection()


def _keep_modules_until_their_globals_are_cleared() -> None:
    """At exit, hold every module until the interpreter clears module globals (registered with
    atexit; it runs once nothing else will).

    Why: a process that ran a suite printed ~40 lines of `nanobind: leaked 27 instances ...
    "_duckdb._sqltypes.DuckDBPyType"` as it exited (`import great_expectations, duckdb_engine`
    alone did; no connection or engine was left open: `_close` disposes them). Python 3.11's
    shutdown clears the globals of the modules still alive after its first garbage collection;
    a module whose object is gone by then, while its functions are still held, keeps its globals,
    and everything they reach outlives the last collection. Two such holders: the six dialects
    `referencing.jsonschema` (jsonschema, which GX imports) keeps in an rpds map, a container the
    collector cannot see into (crate-py/rpds#264), in a cycle through its module's globals; and the
    callbacks modules register with `os.register_at_fork` (importlib_metadata's cache), which the
    interpreter drops only after its last collection. From those globals the way runs through
    typing and SQLAlchemy (SQLAlchemy's `dataclass_transform` on typing's shared overload stub) to
    the compiler duckdb-engine registers on SQLAlchemy's TryCast, to duckdb-engine's globals and
    the DuckDB types its annotations name; DuckDB's module, built with nanobind, reports each of
    them at exit. Holding every module object from `sys` (cleared after the module globals) makes
    the interpreter clear every module's globals, which cuts those ways, and the last collection
    frees the rest. tests/test_run_output.py fails if the lines come back.
    """
    sys._warehouse_modules_until_exit = list(sys.modules.values())


atexit.register(_keep_modules_until_their_globals_are_cleared)


def _validation(context, datasource, suite_name: str, relation: str, expectations: Sequence[gx.expectations.Expectation]):
    """The suite over a whole-table batch of a query asset on the relation."""
    asset = datasource.add_query_asset(name=suite_name, query=f"select * from {relation}")
    batch = asset.add_batch_definition_whole_table("whole_table")
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
def _locked(folders: GxFolders | None) -> Iterator[None]:
    """One suite at a time per data folder: checks may run in parallel processes (dagster dev)."""
    if folders is None:
        yield
        return
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


# Data Docs offline: the stylesheet inlined into every page, the mark of a rewritten page, and
# GX's index tables as its template writes them (bootstrap_table.j2: Python reprs, one a line).
OFFLINE_CSS = Path(__file__).with_name("data_docs_offline.css")
_OFFLINE_MARK = '<style id="warehouse-offline">'
_BOOTSTRAP_TABLE = re.compile(
    r"\$\('#(?P<id>[^']+)'\)\.bootstrapTable\(\s*Object\.assign\(\s*\{\s*"
    r"columns: (?P<columns>.*),\n\s*data: (?P<data>.*),\n\s*toolbar: '[^']*'\s*\},\s*"
    r"(?P<options>\{.*\})\s*\)\s*\);"
)
_REMOTE_IMG = re.compile(r"""<img\b[^>]*?\ssrc="https?://[^"]*?/(?P<name>[^/"?]+)(?:\?[^"]*)?"[^>]*>""")


def _make_offline(docs: Path) -> None:
    """Rewrite the Data Docs pages GX wrote so that they read offline and request nothing remote.

    Why: GX 1.24's page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega
    from CDNs, and the logo from GX's S3 bucket with the data context id in the URL (a request
    that identifies the installation, against our "no telemetry"); no site setting turns either
    off, and templates of our own cannot replace GX's (its package loader comes first). Offline
    the pages were unstyled and the index empty, its tables being drawn by bootstrap-table.

    So after each docs update every page not yet rewritten (GX writes the index, the suite's page
    and the new validation page) gets: the index tables written out as HTML from the rows GX puts
    in their scripts, then no script at all (none does anything without jQuery), no remote
    stylesheet, GX's own copy of the logo from static/images (and every static/ path relative to
    the page: GX's favicon link on a validation page is a folder short), no newsletter footer, the
    tabs as titled sections one below the other, remote CSS `url()`s dropped, and
    data_docs_offline.css (the part of Bootstrap the pages use) inlined.
    tests/test_data_docs_offline.py opens the result in Chromium with the network blocked.
    """
    css = OFFLINE_CSS.read_text(encoding="utf-8")
    remote_url = re.compile(r"""url\((['"]?)https?://[^)]*\)""")
    for sheet in (docs / "static").rglob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        if remote_url.search(text):
            sheet.write_text(remote_url.sub("none", text), encoding="utf-8")
    images = docs / "static" / "images"
    for page in docs.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if _OFFLINE_MARK in text:
            continue
        for m in _BOOTSTRAP_TABLE.finditer(text):
            table = _static_table(m["id"], *(ast.literal_eval(m[g]) for g in ("columns", "data", "options")))
            empty = re.compile(rf'<table\s+id="{re.escape(m["id"])}"[^>]*>\s*</table>')
            text = empty.sub(lambda _: table, text, count=1)
        text = re.sub(r"<script\b[^>]*>.*?</script>", "", text, flags=re.S)
        text = re.sub(r"""<link\b[^>]*\shref=["']https?://[^>]*>""", "", text)
        text = re.sub(r"<footer\b.*?</footer>", "", text, flags=re.S)
        text = re.sub(r"<button\b[^>]*clearTableFilters.*?</button>", "", text, flags=re.S)
        text = re.sub(r'\s+onclick="[^"]*"', "", text)

        text = _REMOTE_IMG.sub(
            lambda m: re.sub(r'\ssrc="[^"]*"', f' src="static/images/{m["name"]}"', m[0], count=1)
            if (images / m["name"]).exists() else "", text)
        text = re.sub(r'(\s(?:src|href)=")(?:\.{1,2}/)*static/([^"]+)"',
                      lambda m: f'{m[1]}{Path(os.path.relpath(docs / "static" / m[2], page.parent)).as_posix()}"', text)
        text = re.sub(r'\s(?:src|srcset)="https?://[^"]*"', "", text)  # anything else remote: not loaded
        text = remote_url.sub("none", text)
        text = re.sub(r'(<div\s+class="tab-pane[^"]*"\s+id="([^"]+)"[^>]*>)',
                      lambda m: f'{m[1]}<h5 class="tab-title">{html.escape(m[2].replace("-", " "))}</h5>', text)
        text = text.replace("</head>", f"{_OFFLINE_MARK}\n{css}</style>\n</head>", 1)
        page.write_text(text, encoding="utf-8")


def _static_table(table_id: str, columns: list[dict], rows: list[dict], options: dict) -> str:
    """A bootstrap-table of the Data Docs index as plain HTML: its columns, its rows in its sort
    order, each cell a link to the row's page (GX makes the row clickable) unless it has one."""
    def key(row: dict):
        value = row.get(sort_field)
        if isinstance(value, (int, float)):
            return (0, float(value), "")
        return (1, 0.0, "" if value is None else str(value))

    sort = options.get("sortName")
    sort_field = next((c.get("sortName", c["field"]) for c in columns if c["field"] == sort), sort)
    if sort:
        rows = sorted(rows, key=key, reverse=options.get("sortOrder") == "desc")
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c["field"], "")
            cell = value if isinstance(value, str) else html.escape(str(value))
            link = row.get("_table_row_link_path")
            if link and "<a " not in cell:
                cell = f'<a class="row-link" href="{html.escape(link)}">{cell}</a>'
            cells.append(f"<td>{cell}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table id="{html.escape(table_id)}" class="table table-sm table-static">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


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
        observed=_observed(dict(result.result or {}), query=config.type == "unexpected_rows_expectation"),
        exception=exception,
        column=(config.meta or {}).get("column"),
    )


def _observed(result: dict, query: bool = False) -> str:
    if query and "observed_value" in result:
        # The count of the rows its query returns; the query, in the arguments and the Data Docs,
        # lists them (GX gives the rows themselves only with result_format COMPLETE).
        return f"{result['observed_value']} rows unexpected"
    if "observed_value" in result:
        return _short(result["observed_value"])
    if "unexpected_count" in result:
        text = f"{result['unexpected_count']} of {result.get('element_count', '?')} rows unexpected"
        sample = result.get("partial_unexpected_list") or []
        if sample:
            text += ", e.g. " + _short(sample[:5])
        return text
    return ""


def _condition_text(condition: Any) -> str:
    """A GX row condition as it reads: `study_id == 'default' and step == 'infused'` (a form it
    does not know: its text)."""
    if isinstance(condition, dict):
        kind = condition.get("type")
        if kind in ("and", "or") and isinstance(condition.get("conditions"), list):
            return f" {kind} ".join(_condition_text(c) for c in condition["conditions"])
        if kind == "comparison" and isinstance(condition.get("column"), dict):
            return f"{condition['column'].get('name')} {condition.get('operator')} {condition.get('parameter')!r}"
    return str(condition)


def _short(value: Any, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
