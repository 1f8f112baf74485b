"""The benchmark (benchmarks/warehouse_bench.py, `make bench`) on a tiny scale cohort: every figure
is printed (no speed is asserted here; speed is measured by the bench itself, never by a test)."""

from __future__ import annotations

import inspect
import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from benchmarks import warehouse_bench
from benchmarks.figures import STAGES, Floor, RunFigures, SizeFigures
from benchmarks.report import format_table


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("bench")
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = warehouse_bench.main(["--subjects", "30", "--dir", str(work), "--incremental"])
    out = buffer.getvalue()
    assert code == 0, out[-4000:]
    return out


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
