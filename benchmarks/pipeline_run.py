"""One pipeline run in a child process, timed: the process tree's wall, CPU and peak RSS, and the
Dagster run's step events split into stages.

The child is `python -m benchmarks.pipeline_run STATS_PATH OPTIONS_JSON`: it times every write
of Dagster's event log, runs `dagster_project.run.run_pipeline` exactly as `warehouse run` does,
and writes its figures (event log writes, run id, process start) to STATS_PATH.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.figures import STAGES, RunFigures

# The folder holding the `benchmarks` package: the child runs there, so `-m benchmarks...` resolves.
REPO_ROOT = Path(__file__).resolve().parent.parent


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



def high_water_rss(pid: int) -> int:
    """The largest RSS the process has had since it started its program (VmHWM of
    /proc/<pid>/status, bytes); 0 when it is gone. Not ru_maxrss: a child's ru_maxrss starts at its
    parent's RSS when it was forked, so a child of a large process (the benchmark, after measuring
    the floor in-process) would report the parent's size."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Peak summed RSS of a process and all its descendants, sampled every `interval` seconds; and
    the largest high-water RSS of any one of them (VmHWM: between samples too, for every process
    alive at a sample)."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_at = 0.0  # time.time() of the peak sample
        self.max_single = 0
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
                    continue
                self.max_single = max(self.max_single, high_water_rss(proc.pid))
            if total > self.peak:
                self.peak, self.peak_at = total, time.time()
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def wait_with_usage(proc: subprocess.Popen) -> tuple[int, resource.struct_rusage]:
    """Wait for `proc`: its exit code, and the CPU it and the descendants it waited for used
    (os.wait4: this child's alone, where getrusage(RUSAGE_CHILDREN) adds up every child this
    process ever waited for)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage


def run_child(root: Path, label: str, selection: str | None = None) -> RunFigures:
    """Run the whole pipeline (or a Dagster selection) once in a child process; figures from the
    process and from the Dagster run."""
    log = root / f"{label}.log"
    stats_path = root / f"{label}.child.json"
    stats_path.unlink(missing_ok=True)
    started_at = time.time()
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.pipeline_run", str(stats_path), json.dumps({"select": selection})],
            cwd=REPO_ROOT, env=child_env(root), stdout=out, stderr=subprocess.STDOUT,
        )
        sampler = TreeSampler(proc.pid)
        sampler.start()
        exit_code, usage = wait_with_usage(proc)
        wall = time.perf_counter() - start
        peak = sampler.stop()
    cpu = usage.ru_utime + usage.ru_stime
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
        max_single_rss=sampler.max_single,
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
        started_at=started_at,
        published_at=steps["published_at"],
    )


def child(stats_path: Path, selection: str | None = None) -> int:
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

    code = run_pipeline(selection=selection)
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


@contextmanager
def dagster_instance(dagster_home: Path):
    """The Dagster instance of a benchmark folder's DAGSTER_HOME (restored afterwards)."""
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def run_records(dagster_home: Path, run_id: str | None) -> list | None:
    """Every event record of a run (the latest run when run_id is None); None when there is none."""
    if not dagster_home.exists():
        return None
    with dagster_instance(dagster_home) as instance:
        if run_id is None:
            runs = instance.get_runs(limit=1)
            if not runs:
                return None
            run_id = runs[0].run_id
        return instance.all_logs(run_id)


def materialization_metadata(dagster_home: Path, run_id: str | None, key: tuple[str, ...]) -> dict | None:
    """The metadata of the run's materialization of the asset `key` (plain values), None when the
    run did not materialize it."""
    found = None
    for record in run_records(dagster_home, run_id) or []:
        event = record.dagster_event
        if event is None or event.event_type_value != "ASSET_MATERIALIZATION":
            continue
        materialization = event.event_specific_data.materialization
        if tuple(materialization.asset_key.path) == tuple(key):
            found = {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}
    return found


def step_figures(dagster_home: Path, run_id: str | None) -> dict:
    """Per-stage wall seconds (sum of step durations), ingest phases, other steps, failures."""
    empty = {"stages": {s: 0.0 for s in STAGES if s != "orchestration"}, "ingest_phases": {},
             "other_steps": {}, "failed_steps": [], "run_wall": 0.0, "intervals": [], "durations": {},
             "first_event": None, "published_at": None}
    records = run_records(dagster_home, run_id)
    if records is None:
        return empty
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
    published = [t1 for _t0, t1, step in intervals
                 if stage_of(step, assets.get(step, set())) == "publish" and step not in failed]
    return {
        "stages": stages,
        "ingest_phases": phases,
        "other_steps": other,
        "failed_steps": failed,
        "run_wall": (max(timestamps) - min(timestamps)) if timestamps else 0.0,
        "first_event": min(timestamps) if timestamps else None,  # epoch seconds
        "intervals": intervals,
        "durations": durations,
        "published_at": max(published) if published else None,  # epoch seconds: the publish step ended
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m benchmarks.pipeline_run STATS_PATH [OPTIONS_JSON]  (started by benchmarks.warehouse_bench)",
              file=sys.stderr)
        return 2
    options = json.loads(argv[1]) if len(argv) > 1 else {}
    return child(Path(argv[0]), options.get("select"))


if __name__ == "__main__":
    sys.exit(main())
