"""One small delivery into a built park2023 warehouse: file landed -> published serving copy.

The park2023 cohort (`warehouse synth --profile park2023`; not timed) is built once on a fresh
warehouse by a whole run. Then a few rows of serum labs land as a new delivery file (copied from
one collection of one subject of the last labs delivery, an hour later: new natural keys, values
that pass every rule) and the pipeline runs again as a user runs it (`warehouse run`, in a child
process: `benchmarks.pipeline_run`). Measured:

- file landed -> serving copy published: from the file's modification time (the time the ingest
  records as its `received_at`) to the end of the publish step, which renames the new serving
  copy in; counted only when the serving copy names that run (`audit.publication.run_id`) and
  records the delivery as loaded with its rows accepted;
- file landed -> `warehouse run` returned (the checks, the report and the docs after the publish);
- the run's stages, as for a full run, and the DuckDB floor of park2023 (every delivery read with
  read_csv, every SQL model built: what the run recomputes today).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from benchmarks.figures import LatencyFigures
from benchmarks.floor import measure_floor, run_target_dir
from benchmarks.pipeline_run import run_child

PROFILE = "park2023"
SOURCE = "serum_labs"
SMALL_FILE = "2023-06-01_small_delivery.csv"
MAX_ROWS = 5
SHIFT = timedelta(hours=1)


def prepare_park2023(root: Path, seed: int) -> None:
    """A fresh park2023 landing folder under root (what `warehouse synth --profile park2023` writes)."""
    from synthetic import generate

    shutil.rmtree(root / "landing", ignore_errors=True)
    generate(PROFILE, root / "landing", seed=seed, truth_path=root / "cohort_truth.json")


def _shifted(text: str) -> str:
    """An ISO date-time an hour later, written as the delivery writes it (naive, offset or `Z`)."""
    zulu = text.endswith("Z")
    moved = datetime.fromisoformat(text[:-1] + "+00:00" if zulu else text) + SHIFT
    out = moved.isoformat(timespec="seconds")
    return out[:-6] + "Z" if zulu else out


def small_delivery_rows(folder: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows): up to MAX_ROWS rows of one subject's collection in the last plain delivery of
    `folder` (not a correction), an hour later; no natural key (subject, time, test) of any
    delivery repeated."""
    files = sorted(p for p in folder.glob("*.csv") if "correction" not in p.name)
    taken: set[tuple[str, str, str]] = set()
    parsed = []
    for path in sorted(folder.glob("*.csv")):
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        taken |= {(r.get("subject_id", ""), r.get("collected_at", ""), r.get("test", "")) for r in rows}
        if path in files:
            parsed.append((path, rows))
    for path, rows in reversed(parsed):
        groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            groups[(row["subject_id"], row["collected_at"])].append(row)
        for (subject, collected), group in sorted(groups.items()):
            if len(group) < 3 or len({r["test"] for r in group}) < len(group):
                continue  # a conflicting duplicate, or too few tests
            try:
                if any(float(r["value"]) < 0 for r in group):
                    continue  # a planted invalid value
                new_time = _shifted(collected)
            except ValueError:
                continue
            if any((subject, new_time, r["test"]) in taken for r in group):
                continue
            header = list(rows[0].keys())
            return header, [{**r, "collected_at": new_time} for r in group[:MAX_ROWS]]
    raise RuntimeError(f"no collection in {folder} to copy as a small delivery")


def land_small_delivery(landing: Path) -> tuple[str, int, float]:
    """Write the small delivery as a new file (under a dot name, then renamed: a landing upload);
    (file name relative to the landing folder, rows, the file's modification time)."""
    folder = landing / SOURCE
    header, rows = small_delivery_rows(folder)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    final = folder / SMALL_FILE
    tmp = folder / f".{SMALL_FILE}.tmp"
    tmp.write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, final)
    return f"{SOURCE}/{SMALL_FILE}", len(rows), final.stat().st_mtime


def publication(serving: Path, file_name: str) -> tuple[str | None, int | None]:
    """(the run id of the serving copy, rows accepted of the delivery `file_name` if loaded)."""
    import duckdb

    if not serving.exists():
        return None, None
    with duckdb.connect(str(serving), read_only=True) as con:
        run_id = con.execute("select max(run_id) from audit.publication").fetchone()[0]
        loaded = con.execute(
            "select sum(rows_accepted) from audit.deliveries where file_name = ? and status = 'loaded'",
            [file_name]).fetchone()[0]
    return run_id, int(loaded) if loaded is not None else None


def measure_latency(base: Path, seed: int, keep: bool, echo=print) -> LatencyFigures:
    from benchmarks.warehouse_bench import fresh_warehouse

    root = base / PROFILE
    root.mkdir(parents=True, exist_ok=True)
    echo(f"[bench] small delivery: the {PROFILE} cohort under {root} (not timed); building its warehouse")
    prepare_park2023(root, seed)
    fresh_warehouse(root)
    build = run_child(root, "park2023_build")
    echo(f"[bench] small delivery: {PROFILE} built (exit {build.exit_code}) in {build.wall:,.1f} s; "
         f"landing {MAX_ROWS} rows or fewer of {SOURCE} and running `warehouse run`")
    file_name, rows, landed_at = land_small_delivery(root / "landing")
    run = run_child(root, "small_delivery")
    run_id, accepted = publication(root / "serving.duckdb", file_name)
    published = run.exit_code == 0 and run_id is not None and run_id == run.run_id and accepted == rows
    note = None
    if not published:
        note = (f"run exit {run.exit_code}; serving copy of run {run_id or 'none'} (this run {run.run_id}); "
                f"rows accepted {accepted if accepted is not None else 'none'} of {rows}")
    echo(f"[bench] small delivery: run exit {run.exit_code} in {run.wall:,.1f} s; measuring the {PROFILE} floor")
    try:
        # The floor recomputes everything, so it runs the SQL the full build compiled (the small
        # delivery's changed run compiles only the models downstream of its source).
        floor = measure_floor(root, build.run_id)
    except Exception as exc:  # the floor is context; a file DuckDB's plain read_csv cannot read
        echo(f"[bench] small delivery: no {PROFILE} floor: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        floor = None
    figures = LatencyFigures(build=build, file_name=file_name, rows=rows, landed_at=landed_at, run=run,
                             published=published, rows_accepted=accepted, floor=floor, note=note)
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
        for done in (build, run):
            target = run_target_dir(done.run_id)
            if target is not None:
                shutil.rmtree(target, ignore_errors=True)
    return figures
