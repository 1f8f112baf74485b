"""What `warehouse run` shows a person, and the analysts' commands of the README (issue 20).

`warehouse run` runs as a person or CI runs it: its own process, output not a terminal. It prints
one line per stage and the summary; dbt's and Dagster's log go to the run log, whose path it
prints, and to the terminal only with --verbose; a failure is one message naming the step, the
cause and the log; nothing else on stderr (no `nanobind: leaked`, lib/quality/gx_runner.py). On a
pseudo-terminal it draws rich's live display instead. The analyst commands of the README's "How
analysts connect" are run as written against the serving file the run published.
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from conftest import generate_cohort, warehouse_env
from dagster_project.defs.quality.checks import gx_check
from dagster_project.defs.serving.assets import serving_warehouse
from dagster_project.defs.stages import RUN_STAGES
from dagster_project.lib.warehouse import replace_tables
from dagster_project.run_display import RunDisplay, progress_logger, step_stages
from dagster_project.settings import Settings
from test_gx_checks import BAD_CONSORT, STUDIES, SUBJECTS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
# What dbt and Dagster print, which belongs in the run log: a dbt node line, a Dagster log record.
DBT_LINE = re.compile(r"^\s*\d+ of \d+ (START|OK|PASS|ERROR|FAIL|WARN|SKIP)\b", re.M)
DAGSTER_LINE = re.compile(r" - (DEBUG|INFO|WARNING|ERROR) - .*(STEP_START|STEP_SUCCESS|ASSET_MATERIALIZATION|RUN_START)")


def _warehouse(root: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: int = 900):
    """`warehouse ARGS` in its own process, output captured (not a terminal)."""
    env = {**os.environ, **warehouse_env(root), **(extra_env or {})}
    env.pop("WAREHOUSE_RUN_LOG", None)
    return subprocess.run([sys.executable, "-m", "dagster_project.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The whole pipeline on a small cohort (wehrli2022, 14 subjects), as `make demo` runs it."""
    root = tmp_path_factory.mktemp("cli_run")
    generate_cohort("wehrli2022", root)
    started = time.monotonic()
    proc = _warehouse(root, "run")
    return root, proc, time.monotonic() - started


def _stage_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.split("  ")[0].strip() in RUN_STAGES]


def test_run_prints_one_line_per_stage_then_the_summary(cli_run):
    root, proc, _ = cli_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = _stage_lines(proc.stdout)
    assert [line.split("  ")[0].strip() for line in lines] == list(RUN_STAGES)  # each stage once, in order
    for line in lines:
        done, total = map(int, re.search(r"(\d+)/(\d+)\s+steps", line).groups())
        assert done == total > 0, line
    assert re.search(r"^ingest .* [\d,]+ rows accepted$", proc.stdout, re.M)
    assert re.search(r"^(\d+) of \1 steps ran in ", proc.stdout, re.M)
    # then the summary, and the last line says where the serving file and the log are
    assert proc.stdout.index("== summary") > proc.stdout.index(lines[-1])
    assert "CONSORT: enrolled 14" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].endswith(f"log: {root / 'warehouse_run.log'}")


def test_dbt_and_dagster_logs_go_to_the_run_log_only(cli_run):
    root, proc, _ = cli_run
    log = root / "warehouse_run.log"
    first, second = proc.stdout.splitlines()[:2]
    assert first == "warehouse run: full rebuild: no serving copy yet"  # the plan, then where the log is
    assert f"the log of dbt and Dagster goes to {log}" in second
    assert not DBT_LINE.search(proc.stdout) and not DAGSTER_LINE.search(proc.stdout), proc.stdout[:3000]
    assert "Running with dbt=" not in proc.stdout
    text = log.read_text()
    assert DBT_LINE.search(text) and "Running with dbt=" in text  # dbt's own output
    assert DAGSTER_LINE.search(text) and "STEP_SUCCESS" in text  # every Dagster event
    assert "serving__warehouse" in text
    assert len(proc.stdout.splitlines()) < 40  # the ~850 lines of before are in the log


def test_nothing_on_stderr_and_no_shutdown_noise(cli_run):
    _, proc, _ = cli_run
    assert "nanobind" not in proc.stderr and "leaked" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip() == "", proc.stderr[-3000:]


_SUITE_IN_A_PROCESS = """
import atexit, sys
import great_expectations as gx, pandas as pd
from dagster_project.lib.quality import gx_runner
if sys.argv[1] == "without":
    atexit.unregister(gx_runner._keep_modules_until_their_globals_are_cleared)
frame = pd.DataFrame({"a": [1, None]})
print(gx_runner.run_suite("t", [gx.expectations.ExpectColumnValuesToNotBeNull(column="a")], frame).success)
"""


def test_a_process_that_ran_a_suite_exits_without_leak_reports():
    """The cause, in one process: a GX suite run through duckdb-engine; without the exit hook of
    gx_runner (the control) DuckDB's nanobind module reports leaked types at exit."""
    runs = {mode: subprocess.run([sys.executable, "-c", _SUITE_IN_A_PROCESS, mode], cwd=REPO, capture_output=True,
                                 text=True, timeout=300) for mode in ("with", "without")}
    assert runs["with"].returncode == 0 and runs["with"].stdout.strip() == "False", runs["with"].stderr[-3000:]
    assert "nanobind" not in runs["with"].stderr, runs["with"].stderr[-3000:]
    assert "nanobind: leaked" in runs["without"].stderr and "DuckDBPyType" in runs["without"].stderr


def test_verbose_puts_the_log_on_the_terminal_too(cli_run, tmp_path):
    root, first, _ = cli_run
    assert first.returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    # one dbt model (dbt's output) and the publish step (Dagster's events), on the warehouse as it is
    proc = _warehouse(copy, "run", "--verbose", "--select", "key:staging/stg_ingest__studies or key:serving/warehouse")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert DBT_LINE.search(proc.stdout) and "Running with dbt=" in proc.stdout
    assert DAGSTER_LINE.search(proc.stdout) and "serving__warehouse" in proc.stdout
    log = (copy / "warehouse_run.log").read_text()
    assert DBT_LINE.search(log) and "serving__warehouse" in log  # the log has it all the same
    assert sorted(line.split("  ")[0].strip() for line in _stage_lines(proc.stdout)) == ["dbt build", "publish"]
    assert "nanobind" not in proc.stderr


def test_a_failed_step_is_one_message_with_the_step_the_cause_and_the_log(tmp_path):
    """A DuckDB that cannot allocate memory fails the first ingest step: the run stops, prints
    which step failed and why, where the log is, and exits 1 without a traceback."""
    generate_cohort("wehrli2022", tmp_path)
    proc = _warehouse(tmp_path, "run", extra_env={"WAREHOUSE_DUCKDB_MEMORY_LIMIT": "1KB"})
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = proc.stdout
    message = out[out.index("RUN FAILED"):]
    assert re.search(r"^  step raw__\w+ \(ingest\): .*Out of Memory Error", message, re.M), message
    assert f"  log: {tmp_path / 'warehouse_run.log'}" in message
    assert "serving file is unchanged" in message.splitlines()[0]
    assert "Traceback" not in out + proc.stderr and "Stack Trace" not in out
    assert "nanobind" not in proc.stderr
    log = (tmp_path / "warehouse_run.log").read_text()
    assert "STEP_FAILURE" in log and "Out of Memory Error" in log  # the whole story is in the log
    assert not (tmp_path / "serving.duckdb").exists()


def test_a_failed_blocking_check_is_named_with_its_cause(tmp_path):
    """A real GX check failing in a real Dagster run (the stand-in marts of test_gx_checks.py, the
    real check and publish): the display names the check's step, the check and what failed, not
    Dagster's generic step error, and counts the publish it stopped as not run."""
    settings = Settings.from_env({}, landing_dir=str(tmp_path / "landing"), db_path=str(tmp_path / "warehouse.duckdb"),
                                 serving_db_path=str(tmp_path / "serving.duckdb"))

    @dg.asset(key=["marts", "dim_subjects"], group_name="marts")
    def dim_subjects(settings: Settings) -> None:
        replace_tables(settings.db_path, "marts", {"dim_subjects": SUBJECTS, "dim_studies": STUDIES})

    @dg.asset(key=["marts", "agg_consort"], deps=[dim_subjects], group_name="marts")
    def agg_consort(settings: Settings) -> None:
        replace_tables(settings.db_path, "marts", {"agg_consort": BAD_CONSORT})

    out = io.StringIO()
    display = RunDisplay(out)
    definitions = dg.Definitions(assets=[dim_subjects, agg_consort, serving_warehouse()],
                                 asset_checks=[gx_check("marts.dim_subjects"), gx_check("marts.agg_consort")],
                                 resources={"settings": settings}, loggers={"progress": progress_logger(display)})
    job = definitions.resolve_implicit_global_asset_job_def()
    display.plan(step_stages(definitions, job))
    with display:
        result = job.execute_in_process(run_config={"loggers": {"progress": {}}},
                                        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not result.success
    (failure,) = display.run.failures
    assert failure.step == "marts__agg_consort_great_expectations" and failure.stage == "checks"
    assert re.match(r"blocking check marts/agg_consort great_expectations failed: \d+ expectation\(s\) failed",
                    failure.cause), failure.cause
    assert str(tmp_path / "docs" / "index.html") in failure.cause
    printed = out.getvalue()
    assert re.search(r"^checks\s+2/2\s+steps .*1 failed", printed, re.M), printed
    assert re.search(r"^publish\s+0/1\s+steps .*1 not run", printed, re.M), printed
    assert not (tmp_path / "serving.duckdb").exists()


def test_on_a_terminal_the_progress_is_a_live_display(cli_run, tmp_path):
    root, first, _ = cli_run
    assert first.returncode == 0
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    env = {**os.environ, **warehouse_env(copy), "TERM": "xterm-256color", "COLUMNS": "120"}
    env.pop("WAREHOUSE_RUN_LOG", None)
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dagster_project.cli", "run", "--select", "key:serving/warehouse"],
                            cwd=REPO, env=env, stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 600)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, screen[-3000:]
    assert "━" in screen and "all steps" in screen and "publish" in screen  # rich's bars, a row per stage
    assert "\x1b[" in screen  # drawn in place with terminal control sequences
    assert "== summary" in screen and "nanobind" not in screen


# ---- the analysts' commands (README, "How analysts connect") --------------------------------
def _readme_blocks(section: str) -> dict[str, list[str]]:
    text = README.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks: dict[str, list[str]] = {}
    for language, body in re.findall(r"```(\w+)\n(.*?)```", text, re.S):
        blocks.setdefault(language, []).append(body)
    return blocks


@pytest.fixture(scope="module")
def analyst_root(cli_run, tmp_path_factory):
    """A folder laid out like the project after `make demo`: data/serving.duckdb."""
    root, proc, _ = cli_run
    assert proc.returncode == 0
    folder = tmp_path_factory.mktemp("analyst")
    (folder / "data").mkdir()
    shutil.copy2(root / "serving.duckdb", folder / "data" / "serving.duckdb")
    return folder


def test_the_readme_sql_shell_command_runs_as_written(analyst_root):
    blocks = _readme_blocks("How analysts connect")
    (command,) = [line for block in blocks["bash"] for line in block.splitlines() if line.startswith("uv run warehouse sql")]
    assert command == "uv run warehouse sql"
    queries = "".join(blocks["sql"])
    env = {**os.environ, "WAREHOUSE_SERVING_DB_PATH": str(analyst_root / "data" / "serving.duckdb")}
    proc = subprocess.run([sys.executable, "-m", "dagster_project.cli", "sql"], input=queries, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "overall" in proc.stdout and proc.stderr == ""
    assert proc.stdout.count("┌") == len([q for q in queries.split(";") if q.strip()])  # a table per query
    # one query with -c, and the file read-only: a write is refused
    one = subprocess.run([sys.executable, "-m", "dagster_project.cli", "sql", "-c", "select count(*) as n from marts.dim_subjects;"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert one.returncode == 0 and re.search(r"│\s+14 │", one.stdout), one.stdout + one.stderr
    write = subprocess.run([sys.executable, "-m", "dagster_project.cli", "sql", "-c", "create table marts.x as select 1;"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert write.returncode == 1 and "read-only" in write.stderr


def test_the_readme_python_examples_run_as_written(analyst_root):
    """Both Python blocks, verbatim, from the folder a person runs them in (data/serving.duckdb)."""
    blocks = _readme_blocks("How analysts connect")["python"]
    assert len(blocks) == 2
    for block in blocks:
        script = block + "\nprint(len(rates), sorted(rates.columns)[:3])\n"
        env = {**os.environ, "WAREHOUSE_SERVING_DB_PATH": str(analyst_root / "data" / "serving.duckdb")}
        proc = subprocess.run([sys.executable, "-c", script], cwd=analyst_root, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, block + proc.stderr
        assert int(proc.stdout.split()[0]) > 0


def test_connect_is_read_only_and_names_a_missing_file(analyst_root, tmp_path):
    from dagster_project.analysts import connect

    with connect(analyst_root / "data" / "serving.duckdb") as con:
        frame = con.sql("select * from marts.agg_response_rates").df()
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0
        with pytest.raises(Exception, match="read-only"):
            con.execute("create table marts.x as select 1")
    with pytest.raises(FileNotFoundError, match="warehouse run"):
        connect(tmp_path / "nothing.duckdb")


def test_no_duckdb_cli_is_promised():
    """The README tells analysts what works: `warehouse sql`, not a `duckdb` command it does not install."""
    section = README.split("## How analysts connect\n", 1)[1].split("\n## ", 1)[0]
    assert "duckdb -readonly" not in "".join(_readme_blocks("How analysts connect").get("bash", []))
    assert "uv run warehouse sql" in section
