"""The benchmark's printed figures: one run, one cohort size, several sizes side by side."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.figures import STAGE_LABELS, STAGES, RunFigures, SizeFigures

INCREMENT_TARGET = 0.15  # the +1% delivery re-materializes in <= 15% of the full run (the goal)


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

