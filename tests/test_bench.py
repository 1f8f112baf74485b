"""The benchmark (benchmarks/warehouse_bench.py, `make bench`) on a tiny scale cohort: every figure
is printed, and the counted ones equal a count read independently from the files and the Dagster
runs it leaves (--keep). No speed is asserted here: speed is measured by the bench itself, never by
a timed test."""

from __future__ import annotations

import csv
import inspect
import io
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from benchmarks import warehouse_bench
from benchmarks.figures import (STAGES, DbtNodeTime, EdgeTable, ExplainTiming, Floor, LatencyFigures, LineageFigures,
                                RunFigures, SizeFigures)
from benchmarks.floor import run_target_dir
from benchmarks.latency import MAX_ROWS, prepare_park2023, small_delivery_rows
from benchmarks.lineage_cost import EXPLAIN_TABLE, EXPLAIN_WHERE, LINEAGE_COLUMNS
from benchmarks.pipeline_run import dagster_instance, materialization_metadata, step_figures, TreeSampler, wait_with_usage
from benchmarks.report import format_table, format_targets

SUBJECTS = 30


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[str, Path]:
    """The bench's printout and its work folder (kept: the files the figures are checked against)."""
    work = tmp_path_factory.mktemp("bench")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = warehouse_bench.main(["--subjects", str(SUBJECTS), "--dir", str(work), "--incremental", "--latency",
                                     "--keep"])
    out = buffer.getvalue()
    try:
        assert code == 0, out[-4000:]
        yield out, work
    finally:  # --keep left the runs' dbt target folders under dbt/target: not the test's to keep
        for home in work.glob("*/dagster_home"):
            for run_id in _runs(home):
                target = run_target_dir(run_id)
                if target is not None:
                    shutil.rmtree(target, ignore_errors=True)


@pytest.fixture(scope="module")
def bench_output(bench_run) -> str:
    return bench_run[0]


def _number(line: str) -> float:
    """The figure at the end of a stage line, e.g. `    dbt build (models + tests)   12.3`."""
    return float(line.split()[-1].replace(",", ""))


def _line(out: str, label: str) -> str:
    lines = [line for line in out.splitlines() if label in line]
    assert lines, f"no line with {label!r} in:\n{out}"
    return lines[0]


def test_every_figure_is_printed(bench_output):
    out = bench_output
    assert "warehouse bench:" in out and "CPUs" in out  # the machine
    assert "assets: everything; checks: all" in out  # the Great Expectations checks are timed too
    assert re.search(r"delivered: [\d,]+ rows in \d+ files, [\d,]+ bytes", out)
    for label in ("ingest (read + store)", "read (CSV -> frame)", "store (DuckDB insert)", "validation (pandera",
                  "dbt build", "analysis", "publish (serving copy)", "other steps", "orchestration",
                  "total (child process, wall)", "Dagster event log writes", "CPU time (process tree)",
                  "rows per second", "peak RSS (process tree, sampled)", "start-up (imports, definitions",
                  "between steps (inside the run)", "after the run (summary"):
        _line(out, label)
    assert "run succeeded" in out
    for label in ("row-level lineage, after the full run", "row-level lineage, after the +1% delivery's run",
                  "audit.lineage", "audit.analysis_lineage", "lineage columns (delivery_sha256, file_name, row_number)",
                  "dbt, each node's own wall time", "warehouse explain marts.agg_toxicity_rates --where group_by=overall"
                  " --where toxicity=CRS --where grade_category=any --json", "explain wall s (process)",
                  "HTML report explain pages:", "small delivery into a built park2023 warehouse",
                  "file landed -> serving copy published", "file landed -> `warehouse run` returned",
                  "DuckDB floor of park2023", "latency targets (issue 20)"):
        _line(out, label)


def test_stage_times_come_from_the_run(bench_output):
    out = bench_output.split("incremental:")[0]
    for label in ("ingest (read + store)", "validation (pandera", "dbt build", "analysis", "publish (serving copy)"):
        assert _number(_line(out, label)) > 0, label
    total = _number(_line(out, "total (child process, wall)"))
    assert total > 0
    # orchestration is split into its parts, which add up to it (each printed to 0.1 s)
    parts = [_number(_line(out, label)) for label in ("start-up (imports", "between steps", "after the run")]
    assert parts[0] > 0
    assert abs(sum(parts) - _number(_line(out, "orchestration (start-up"))) <= 0.2
    assert re.search(r"peak RSS \(process tree, sampled\)\s+\d+\.\d\d GiB", out)
    assert float(re.search(r"([\d.]+) GiB", _line(out, "peak RSS")).group(1)) > 0


def test_floor_and_ratio_are_printed(bench_output):
    floor = _line(bench_output, "DuckDB floor (same files, same SQL)")
    assert re.search(r"read_csv [\d.]+ \+ \d+ SQL models [\d.]+", floor)
    assert int(re.search(r"\+ (\d+) SQL models", floor).group(1)) > 10
    assert "Python models excluded: agg_response_rates, agg_toxicity_rates" in bench_output
    ratio = _line(bench_output, "total / floor:")
    assert re.search(r"total / floor: [\d.]+x wall, [\d.]+x CPU", ratio)


def test_incremental_delivery_is_timed(bench_output):
    inc = bench_output.split("incremental:")[1]
    assert re.search(r"1 more subjects \([\d,]+ rows\) after the full run", bench_output)
    assert _number(_line(inc, "total (child process, wall)")) > 0
    assert re.search(r"second run / full run: \d+% wall", inc)


# --------------------------------------------------------------------------------------------
# row-level lineage: printed figures against the files and the Dagster runs the bench kept
# --------------------------------------------------------------------------------------------
def _lineage_block(out: str, after_increment: bool) -> str:
    full, inc = out.split("incremental:", 1)
    if after_increment:
        return inc.split("row-level lineage, after the +1% delivery's run", 1)[1].split("side by side")[0]
    return full.split("row-level lineage, after the full run", 1)[1]


def _edges(block: str, table: str) -> int | None:
    line = _line(block, f"{table} ")
    found = re.search(rf"{re.escape(table)}\s+([\d,]+) edges", line)
    return int(found.group(1).replace(",", "")) if found else None


def _bytes(block: str, table: str) -> tuple[float, int]:
    """(MB, bytes per edge) printed for an edge table."""
    found = re.search(rf"{re.escape(table)}\s+[\d,]+ edges\s+([\d,.]+) MB \(([\d,]+) B per edge\)", block)
    assert found, block
    return float(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))


def _runs(dagster_home: Path) -> list[str]:
    """The run ids of a Dagster home, oldest first."""
    with dagster_instance(dagster_home) as instance:
        return [r.run_id for r in reversed(instance.get_runs())]


def _published_rows(dagster_home: Path, run_id: str) -> dict[str, int]:
    """Rows per table of the serving copy, as the publish step recorded them in the run."""
    meta = materialization_metadata(dagster_home, run_id, ("serving", "warehouse"))
    assert meta is not None
    return {r.data["table"]: int(r.data["rows"]) for r in meta["rows"].records}


def test_lineage_edges_of_the_full_run_are_the_published_counts(bench_run):
    """The edges printed after the full run are the rows the publish step and dbt counted then."""
    out, work = bench_run
    home = work / f"n{SUBJECTS}" / "dagster_home"
    full = _runs(home)[0]
    published = _published_rows(home, full)
    block = _lineage_block(out, after_increment=False)
    assert _edges(block, "audit.lineage") == published["audit.lineage"] > 0
    assert _edges(block, "audit.analysis_lineage") == published.get("audit.analysis_lineage")
    dbt = materialization_metadata(home, full, ("audit", "lineage"))
    assert dbt is not None and _edges(block, "audit.lineage") == dbt["dagster/row_count"]
    by_target = _line(block, "by target:")
    assert sum(int(n.replace(",", "")) for n in re.findall(r" ([\d,]+)(?:,|$)", by_target)) == published["audit.lineage"]


def test_lineage_after_the_increment_matches_the_kept_files(bench_run):
    out, work = bench_run
    root = work / f"n{SUBJECTS}"
    block = _lineage_block(out, after_increment=True)
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        present = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}
        for table in ("audit.lineage", "audit.analysis_lineage"):
            counted = con.execute(f"select count(*) from {table}").fetchone()[0] if table in present else None
            assert _edges(block, table) == counted, table
        # the rate cell explained: every path of edges below it, walked in SQL (explain walks it in Python)
        condition = " and ".join(f"cast({c} as varchar) = '{v}'" for c, v in EXPLAIN_WHERE)
        cells = con.execute(f"select count(*), sum(n_subjects) from {EXPLAIN_TABLE} where {condition}").fetchone()
        edges = " union all by name ".join(f"select * from {t}" for t in ("audit.lineage", "audit.analysis_lineage")
                                           if t in present)
        keys = " || '|' || ".join(f"'{c}=' || coalesce(cast({c} as varchar), '')" for c in
                                  ("toxicity", "criteria", "group_by", "group_value", "grade_category"))
        targets, delivered = con.execute(f"""
            with recursive e as ({edges}),
            cell as (select study_id, {keys} as k from {EXPLAIN_TABLE} where {condition}),
            walk as (
                select e.* from e join cell on e.study_id = cell.study_id and e.target_key = cell.k
                where e.target_table = '{EXPLAIN_TABLE}'
                union all
                select e.* from e join walk w on e.study_id = w.study_id and e.target_table = w.upstream_table
                    and e.target_key = w.upstream_key and e.target_column = w.upstream_column
            )
            select count(*) filter (where upstream_key is not null), count(*) filter (where upstream_key is null)
            from walk""").fetchone()
    found = re.search(r"; (\d+) row, ([\d,]+) lineage targets, ([\d,]+) delivered rows", block)
    assert found, block
    assert (int(found.group(1)), int(found.group(2).replace(",", "")), int(found.group(3).replace(",", ""))) == (
        cells[0], targets, delivered)
    assert cells[1] > 0 and targets >= cells[1] and delivered > 0  # the counted subjects, at least
    # the lineage columns: the rows of the warehouse's tables (outside raw and audit) carrying them
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute(
            """select c.schema_name, c.table_name from duckdb_columns() c join duckdb_tables() t
                   on t.schema_name = c.schema_name and t.table_name = c.table_name
               where c.schema_name not in ('raw', 'audit') and c.column_name in ? group by all having count(*) = 3""",
            [list(LINEAGE_COLUMNS)]).fetchall()
        rows = sum(con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables)
    found = re.search(r"of (\d+) warehouse tables: ([\d,]+) rows, ([\d,.]+) MB", block)
    assert found, block
    assert (int(found.group(1)), int(found.group(2).replace(",", ""))) == (len(tables), rows)
    assert any(t == "fct_biomarker_results" for _, t in tables) and rows > 0
    # the report's explain pages: the pages the report left in its folder
    pages = re.search(r"HTML report explain pages: ([\d,]+) in ([\d.]+) s", block)
    assert pages, block
    assert int(pages.group(1).replace(",", "")) == len(list((root / "reports" / "explain").glob("*.html"))) > 0


def test_lineage_bytes_are_whole_blocks_within_the_file(bench_run):
    out, work = bench_run
    serving = (work / f"n{SUBJECTS}" / "serving.duckdb").stat().st_size
    block = _lineage_block(out, after_increment=True)
    assert "used blocks x 256 KiB" in block
    for table in ("audit.lineage", "audit.analysis_lineage"):
        if _edges(block, table) is None:
            continue
        mb, per_edge = _bytes(block, table)
        size = mb * 1e6
        assert 256 * 1024 - 1e4 <= size <= serving  # at least one block, no more than the file holding it
        assert round(size / 262144) * 262144 == pytest.approx(size, abs=1e4)  # whole blocks (printed to 0.01 MB)
        assert per_edge == pytest.approx(size / _edges(block, table), rel=0.02)


def test_dbt_times_of_the_lineage_models(bench_run):
    out, work = bench_run
    home = work / f"n{SUBJECTS}" / "dagster_home"
    block = _lineage_block(out, after_increment=False)
    line = _line(block, "dbt, each node's own wall time")
    dbt_stage = _number(_line(out.split("incremental:")[0], "dbt build (models + tests)"))
    full = _runs(home)[0]
    for model, key in (("audit_lineage", ("audit", "lineage")), ("int_toxicity_max_grades", None)):
        found = re.search(rf"{model} ([\d.]+) s, its (\d+) data tests ([\d.]+) s", line)
        assert found, line
        seconds, tests = float(found.group(1)), int(found.group(2))
        assert 0 < seconds <= dbt_stage and tests > 0
        if key is not None:  # dagster-dbt's record of the same node, in the same run
            meta = materialization_metadata(home, full, key)
            assert meta["unique_id"].endswith(f".{model}") and meta["Execution Duration"] <= dbt_stage


def test_explain_is_timed(bench_output):
    for after in (False, True):
        block = _lineage_block(bench_output, after_increment=after)
        found = re.search(r"explain wall s \(process\)\s+([\d.]+)\s+\(explain\(\) alone, modules loaded: ([\d.]+) s;"
                          r".* ([\d,]+) bytes of JSON\)", block)
        assert found, block
        wall, call = float(found.group(1)), float(found.group(2))
        assert 0 < call < wall  # the lookup is part of the process's time
        assert int(found.group(3).replace(",", "")) > 1000


# --------------------------------------------------------------------------------------------
# one small delivery into park2023, and the latency targets
# --------------------------------------------------------------------------------------------
def _latency_block(out: str) -> str:
    return out.split("small delivery into a built park2023 warehouse", 1)[1].split("latency targets")[0]


def test_small_delivery_is_published_and_timed(bench_run):
    out, work = bench_run
    root = work / "park2023"
    block = _latency_block(out)
    landed = re.search(r"landed: (\S+), (\d+) rows", block)
    assert landed, block
    file_name, rows = landed.group(1), int(landed.group(2))
    path = root / "landing" / file_name
    with path.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == rows
    assert 0 < rows <= MAX_ROWS
    latency = float(re.search(r"file landed -> serving copy published\s+([\d.]+)", block).group(1))
    returned = float(re.search(r"file landed -> `warehouse run` returned\s+([\d.]+)", block).group(1))
    assert 0 < latency <= returned
    home = root / "dagster_home"
    build, run = _runs(home)
    with duckdb.connect(str(root / "serving.duckdb"), read_only=True) as con:
        published_run, published_at = con.execute("select run_id, published_at from audit.publication").fetchone()
        status, accepted, received_at = con.execute(
            "select status, rows_accepted, received_at from audit.deliveries where file_name = ?", [file_name]).fetchone()
    assert (published_run, status, accepted) == (run, "loaded", rows)
    # landed = the file's modification time, as the ingest recorded it (received_at, UTC)
    mtime = path.stat().st_mtime
    assert received_at == datetime.fromtimestamp(mtime, tz=timezone.utc).replace(tzinfo=None)
    # published = the publish step's end in the run's event log
    steps = step_figures(home, run)
    assert latency == pytest.approx(steps["published_at"] - mtime, abs=0.051)
    # ... which is after the publish wrote audit.publication, by at most the publish step's time
    by_product = (published_at - received_at).total_seconds()
    publish = steps["stages"]["publish"]
    assert by_product - 0.05 <= latency <= by_product + publish + 0.05
    floor = re.search(r"DuckDB floor of park2023\s+([\d.]+)\s+\(read_csv ([\d.]+) \+ (\d+) SQL models ([\d.]+)", block)
    assert floor, block
    assert float(floor.group(1)) == pytest.approx(float(floor.group(2)) + float(floor.group(4)), abs=0.11)


def test_latency_targets_are_the_printed_figures(bench_output):
    out = bench_output
    targets = out.split("latency targets (issue 20)", 1)[1]
    assert f"at {SUBJECTS} subjects (the targets are for 10,000: not their figures)" in targets
    small = _line(targets, "small delivery, file -> serving copy")
    published = float(re.search(r"file landed -> serving copy published\s+([\d.]+)", out).group(1))
    assert re.search(rf"\s{published:.1f} s\s+<= 15 s\s+[\d.]+ s \(park2023\)\s+(met|not met)$", small), small
    full_part, inc_part = out.split("incremental:", 1)
    full = _number(_line(full_part, "total (child process, wall)"))
    inc = _number(_line(inc_part, "total (child process, wall)"))
    floor = float(re.search(r"DuckDB floor \(same files, same SQL\)\s+([\d.]+)", full_part).group(1))
    # the ratios come from the unrounded times: within what the printed (0.1 s) times allow
    share = _line(targets, "+1% subjects: second run / full run")
    found = re.search(r"(\d+)% \(([\d.]+) s\)\s+<= 15%", share)
    assert found and float(found.group(2)) == inc, share
    assert (inc - 0.05) / (full + 0.05) - 0.005 <= int(found.group(1)) / 100 <= (inc + 0.05) / (full - 0.05) + 0.005
    ratio = _line(targets, "full run: total / floor (wall)")
    found = re.search(r"([\d.]+)x \(([\d.]+) s\)\s+<= 2x\s+([\d.]+) s", ratio)
    assert found and (float(found.group(2)), float(found.group(3))) == (full, floor), ratio
    assert (full - 0.05) / (floor + 0.05) - 0.05 <= float(found.group(1)) <= (full + 0.05) / (floor - 0.05) + 0.05
    rss = _line(targets, "full run: peak RSS")
    peak = re.search(r"peak RSS \(process tree, sampled\)\s+([\d.]+ GiB)", full_part).group(1)
    assert peak in rss and "<= 3.00 GiB" in rss


def _run(wall: float, peak: int = 2**30) -> RunFigures:
    return RunFigures(
        exit_code=0, wall=wall, cpu=wall * 1.5, peak_rss=peak, max_single_rss=2**29, peak_step="raw__vitals",
        run_wall=wall - 1, stages={s: wall / len(STAGES) for s in STAGES},
        ingest_phases={"read": 1.0, "validate": 2.0, "store": 1.0}, other_steps={}, steps={}, failed_steps=[],
        event_log_events=900, event_log_seconds=9.0, run_id=None, log=Path("run.log"))


def test_each_run_reports_its_own_largest_process():
    """A run's "largest single process" is its own, even when the benchmark process that starts it
    is larger (ru_maxrss of a forked child starts at its parent's RSS: the +1% run once printed the
    4.44 GiB of the benchmark process after its in-process floor)."""
    ballast = bytearray(600 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: 600 MiB resident here
    code = ("import sys, time; block = bytearray(100 * 2**20); block[::4096] = b'x' * len(block[::4096]); "
            "time.sleep(1.0); sys.exit(3)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    sampler = TreeSampler(proc.pid, interval=0.05)
    sampler.start()
    exit_code, usage = wait_with_usage(proc)
    sampler.stop()
    del ballast
    assert exit_code == 3
    assert 100 * 2**20 <= sampler.max_single < 400 * 2**20, sampler.max_single / 2**20
    assert usage.ru_utime + usage.ru_stime > 0


def test_latency_targets_verdicts():
    """At 10,000 subjects, each figure against its target: the README's table (211.3 s, floor 49.7 s,
    +1% 171.0 s, 2.99 GiB) and a small delivery of 12 s."""
    fig = SizeFigures(10_000, 6_701_549, 110, 571_000_000, _run(211.3, int(2.99 * 2**30)),
                      Floor(read_seconds=21.6, sql_seconds=28.1, cpu=70.4, models=["m"], python_models=[]),
                      incremental=_run(171.0), incremental_subjects=100)
    small = _run(40.0)
    small.started_at, small.published_at = 1000.0, 1012.5
    latency = LatencyFigures(build=_run(90.0), file_name="serum_labs/x.csv", rows=5, landed_at=1000.5, run=small,
                             published=True, rows_accepted=5,
                             floor=Floor(read_seconds=0.4, sql_seconds=0.5, cpu=1.0, models=["m"], python_models=[]))
    lines = format_targets([_size(1000, 650_000, 60.0), fig], latency)
    assert lines[0].startswith("latency targets (issue 20): full run and +1% at 10,000 subjects;")
    assert re.search(r"small delivery, file -> serving copy\s+12\.0 s\s+<= 15 s\s+0\.9 s \(park2023\)\s+met$", lines[2])
    assert re.search(r"\s81% \(171\.0 s\)\s+<= 15%\s+49\.7 s = 24% of full\s+not met$", lines[3])
    assert re.search(r"\s4\.3x \(211\.3 s\)\s+<= 2x\s+49\.7 s\s+not met$", lines[4])
    assert re.search(r"\s2\.99 GiB\s+<= 3\.00 GiB\s+-\s+met$", lines[5])
    unpublished = LatencyFigures(build=_run(90.0), file_name="serum_labs/x.csv", rows=5, landed_at=1000.5, run=_run(40.0),
                                 published=False, rows_accepted=None, floor=None, note="run exit 1")
    assert "not published" in format_targets([fig], unpublished)[2]
    assert "not measured (--latency)" in format_targets([fig], None)[2]


def test_small_delivery_rows_are_new_keys(tmp_path):
    """The rows landed copy one collection of one subject an hour later: no natural key of any
    delivery repeated, every value a valid one."""
    prepare_park2023(tmp_path, 20230703)
    folder = tmp_path / "landing" / "serum_labs"
    header, rows = small_delivery_rows(folder)
    keys = set()
    for path in folder.glob("*.csv"):
        with path.open(encoding="utf-8-sig") as handle:
            keys |= {(r["subject_id"], r["collected_at"], r["test"]) for r in csv.DictReader(handle)}
    assert header == ["subject_id", "collected_at", "test", "value", "unit"]
    assert 3 <= len(rows) <= MAX_ROWS
    assert len({(r["subject_id"], r["collected_at"]) for r in rows}) == 1
    assert not {(r["subject_id"], r["collected_at"], r["test"]) for r in rows} & keys
    assert all(float(r["value"]) >= 0 for r in rows)


def _size(n: int, rows: int, wall: float, lineage: LineageFigures | None = None) -> SizeFigures:
    floor = Floor(read_seconds=1.0, sql_seconds=wall / 10, cpu=2.0, models=["m"], python_models=[])
    return SizeFigures(n, rows, 11, rows * 80, _run(wall), floor, lineage=lineage)


def test_side_by_side_lineage_rows():
    def lineage(edges: int, analysis: int | None) -> LineageFigures:
        return LineageFigures(
            serving_bytes=10**8, warehouse_bytes=10**9,
            tables=[EdgeTable("audit.lineage", edges, 2**20), EdgeTable("audit.analysis_lineage", analysis,
                                                                         2**19 if analysis else None)],
            column_tables=["staging.stg_serum__labs"], column_rows=10**6, column_bytes=3 * 2**20, block_size=2**18,
            dbt=[DbtNodeTime("audit_lineage", 1.25, 8, 2.0), DbtNodeTime("int_toxicity_max_grades", None)],
            explain=ExplainTiming(command=["warehouse"], exit_code=0, wall=4.5), report_pages=10, report_seconds=0.75)

    table = "\n".join(format_table([_size(1000, 650_000, 60.0, lineage(130_000, 290_000)),
                                     _size(3000, 1_950_000, 120.0, lineage(390_000, None))]))
    assert re.search(r"audit\.lineage edges\s+130,000\s+390,000$", table, re.M)
    assert re.search(r"audit\.analysis_lineage edges\s+290,000\s+-$", table, re.M)
    assert re.search(r"lineage edges per subject\s+420\.0\s+130\.0$", table, re.M)
    assert re.search(r"dbt audit_lineage s\s+1\.25\s+1\.25$", table, re.M)
    assert re.search(r"dbt int_toxicity_max_grades s\s+-\s+-$", table, re.M)
    assert re.search(r"explain \(rate cell\) s\s+4\.50\s+4\.50$", table, re.M)


def test_side_by_side_table():
    """Several sizes print one table with a column per size and the marginal cost per row."""

    def figures(n: int, rows: int, wall: float) -> SizeFigures:
        run = RunFigures(
            exit_code=0, wall=wall, cpu=wall * 1.5, peak_rss=2**30, max_single_rss=2**29, peak_step="raw__vitals",
            run_wall=wall - 1,
            stages={s: wall / len(STAGES) for s in STAGES},
            ingest_phases={"read": 1.0, "validate": 2.0, "store": 1.0}, other_steps={}, steps={}, failed_steps=[],
            event_log_events=900, event_log_seconds=9.0, run_id=None, log=Path("run.log"),
        )
        floor = Floor(read_seconds=1.0, sql_seconds=wall / 10, cpu=2.0, models=["m"], python_models=[])
        return SizeFigures(n, rows, 11, rows * 80, run, floor)

    table = "\n".join(format_table([figures(1000, 650_000, 60.0), figures(3000, 1_950_000, 120.0)]))
    assert re.search(r"subjects\s+1,000\s+3,000", table)
    for label in ("delivered rows", "ingest s", "validation s", "dbt s", "analysis s", "publish s", "total s (wall)",
                  "CPU s", "rows per second", "peak RSS GiB", "DuckDB floor s", "total / floor (wall)",
                  "marginal µs per added row (wall)"):
        assert label in table, label
    marginal = _line(table, "marginal µs per added row (wall)")
    assert marginal.split()[-1] == f"{60.0 / 1_300_000 * 1e6:.1f}"


def test_the_product_carries_no_hook_for_the_benchmark():
    """benchmarks/ uses the product; no product module imports it or takes a parameter for it."""
    import dagster_project
    from dagster_project.run import run_pipeline

    assert "skip_checks" not in inspect.signature(run_pipeline).parameters
    product = Path(dagster_project.__file__).resolve().parent
    sources = sorted(product.rglob("*.py"))
    assert sources, product
    importers = [str(p.relative_to(product)) for p in sources
                 if re.search(r"^\s*(from|import)\s+benchmarks\b", p.read_text(), re.M)]
    assert importers == []
