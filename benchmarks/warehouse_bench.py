"""The warehouse benchmark: the whole pipeline on a `scale` cohort, timed, against the DuckDB floor.

    python -m benchmarks.warehouse_bench --subjects 1000                one cohort size
    python -m benchmarks.warehouse_bench --subjects 1000,3000,10000     several, side by side (linear in rows?)
    python -m benchmarks.warehouse_bench --subjects 10000 --incremental  then a delivery of 1% more subjects, run again
    python -m benchmarks.warehouse_bench --subjects 10000 --latency      and one small delivery into a built park2023

(`make bench` runs it with BENCH_ARGS, by default `--subjects 1000,3000,10000 --incremental --latency`.)

For each size: a `scale` cohort is generated under <dir>/n<N>/landing (not timed; reused when
--keep left it there), then the whole asset job runs once on a fresh warehouse, Dagster home and
serving file in a child process (`python -m benchmarks.pipeline_run`), exactly as `warehouse run`
does, every asset check (the Great Expectations suites) included. Measured:

- wall time per stage, from the Dagster run's step events (step start to step end): ingest
  (steps materializing raw/*; split by the ingest code's own `seconds_read` / `seconds_validate`
  / `seconds_store` asset metadata into read+store and validation), dbt build, analysis, publish,
  other steps (quality checks, reports), and orchestration (what is left of the child's wall time:
  interpreter start, imports, loading definitions, planning the run, the summary; printed as
  start-up, between steps and after the run);
- the time spent writing Dagster's event log (every event of the run, timed in the child);
- CPU time of the whole process tree (getrusage of the waited children: dbt included);
- peak RSS of the process tree (child + dbt subprocess), sampled with psutil every 0.1 s;
- the DuckDB floor, measured after the run on the same files in this process: plain `read_csv` of
  every delivery into raw tables, then the compiled SQL of every SQL dbt model of that run (from
  the run's dbt target folder), in dependency order, as `create table ... as`; no orchestration,
  validation, dbt tests or Python models;
- what row-level lineage costs (`lineage_cost`): the edges of audit.lineage and
  audit.analysis_lineage (count, bytes), the lineage columns of the warehouse's rows, the dbt time
  of audit_lineage and int_toxicity_max_grades, one `warehouse explain` of a rate cell, the HTML
  report's explain pages; after the full run and after the +1% delivery's run.

With --latency (`latency`): a park2023 warehouse is built, a few rows of serum labs land as a new
file, and `warehouse run` runs again: file landed -> published serving copy. Last, the latency
targets of issue 20 side by side with the floor: that small delivery, the +1% delivery as a share
of the full run, the full run / floor and its peak RSS (at 10,000 subjects when that size ran).

Speed is measured here, never by a test: the machine's load changes wall times, so CPU time is
printed beside them. Modules: this one (cohorts, the sizes, the command line), `pipeline_run`
(the timed child process), `floor` (the DuckDB floor), `lineage_cost` (row-level lineage),
`latency` (the small delivery), `figures` (what is measured), `report` (the printed figures).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from dagster_project.settings import PROJECT_ROOT

from benchmarks.figures import SizeFigures
from benchmarks.floor import measure_floor, run_target_dir
from benchmarks.latency import measure_latency
from benchmarks.lineage_cost import measure_lineage
from benchmarks.pipeline_run import run_child
from benchmarks.report import format_latency, format_size, format_table, format_targets, machine

DEFAULT_DIR = PROJECT_ROOT / "data" / "bench"
DEFAULT_SEED = 20230703
INCREMENT = 0.01  # the follow-up delivery: 1% more subjects


# --------------------------------------------------------------------------------------------
# the cohort
# --------------------------------------------------------------------------------------------
def prepare_cohort(root: Path, subjects: int, seed: int) -> dict:
    """The scale cohort under root/landing (generated unless an identical one is already there)."""
    from synthetic import generate

    truth_path = root / "cohort_truth.json"
    marker = root / "cohort.json"
    wanted = {"profile": "scale", "subjects": subjects, "seed": seed}
    if marker.exists() and truth_path.exists() and json.loads(marker.read_text()) == wanted:
        return json.loads(truth_path.read_text())
    shutil.rmtree(root / "landing", ignore_errors=True)
    truth = generate("scale", root / "landing", seed=seed, subjects=subjects, truth_path=truth_path)
    marker.write_text(json.dumps(wanted))
    return truth


def landing_size(landing: Path) -> tuple[int, int]:
    files = [p for p in landing.rglob("*") if p.is_file() and not p.name.startswith(".")]
    return len(files), sum(p.stat().st_size for p in files)


def fresh_warehouse(root: Path) -> None:
    """Remove every file a previous run left (warehouse, serving copy, run history, floor)."""
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal", "serving.duckdb", "serving.duckdb.wal"):
        (root / name).unlink(missing_ok=True)
    for name in ("dagster_home", "floor", "figures", "docs", "reports", "dbt_docs"):
        shutil.rmtree(root / name, ignore_errors=True)


def delivered_rows(db_path: Path) -> int:
    import duckdb

    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            return int(con.execute(
                "select coalesce(sum(rows_delivered), 0) from raw.deliveries where status <> 'duplicate'"
            ).fetchone()[0])
    except duckdb.Error:
        return 0


# --------------------------------------------------------------------------------------------
# one cohort size
# --------------------------------------------------------------------------------------------
def bench_size(subjects: int, base: Path, seed: int, incremental: bool, keep: bool,
               selection: str | None = None, echo=print) -> SizeFigures:
    root = base / f"n{subjects}"
    root.mkdir(parents=True, exist_ok=True)
    echo(f"[bench] {subjects:,} subjects: the scale cohort under {root} (generated unless kept; not timed)")
    truth = prepare_cohort(root, subjects, seed)
    expected_rows = sum(truth.get("row_counts", {}).values())
    files, size = landing_size(root / "landing")
    fresh_warehouse(root)
    echo(f"[bench] {subjects:,} subjects: running the pipeline on a fresh warehouse "
         f"({expected_rows:,} rows, {size / 1e6:,.1f} MB)")
    full = run_child(root, "run_full", selection)
    rows = delivered_rows(root / "warehouse.duckdb") or expected_rows
    echo(f"[bench] {subjects:,} subjects: pipeline exit {full.exit_code} in {full.wall:,.1f} s; "
         f"measuring the DuckDB floor")
    floor = measure_floor(root, full.run_id)
    echo(f"[bench] {subjects:,} subjects: measuring what row-level lineage costs")
    figures = SizeFigures(subjects, rows, files, size, full, floor, lineage=measure_lineage(root, full))
    if incremental:
        from synthetic.scale import add_delivery

        extra = max(1, round(subjects * INCREMENT))
        (root / "cohort.json").unlink(missing_ok=True)  # the landing folder is no longer the plain cohort
        added = add_delivery(root / "landing", seed, subjects, extra)
        echo(f"[bench] {subjects:,} subjects: delivering {extra:,} more subjects "
             f"({sum(added.values()):,} rows) and running again")
        figures.incremental = run_child(root, "run_incremental", selection)
        figures.incremental_rows = sum(added.values())
        figures.incremental_subjects = extra
        figures.incremental_lineage = measure_lineage(root, figures.incremental)
    run_dir = run_target_dir(full.run_id)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
        for run in (full, figures.incremental):
            target = run_target_dir(run.run_id) if run else None
            if target is not None:
                shutil.rmtree(target, ignore_errors=True)
    elif run_dir is None:
        echo("[bench] no dbt target folder of the run: floor not measured")
    return figures


# --------------------------------------------------------------------------------------------
# entry points
# --------------------------------------------------------------------------------------------
def parse_subjects(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("--subjects takes positive integers, comma-separated")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--subjects", type=parse_subjects, default=[1000],
                        help="cohort size(s), comma-separated (e.g. 1000,3000,10000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--dir", default=str(DEFAULT_DIR), help="work folder (default data/bench)")
    parser.add_argument("--incremental", action="store_true",
                        help="after each full run, deliver 1%% more subjects and time the second run")
    parser.add_argument("--latency", action="store_true",
                        help="build a park2023 warehouse, land a few rows of serum labs as a new file and time "
                             "file -> published serving copy (a `warehouse run`); then print the latency targets")
    parser.add_argument("--keep", action="store_true",
                        help="keep cohorts, warehouses and logs (a kept cohort is reused next time)")
    parser.add_argument("--select", default=None,
                        help="Dagster asset selection to run instead of everything, as for `warehouse run "
                             "--select` (e.g. 'not key:\"analysis/cytokine_curves\"'); printed with the figures")


def run(args: argparse.Namespace) -> int:
    base = Path(args.dir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    print(f"warehouse bench: {machine()}")
    print(f"assets: {'everything' if not args.select else 'selection ' + args.select}; checks: all")
    figures = []
    for n in args.subjects:
        fig = bench_size(n, base, args.seed, args.incremental, args.keep, args.select)
        figures.append(fig)
        print()
        print("\n".join(format_size(fig)))
        print(flush=True)
    latency = None
    if args.latency:
        latency = measure_latency(base, args.seed, args.keep)
        print()
        print("\n".join(format_latency(latency)))
        print(flush=True)
    if len(figures) > 1:
        print("side by side")
        print("\n".join(format_table(figures)))
        print()
    print("\n".join(format_targets(figures, latency)))
    if not args.keep:
        try:
            base.rmdir()  # only when empty
        except OSError:
            pass
    runs = [run for f in figures for run in (f.full, f.incremental) if run is not None]
    if latency is not None:
        runs += [latency.build, latency.run]
    return 0 if all(run.exit_code == 0 for run in runs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warehouse_bench",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
