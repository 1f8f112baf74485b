"""`warehouse bench`: the whole pipeline on a `scale` cohort, timed, against the DuckDB floor.

    warehouse bench --subjects 1000                one cohort size
    warehouse bench --subjects 1000,3000,10000     several, printed side by side (linear in rows?)
    warehouse bench --subjects 10000 --incremental  then a delivery of 1% more subjects, run again

For each size: a `scale` cohort is generated under <dir>/n<N>/landing (not timed; reused when
--keep left it there), then the whole asset job runs once on a fresh warehouse, Dagster home and
serving file in a child process (`python -m dagster_project.bench --child`), exactly as
`warehouse run` does. Measured:

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
  validation, dbt tests or Python models.

Speed is measured here, never by a test: the machine's load changes wall times, so CPU time is
printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR, PROJECT_ROOT

DEFAULT_DIR = PROJECT_ROOT / "data" / "bench"
DEFAULT_SEED = 20230703
INCREMENT = 0.01  # the follow-up delivery: 1% more subjects
INCREMENT_TARGET = 0.15  # ... re-materializes in <= 15% of the full run (the goal)
STAGES = ("ingest", "validation", "dbt", "analysis", "publish", "other", "orchestration")
STAGE_LABELS = {
    "ingest": "ingest (read + store)",
    "validation": "validation (pandera, duplicates)",
    "dbt": "dbt build (models + tests)",
    "analysis": "analysis",
    "publish": "publish (serving copy)",
    "other": "other steps (checks, reports)",
    "orchestration": "orchestration (start-up, planning)",
}


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
@dataclass
class RunFigures:
    """One pipeline run (a child process) and what its Dagster run recorded."""

    exit_code: int
    wall: float  # child process, start to exit
    cpu: float  # user + system of the child's whole process tree
    peak_rss: int  # bytes, process tree, sampled
    max_single_rss: int  # bytes, largest single process (getrusage)
    peak_step: str  # the step running when the peak was sampled
    run_wall: float  # Dagster run: first to last event
    stages: dict[str, float]
    ingest_phases: dict[str, float]  # read / validate / store, summed over raw assets
    other_steps: dict[str, float]
    steps: dict[str, float]  # every step's wall seconds
    failed_steps: list[str]
    event_log_events: int
    event_log_seconds: float
    run_id: str | None
    log: Path
    # orchestration split: start-up (process start to the run's first event: interpreter,
    # imports, definitions, planning), between steps (the run's time outside every step),
    # after the run (summary, shutdown); empty when the child did not report its start
    orchestration: dict[str, float] = field(default_factory=dict)


@dataclass
class Floor:
    read_seconds: float
    sql_seconds: float
    cpu: float
    models: list[str]
    python_models: list[str]
    skipped: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.sql_seconds


@dataclass
class SizeFigures:
    subjects: int
    rows: int
    files: int
    bytes: int
    full: RunFigures
    floor: Floor | None
    incremental: RunFigures | None = None
    incremental_rows: int = 0
    incremental_subjects: int = 0


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


def child_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "WAREHOUSE_LANDING_DIR": str(root / "landing"),
            "WAREHOUSE_DB_PATH": str(root / "warehouse.duckdb"),
            "WAREHOUSE_SERVING_DB_PATH": str(root / "serving.duckdb"),
            "DAGSTER_HOME": str(root / "dagster_home"),
        }
    )
    return env


# --------------------------------------------------------------------------------------------
# running the pipeline in a child process
# --------------------------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Peak summed RSS of a process and all its descendants, sampled every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_at = 0.0  # time.time() of the peak sample
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    pass
            if total > self.peak:
                self.peak, self.peak_at = total, time.time()
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def run_child(root: Path, label: str, selection: str | None = None,
              skip_checks: list[str] | None = None) -> RunFigures:
    """Run the whole pipeline (or a Dagster selection) once in a child process; figures from the
    process and from the Dagster run."""
    log = root / f"{label}.log"
    stats_path = root / f"{label}.child.json"
    stats_path.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.bench", "--child", str(stats_path),
             json.dumps({"select": selection, "skip_checks": skip_checks or []})],
            cwd=PROJECT_ROOT, env=child_env(root), stdout=out, stderr=subprocess.STDOUT,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        exit_code = proc.wait()
        wall = time.perf_counter() - start
        peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    steps = step_figures(root / "dagster_home", stats.get("run_id"))
    stages = dict(steps["stages"])
    stages["orchestration"] = max(wall - sum(stages.values()), 0.0)
    orchestration = {}
    if "process_started" in stats and steps["first_event"] is not None:
        startup = max(steps["first_event"] - stats["process_started"], 0.0)
        between = max(steps["run_wall"] - sum(steps["stages"].values()), 0.0)
        orchestration = {"start-up (imports, definitions, planning)": startup,
                         "between steps (inside the run)": between,
                         "after the run (summary, shutdown)": max(stages["orchestration"] - startup - between, 0.0)}
    return RunFigures(
        exit_code=exit_code,
        wall=wall,
        cpu=cpu,
        peak_rss=peak,
        max_single_rss=after.ru_maxrss * 1024,  # Linux: kilobytes
        peak_step=next((k for t0, t1, k in steps["intervals"] if t0 <= sampler.peak_at <= t1), "between steps"),
        run_wall=steps["run_wall"],
        stages=stages,
        ingest_phases=steps["ingest_phases"],
        other_steps=steps["other_steps"],
        steps=steps["durations"],
        failed_steps=steps["failed_steps"],
        event_log_events=int(stats.get("event_log_events", 0)),
        event_log_seconds=float(stats.get("event_log_seconds", 0.0)),
        run_id=stats.get("run_id"),
        log=log,
        orchestration=orchestration,
    )


def _child(stats_path: Path, selection: str | None = None, skip_checks: list[str] | None = None) -> int:
    """In the child: time every Dagster event write, run the pipeline as `warehouse run` does."""
    import psutil

    process_started = psutil.Process().create_time()  # before the imports: start-up includes them
    import dagster as dg

    counter = {"events": 0, "seconds": 0.0}
    original = dg.DagsterInstance.handle_new_event

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            counter["events"] += 1
            counter["seconds"] += time.perf_counter() - t0

    dg.DagsterInstance.handle_new_event = timed
    from dagster_project.run import run_pipeline
    from dagster_project.settings import apply_defaults

    apply_defaults()
    code = run_pipeline(selection=selection, skip_checks=skip_checks)
    run_id = None
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(limit=1)
        if runs:
            run_id = runs[0].run_id
    stats_path.write_text(
        json.dumps({"event_log_events": counter["events"], "event_log_seconds": counter["seconds"], "run_id": run_id,
                    "process_started": process_started})
    )
    return code


# --------------------------------------------------------------------------------------------
# stage times from the Dagster run's step events
# --------------------------------------------------------------------------------------------
def _metadata_number(value) -> float:
    raw = getattr(value, "value", value)
    try:
        return float(raw)
    except (TypeError, ValueError):
        return 0.0


def stage_of(step_key: str, asset_keys: set[tuple[str, ...]]) -> str:
    """The stage a step belongs to, from the assets it materialized (else: `other`)."""
    firsts = {key[0] for key in asset_keys if key}
    if "raw" in firsts:
        return "ingest"
    if "serving" in firsts:
        return "publish"
    if firsts & {"staging", "marts", "audit"}:
        return "dbt"
    if "analysis" in firsts:
        return "analysis"
    return "other"


def step_figures(dagster_home: Path, run_id: str | None) -> dict:
    """Per-stage wall seconds (sum of step durations), ingest phases, other steps, failures."""
    empty = {"stages": {s: 0.0 for s in STAGES if s != "orchestration"}, "ingest_phases": {},
             "other_steps": {}, "failed_steps": [], "run_wall": 0.0, "intervals": [], "durations": {},
             "first_event": None}
    if not dagster_home.exists():
        return empty
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            if run_id is None:
                runs = instance.get_runs(limit=1)
                if not runs:
                    return empty
                run_id = runs[0].run_id
            records = instance.all_logs(run_id)
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    intervals: list[tuple[float, float, str]] = []
    assets: dict[str, set[tuple[str, ...]]] = {}
    phases = {"read": 0.0, "validate": 0.0, "store": 0.0}
    failed: list[str] = []
    for record in records:
        event = record.dagster_event
        if event is None or record.step_key is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            started[record.step_key] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            t0 = started.get(record.step_key, record.timestamp)
            durations[record.step_key] = durations.get(record.step_key, 0.0) + record.timestamp - t0
            intervals.append((t0, record.timestamp, record.step_key))
            if kind == "STEP_FAILURE":
                failed.append(record.step_key)
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            key = tuple(materialization.asset_key.path)
            assets.setdefault(record.step_key, set()).add(key)
            if key and key[0] == "raw":
                for phase in phases:
                    value = materialization.metadata.get(f"seconds_{phase}")
                    if value is not None:
                        phases[phase] += _metadata_number(value)
    stages = {s: 0.0 for s in STAGES if s != "orchestration"}
    other: dict[str, float] = {}
    for step, seconds in durations.items():
        stage = stage_of(step, assets.get(step, set()))
        stages[stage] += seconds
        if stage == "other":
            other[step] = seconds
    # The ingest steps' own clocks split them: validation out of ingest.
    validation = min(phases["validate"], stages["ingest"])
    stages["validation"] = validation
    stages["ingest"] -= validation
    timestamps = [r.timestamp for r in records]
    return {
        "stages": stages,
        "ingest_phases": phases,
        "other_steps": other,
        "failed_steps": failed,
        "run_wall": (max(timestamps) - min(timestamps)) if timestamps else 0.0,
        "first_event": min(timestamps) if timestamps else None,  # epoch seconds
        "intervals": intervals,
        "durations": durations,
    }


# --------------------------------------------------------------------------------------------
# the DuckDB floor
# --------------------------------------------------------------------------------------------
def run_target_dir(run_id: str | None) -> Path | None:
    """The dbt target folder dagster-dbt wrote for this run (<op>-<run id[:7]>-<uuid>)."""
    if not run_id:
        return None
    found = sorted((DBT_PROJECT_DIR / "target").glob(f"*-{run_id[:7]}-*/manifest.json"))
    return found[-1].parent if found else None


def sql_models_in_order(manifest: dict) -> tuple[list[dict], list[str]]:
    """SQL models of the project in dependency order; and the names of the Python models."""
    nodes = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    python = sorted(v["name"] for v in nodes.values() if v.get("language") == "python")
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen or key not in nodes:
            return
        seen.add(key)
        for dep in nodes[key]["depends_on"]["nodes"]:
            visit(dep)
        order.append(key)

    for key in sorted(nodes):
        visit(key)
    return [nodes[k] for k in order if nodes[k].get("language", "sql") == "sql"], python


def _compiled_sql(node: dict, target: Path) -> str | None:
    code = node.get("compiled_code")
    if not code:
        path = target / "compiled" / node["package_name"] / node["original_file_path"]
        code = path.read_text() if path.exists() else None
    return code.strip().rstrip(";") if code else None


def _raw_select(source) -> str:
    """Contract columns cast to the raw table's types, and the raw table's bookkeeping columns."""
    from dagster_project.lib.ingest.store import raw_columns

    columns = []
    for name, sql_type in raw_columns(source).items():
        if name in source.columns:
            columns.append(f'cast("{name}" as {sql_type}) as "{name}"')
        elif name == "_analyte_as_delivered":
            columns.append('"analyte" as "_analyte_as_delivered"')
        elif name == "_extra":
            columns.append('cast(null as varchar) as "_extra"')
        elif name == "_row_number":
            columns.append('row_number() over () as "_row_number"')
        elif name == "_delivery_sha256":
            columns.append('md5(filename) as "_delivery_sha256"')
        elif name == "_file_name":
            columns.append('filename as "_file_name"')
        else:  # _received_at, _loaded_at
            columns.append(f'cast(now() as timestamp) as "{name}"')
    return ", ".join(columns)


def measure_floor(root: Path, run_id: str | None) -> Floor | None:
    """read_csv of every delivery + the run's compiled SQL models, in a fresh DuckDB file."""
    import duckdb

    from dagster_project.lib.ingest.store import DELIVERY_LOG_DDL, QUARANTINE_DDL
    from schemas.contract import SOURCES

    target = run_target_dir(run_id)
    if target is None:
        return None
    manifest = json.loads((target / "manifest.json").read_text())
    models, python_models = sql_models_in_order(manifest)
    seeds = [v for v in manifest["nodes"].values() if v["resource_type"] == "seed"]
    folder = root / "floor"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # The same file name as the warehouse, so the compiled SQL's catalog ("warehouse") resolves.
    db_path = folder / f"{models[0]['database'] if models else 'warehouse'}.duckdb"
    landing = root / "landing"
    cpu0 = time.process_time()
    with duckdb.connect(str(db_path)) as con:
        # Seeds (two small tables) copied from the run's warehouse: not part of the timing.
        con.execute(f"attach '{root / 'warehouse.duckdb'}' as pipeline (read_only)")
        for seed in seeds:
            con.execute(f'create schema if not exists "{seed["schema"]}"')
            name = seed.get("alias") or seed["name"]
            con.execute(f'create table "{seed["schema"]}"."{name}" as select * from pipeline."{seed["schema"]}"."{name}"')
        con.execute("detach pipeline")
        con.execute("create schema if not exists raw")
        con.execute(DELIVERY_LOG_DDL)
        con.execute(QUARANTINE_DDL)
        t0 = time.perf_counter()
        for source in SOURCES.values():
            files = sorted(str(p) for p in (landing / source.name).glob("*.csv"))
            if not files:
                from dagster_project.lib.ingest.store import ensure_tables

                ensure_tables(con, source)
                continue
            con.execute(
                f'create table raw."{source.name}" as select {_raw_select(source)} '
                f"from read_csv(?, header = true, all_varchar = true, union_by_name = true, "
                f"filename = true, nullstr = ['', 'NA'])",
                [files],
            )
            con.execute(
                f"""insert into raw.deliveries
                    select _delivery_sha256, '{source.name}', _file_name, now(), null, 'loaded',
                           count(*), count(*), 0, null, now()
                    from raw."{source.name}" group by all"""
            )
        t1 = time.perf_counter()
        built, skipped = [], []
        for node in models:
            sql = _compiled_sql(node, target)
            if sql is None:
                skipped.append(node["name"])
                continue
            schema, name = node["schema"], node.get("alias") or node["name"]
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{name}" as (\n{sql}\n)')
            built.append(name)
        t2 = time.perf_counter()
    cpu = time.process_time() - cpu0
    return Floor(read_seconds=t1 - t0, sql_seconds=t2 - t1, cpu=cpu, models=built,
                 python_models=python_models, skipped=skipped)


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
               selection: str | None = None, skip_checks: list[str] | None = None, echo=print) -> SizeFigures:
    root = base / f"n{subjects}"
    root.mkdir(parents=True, exist_ok=True)
    echo(f"[bench] {subjects:,} subjects: the scale cohort under {root} (generated unless kept; not timed)")
    truth = prepare_cohort(root, subjects, seed)
    expected_rows = sum(truth.get("row_counts", {}).values())
    files, size = landing_size(root / "landing")
    fresh_warehouse(root)
    echo(f"[bench] {subjects:,} subjects: running the pipeline on a fresh warehouse "
         f"({expected_rows:,} rows, {size / 1e6:,.1f} MB)")
    full = run_child(root, "run_full", selection, skip_checks)
    rows = delivered_rows(root / "warehouse.duckdb") or expected_rows
    echo(f"[bench] {subjects:,} subjects: pipeline exit {full.exit_code} in {full.wall:,.1f} s; "
         f"measuring the DuckDB floor")
    floor = measure_floor(root, full.run_id)
    figures = SizeFigures(subjects, rows, files, size, full, floor)
    if incremental:
        from synthetic.scale import add_delivery

        extra = max(1, round(subjects * INCREMENT))
        (root / "cohort.json").unlink(missing_ok=True)  # the landing folder is no longer the plain cohort
        added = add_delivery(root / "landing", seed, subjects, extra)
        echo(f"[bench] {subjects:,} subjects: delivering {extra:,} more subjects "
             f"({sum(added.values()):,} rows) and running again")
        figures.incremental = run_child(root, "run_incremental", selection, skip_checks)
        figures.incremental_rows = sum(added.values())
        figures.incremental_subjects = extra
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
# printing
# --------------------------------------------------------------------------------------------
def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def format_run(run: RunFigures, rows: int, indent: str = "  ") -> list[str]:
    lines = [f"{indent}{'stage':<38}{'wall s':>9}"]
    for stage in STAGES:
        lines.append(f"{indent}  {STAGE_LABELS[stage]:<36}{run.stages.get(stage, 0.0):9.1f}")
        if stage == "ingest" and any(run.ingest_phases.values()):
            p = run.ingest_phases
            lines.append(f"{indent}    {'read (CSV -> frame)':<34}{p['read']:9.1f}")
            lines.append(f"{indent}    {'store (DuckDB insert)':<34}{p['store']:9.1f}")
        if stage == "orchestration":
            for part, seconds in run.orchestration.items():
                lines.append(f"{indent}    {part:<34}{seconds:9.1f}")
        if stage == "other" and run.other_steps:
            top = sorted(run.other_steps.items(), key=lambda kv: -kv[1])[:3]
            lines.append(f"{indent}    largest: " + ", ".join(f"{k} {v:.1f}" for k, v in top))
    slowest = sorted(run.steps.items(), key=lambda kv: -kv[1])[:5]
    if slowest:
        lines.append(f"{indent}  slowest steps: " + ", ".join(f"{k} {v:.1f}" for k, v in slowest))
    lines.append(f"{indent}{'total (child process, wall)':<38}{run.wall:9.1f}")
    lines.append(f"{indent}{'  Dagster run (first to last event)':<38}{run.run_wall:9.1f}")
    lines.append(f"{indent}{'  Dagster event log writes':<38}{run.event_log_seconds:9.1f}"
                 f"   ({run.event_log_events:,} events, inside the stages above)")
    lines.append(f"{indent}{'CPU time (process tree)':<38}{run.cpu:9.1f}")
    lines.append(f"{indent}{'rows per second':<38}{rows / run.wall if run.wall else 0:9,.0f}")
    lines.append(f"{indent}{'peak RSS (process tree, sampled)':<38}{_gib(run.peak_rss):>13}"
                 f"   (during {run.peak_step}; largest single process {_gib(run.max_single_rss)})")
    status = "succeeded" if run.exit_code == 0 else f"FAILED (exit {run.exit_code})"
    lines.append(f"{indent}run {status}" + (f"; failed steps: {', '.join(run.failed_steps)}" if run.failed_steps else "")
                 + f"; log: {run.log}")
    return lines


def format_size(fig: SizeFigures) -> list[str]:
    lines = [
        f"scale cohort, {fig.subjects:,} subjects",
        f"  delivered: {fig.rows:,} rows in {fig.files} files, {fig.bytes:,} bytes ({fig.bytes / 1e6:,.1f} MB)",
        *format_run(fig.full, fig.rows),
    ]
    floor = fig.floor
    if floor is None:
        lines.append("  DuckDB floor: not measured (no dbt target folder of the run)")
    else:
        lines += [
            f"  DuckDB floor (same files, same SQL){'':<4}{floor.seconds:9.1f}"
            f"   (read_csv {floor.read_seconds:.1f} + {len(floor.models)} SQL models {floor.sql_seconds:.1f};"
            f" CPU {floor.cpu:.1f} s)",
            f"    Python models excluded: {', '.join(floor.python_models) or 'none'}"
            + (f"; skipped (no compiled SQL): {', '.join(floor.skipped)}" if floor.skipped else ""),
            f"  total / floor: {_ratio(fig.full.wall, floor.seconds)} wall,"
            f" {_ratio(fig.full.cpu, floor.cpu)} CPU",
        ]
    inc = fig.incremental
    if inc is not None:
        share = inc.wall / fig.full.wall if fig.full.wall else 0.0
        verdict = "meets" if share <= INCREMENT_TARGET else "misses"
        lines += [
            f"  incremental: {fig.incremental_subjects:,} more subjects ({fig.incremental_rows:,} rows) after the full run",
            *format_run(inc, fig.incremental_rows, indent="    "),
            f"    second run / full run: {share:.0%} wall ({verdict} the <= {INCREMENT_TARGET:.0%} goal),"
            f" {inc.cpu / fig.full.cpu if fig.full.cpu else 0:.0%} CPU",
        ]
    return lines


def format_table(figures: list[SizeFigures]) -> list[str]:
    """The sizes side by side, with the marginal cost per row between consecutive sizes."""
    head = f"{'subjects':<34}" + "".join(f"{f.subjects:>14,}" for f in figures)
    rows: list[tuple[str, list[str]]] = [
        ("delivered rows", [f"{f.rows:,}" for f in figures]),
        ("delivered MB", [f"{f.bytes / 1e6:,.1f}" for f in figures]),
    ]
    for stage in STAGES:
        rows.append((f"{stage} s", [f"{f.full.stages.get(stage, 0.0):.1f}" for f in figures]))
    rows += [
        ("total s (wall)", [f"{f.full.wall:.1f}" for f in figures]),
        ("CPU s (process tree)", [f"{f.full.cpu:.1f}" for f in figures]),
        ("Dagster event log s", [f"{f.full.event_log_seconds:.1f}" for f in figures]),
        ("rows per second", [f"{f.rows / f.full.wall:,.0f}" if f.full.wall else "-" for f in figures]),
        ("peak RSS GiB", [f"{f.full.peak_rss / 2**30:.2f}" for f in figures]),
        ("DuckDB floor s", [f"{f.floor.seconds:.1f}" if f.floor else "-" for f in figures]),
        ("floor CPU s", [f"{f.floor.cpu:.1f}" if f.floor else "-" for f in figures]),
        ("total / floor (wall)", [_ratio(f.full.wall, f.floor.seconds) if f.floor else "-" for f in figures]),
        ("total / floor (CPU)", [_ratio(f.full.cpu, f.floor.cpu) if f.floor else "-" for f in figures]),
        ("µs per row (wall)", [f"{f.full.wall / f.rows * 1e6:.1f}" if f.rows else "-" for f in figures]),
    ]
    marginal = ["-"]
    marginal_cpu = ["-"]
    for a, b in zip(figures, figures[1:]):
        d_rows = b.rows - a.rows
        marginal.append(f"{(b.full.wall - a.full.wall) / d_rows * 1e6:.1f}" if d_rows else "-")
        marginal_cpu.append(f"{(b.full.cpu - a.full.cpu) / d_rows * 1e6:.1f}" if d_rows else "-")
    rows.append(("marginal µs per added row (wall)", marginal))
    rows.append(("marginal µs per added row (CPU)", marginal_cpu))
    if any(f.incremental for f in figures):
        rows.append(("+1% delivery run s", [f"{f.incremental.wall:.1f}" if f.incremental else "-" for f in figures]))
        rows.append(("+1% run / full run", [f"{f.incremental.wall / f.full.wall:.0%}" if f.incremental else "-" for f in figures]))
    return [head] + [f"{label:<34}" + "".join(f"{v:>14}" for v in values) for label, values in rows]


def machine() -> str:
    import platform

    import psutil

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return (f"{os.cpu_count()} CPUs ({model}), {psutil.virtual_memory().total / 2**30:.1f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"load average {load[0]:.2f} at start")


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
    parser.add_argument("--keep", action="store_true",
                        help="keep cohorts, warehouses and logs (a kept cohort is reused next time)")
    parser.add_argument("--select", default=None,
                        help="Dagster asset selection to run instead of everything, as for `warehouse run "
                             "--select` (e.g. 'not key:\"analysis/cytokine_curves\"'); printed with the figures")
    parser.add_argument("--skip-checks", default="",
                        help="asset checks to leave out, by name, comma-separated (e.g. great_expectations); "
                             "printed with the figures")


def run(args: argparse.Namespace) -> int:
    base = Path(args.dir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    print(f"warehouse bench: {machine()}")
    skip_checks = [c.strip() for c in args.skip_checks.split(",") if c.strip()]
    print(f"assets: {'everything' if not args.select else 'selection ' + args.select}; "
          f"checks: {'all' if not skip_checks else 'all but ' + ', '.join(skip_checks)}")
    figures = []
    for n in args.subjects:
        fig = bench_size(n, base, args.seed, args.incremental, args.keep, args.select, skip_checks)
        figures.append(fig)
        print()
        print("\n".join(format_size(fig)))
        print(flush=True)
    if len(figures) > 1:
        print("side by side")
        print("\n".join(format_table(figures)))
    if not args.keep:
        try:
            base.rmdir()  # only when empty
        except OSError:
            pass
    return 0 if all(f.full.exit_code == 0 and (f.incremental is None or f.incremental.exit_code == 0)
                    for f in figures) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        options = json.loads(argv[2]) if len(argv) > 2 else {}
        return _child(Path(argv[1]), options.get("select"), options.get("skip_checks"))
    parser = argparse.ArgumentParser(prog="warehouse bench", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
