"""How analysts read the warehouse: the published serving file, read-only (README, "How analysts
connect"). In Python or a notebook started in the project (`uv run python`, `uv run jupyter ...`):

    from dagster_project.analysts import connect
    con = connect()                     # the serving file of WAREHOUSE_SERVING_DB_PATH, read-only
    rates = con.sql("select * from marts.agg_response_rates").df()

and in a terminal `uv run warehouse sql` (`shell`): the same connection in a SQL shell, or one
query with `-c`. Why not the `duckdb` command: the duckdb-cli package on PyPI stops at 1.5.6, which
cannot read the files DuckDB 2.0 (the library the warehouse writes with) writes ("version number
69, but we can only read versions between 64 and 68"); a DuckDB CLI 2.0 or later reads them.

Read-only: an analyst never blocks a run, and the run replaces the file atomically (a connection
open during a publish keeps reading the previous copy; connect again for the new one).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TextIO

import duckdb

from dagster_project.settings import Settings

HELP = """Statements end with ';' (several per line are fine). Read-only: the published serving file.
  .tables          list the tables (show all tables;)
  .help            this text
  .quit, .exit     leave (or Ctrl-D)
Schemas: marts, analysis, audit. Example: select * from marts.agg_toxicity_rates where group_by = 'overall';"""


def connect(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the serving file (default: the settings' WAREHOUSE_SERVING_DB_PATH)."""
    file = Path(path) if path is not None else Settings.from_env().serving_file
    if not file.is_file():
        raise FileNotFoundError(f"no serving file at {file}: `warehouse run` publishes it "
                                "(or set WAREHOUSE_SERVING_DB_PATH to where it is)")
    return duckdb.connect(str(file), read_only=True)


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, err: TextIO = sys.stderr) -> bool:
    """Run every statement of `sql`, printing each result as DuckDB's table; False at the first error."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        print(f"Error: {exc}", file=err)
        return False
    for statement in statements:
        try:
            relation = con.sql(statement.query)
            if relation is not None:  # as wide as the terminal; piped into a file, every column
                relation.show(max_width=shutil.get_terminal_size().columns if sys.stdout.isatty() else 100_000)
        except duckdb.Error as exc:
            print(f"Error: {exc}", file=err)
            return False
    return True


def shell(con: duckdb.DuckDBPyConnection, name: str, command: str | None = None,
          stdin: TextIO = sys.stdin) -> int:
    """`warehouse sql`: `command`, or the statements piped in, or an interactive session; exit code."""
    if command is not None:
        return 0 if run_sql(con, command) else 1
    if not stdin.isatty():
        return 0 if run_sql(con, stdin.read()) else 1
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    print(f"{name} (read-only). .help for help, .quit to leave.")
    buffer = ""
    while True:
        try:
            line = input("sql> " if not buffer else "  -> ")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            buffer = ""
            continue
        if not buffer and line.strip().startswith("."):
            word = line.strip().split()[0]
            if word in (".quit", ".exit"):
                return 0
            if word == ".tables":
                run_sql(con, "show all tables;")
            else:
                print(HELP)
            continue
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            run_sql(con, buffer)
            buffer = ""
