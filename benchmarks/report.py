"""The benchmark's printed figures: one run, one cohort size (with what row-level lineage costs),
several sizes side by side, one small delivery's latency, and the latency targets against the floor."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.figures import STAGE_LABELS, STAGES, LatencyFigures, LineageFigures, RunFigures, SizeFigures

INCREMENT_TARGET = 0.15  # the +1% delivery re-materializes in <= 15% of the full run (the goal)
# Issue 20, item 2: the latency targets, for these sizes
TARGET_SUBJECTS = 10_000  # the +1% and full-run targets are for this cohort size
SMALL_DELIVERY_TARGET = 15.0  # s, one small delivery into a built park2023 warehouse, file -> serving copy
FLOOR_RATIO_TARGET = 2.0  # full run / DuckDB floor, wall
PEAK_RSS_TARGET = 3 * 2**30  # bytes


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
    if fig.lineage is not None:
        lines += format_lineage(fig.lineage, fig.subjects, "after the full run")
    else:
        lines.append("  row-level lineage: not measured (the run published no serving copy)")
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
        if fig.incremental_lineage is not None:
            lines += format_lineage(fig.incremental_lineage, fig.subjects + fig.incremental_subjects,
                                    "after the +1% delivery's run", indent="    ")
        else:
            lines.append("    row-level lineage: not measured (the run published no serving copy)")
    return lines


def _mb(n: int | None) -> str:
    return f"{n / 1e6:,.2f} MB" if n is not None else "-"


def format_lineage(lin: LineageFigures, subjects: int, title: str, indent: str = "  ") -> list[str]:
    """What row-level lineage costs after one run (lineage_cost.py)."""
    lines = [f"{indent}row-level lineage, {title} (serving file {_mb(lin.serving_bytes)},"
             f" warehouse file {_mb(lin.warehouse_bytes)})"]
    for table in lin.tables:
        if table.edges is None:
            lines.append(f"{indent}  {table.name:<28}not in the serving file (no step of this run wrote it)")
            continue
        per_edge = f"{table.bytes / table.edges:,.0f} B per edge" if table.edges and table.bytes is not None else "-"
        lines.append(f"{indent}  {table.name:<28}{table.edges:>12,} edges  {_mb(table.bytes):>12} ({per_edge})"
                     f"  {table.edges / subjects if subjects else 0:,.1f} edges per subject")
        if table.by_target:
            lines.append(f"{indent}    by target: " + ", ".join(f"{k} {v:,}" for k, v in table.by_target.items()))
    per_row = f"{lin.column_bytes / lin.column_rows:,.1f} B per row" if lin.column_rows and lin.column_bytes else "-"
    lines.append(f"{indent}  lineage columns (delivery_sha256, file_name, row_number) of {len(lin.column_tables)}"
                 f" warehouse tables: {lin.column_rows:,} rows, {_mb(lin.column_bytes)} ({per_row})")
    lines.append(f"{indent}  bytes: measured, each stored alone in an empty DuckDB file: used blocks x"
                 f" {lin.block_size // 1024 if lin.block_size else '-'} KiB (a small table rounds up to a block)")
    parts = []
    for node in lin.dbt:
        if node.seconds is None:
            parts.append(f"{node.model} not in the run's dbt results")
        else:
            parts.append(f"{node.model} {node.seconds:.2f} s, its {node.tests} data tests {node.test_seconds:.2f} s")
    lines.append(f"{indent}  dbt, each node's own wall time (threads overlap): " + "; ".join(parts))
    ex = lin.explain
    if ex is None:
        lines.append(f"{indent}  warehouse explain: not run (no lineage table in the serving file)")
    else:
        lines.append(f"{indent}  {' '.join(ex.command)}")
        if ex.error:
            lines.append(f"{indent}    FAILED (exit {ex.exit_code}) in {ex.wall:.1f} s: {ex.error}")
        else:
            call = f"{ex.call_seconds:.2f}" if ex.call_seconds is not None else "-"
            lines.append(f"{indent}    explain wall s (process){ex.wall:10.2f}   (explain() alone, modules loaded: {call} s;"
                         f" {ex.rows} row, {ex.upstream_targets:,} lineage targets, {ex.delivered_rows:,} delivered rows,"
                         f" {ex.json_bytes:,} bytes of JSON)")
    if lin.report_pages is not None:
        seconds = f"{lin.report_seconds:.2f}" if lin.report_seconds is not None else "-"
        lines.append(f"{indent}  HTML report explain pages: {lin.report_pages:,} in {seconds} s")
    else:
        lines.append(f"{indent}  HTML report explain pages: the report did not run")
    return lines


def format_latency(lat: LatencyFigures) -> list[str]:
    """One small delivery into a built park2023 warehouse (latency.py)."""
    status = "" if lat.build.exit_code == 0 else f" FAILED (exit {lat.build.exit_code})"
    lines = [
        "small delivery into a built park2023 warehouse",
        f"  park2023 built in {lat.build.wall:,.1f} s{status} (the first run, on a fresh warehouse; not the figure)",
        f"  landed: {lat.file_name}, {lat.rows} rows; then `warehouse run`:",
        *format_run(lat.run, lat.rows, indent="    "),
    ]
    if lat.latency is None:
        lines.append(f"  file landed -> serving copy published     NOT PUBLISHED ({lat.note})")
    else:
        lines.append(f"  file landed -> serving copy published{lat.latency:10.1f}   (the publish step ended;"
                     f" the serving copy names this run; {lat.rows_accepted} of {lat.rows} rows accepted)")
    lines.append(f"  file landed -> `warehouse run` returned{lat.returned:8.1f}   (checks, report, docs after the publish)")
    if lat.floor is None:
        lines.append("  DuckDB floor of park2023: not measured")
    else:
        f = lat.floor
        lines.append(f"  DuckDB floor of park2023{f.seconds:23.1f}   (read_csv {f.read_seconds:.1f} + {len(f.models)} SQL"
                     f" models {f.sql_seconds:.1f}: every delivery, every model, what the run recomputes)")
    return lines


def _verdict(ok: bool) -> str:
    return "met" if ok else "not met"


def format_targets(figures: list[SizeFigures], latency: LatencyFigures | None) -> list[str]:
    """Issue 20's three latency figures side by side, each with its target and the DuckDB floor."""
    at = next((f for f in figures if f.subjects == TARGET_SUBJECTS), max(figures, key=lambda f: f.subjects, default=None))
    where = "" if at is None else (f"{at.subjects:,} subjects" if at.subjects == TARGET_SUBJECTS else
                                   f"{at.subjects:,} subjects (the targets are for {TARGET_SUBJECTS:,}: not their figures)")
    rows: list[tuple[str, str, str, str, str]] = []
    if latency is None:
        rows.append(("small delivery, file -> serving copy", "not measured (--latency)",
                     f"<= {SMALL_DELIVERY_TARGET:g} s", "-", ""))
    else:
        floor = f"{latency.floor.seconds:.1f} s (park2023)" if latency.floor else "-"
        if latency.latency is None:
            rows.append(("small delivery, file -> serving copy", "not published", f"<= {SMALL_DELIVERY_TARGET:g} s",
                         floor, "not met"))
        else:
            rows.append(("small delivery, file -> serving copy", f"{latency.latency:.1f} s",
                         f"<= {SMALL_DELIVERY_TARGET:g} s", floor, _verdict(latency.latency <= SMALL_DELIVERY_TARGET)))
    head = f"  {'figure':<40}{'reached':<30}{'target':<14}{'DuckDB floor':<30}".rstrip()
    if at is None:
        return (["latency targets (issue 20): small delivery into park2023 (no cohort size run)", head]
                + [f"  {a:<40}{b:<30}{c:<14}{d:<30}{e}".rstrip() for a, b, c, d, e in rows])
    floor_s = at.floor.seconds if at.floor else None
    floor_text = f"{floor_s:.1f} s" if floor_s is not None else "-"
    if at.incremental is None or not at.full.wall:
        rows.append(("+1% subjects: second run / full run", "not measured (--incremental)",
                     f"<= {INCREMENT_TARGET:.0%}", floor_text, ""))
    else:
        share = at.incremental.wall / at.full.wall
        floor_share = f"{floor_text} = {floor_s / at.full.wall:.0%} of full" if floor_s else floor_text
        rows.append(("+1% subjects: second run / full run", f"{share:.0%} ({at.incremental.wall:.1f} s)",
                     f"<= {INCREMENT_TARGET:.0%}", floor_share, _verdict(share <= INCREMENT_TARGET)))
    if floor_s:
        ratio = at.full.wall / floor_s
        rows.append(("full run: total / floor (wall)", f"{ratio:.1f}x ({at.full.wall:.1f} s)",
                     f"<= {FLOOR_RATIO_TARGET:g}x", floor_text, _verdict(ratio <= FLOOR_RATIO_TARGET)))
    else:
        rows.append(("full run: total / floor (wall)", f"- ({at.full.wall:.1f} s)", f"<= {FLOOR_RATIO_TARGET:g}x",
                     "not measured", ""))
    rows.append(("full run: peak RSS", _gib(at.full.peak_rss), f"<= {_gib(PEAK_RSS_TARGET)}", "-",
                 _verdict(at.full.peak_rss <= PEAK_RSS_TARGET)))
    return ([f"latency targets (issue 20): full run and +1% at {where}; small delivery into park2023", head]
            + [f"  {a:<40}{b:<30}{c:<14}{d:<30}{e}".rstrip() for a, b, c, d, e in rows])


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
    if any(f.lineage for f in figures):
        def edges(f: SizeFigures, name: str) -> str:
            table = next((t for t in f.lineage.tables if t.name == name), None) if f.lineage else None
            return f"{table.edges:,}" if table is not None and table.edges is not None else "-"

        rows += [
            ("audit.lineage edges", [edges(f, "audit.lineage") for f in figures]),
            ("audit.analysis_lineage edges", [edges(f, "audit.analysis_lineage") for f in figures]),
            ("lineage edges per subject", [f"{f.lineage.edges / f.subjects:,.1f}" if f.lineage else "-" for f in figures]),
            ("lineage edges MB (alone)", [f"{sum(t.bytes or 0 for t in f.lineage.tables) / 1e6:,.2f}" if f.lineage else "-"
                                          for f in figures]),
            ("lineage columns MB (alone)", [_mb(f.lineage.column_bytes).replace(" MB", "") if f.lineage else "-"
                                            for f in figures]),
            ("dbt audit_lineage s", [_node_seconds(f.lineage, "audit_lineage") for f in figures]),
            ("dbt int_toxicity_max_grades s", [_node_seconds(f.lineage, "int_toxicity_max_grades") for f in figures]),
            ("explain (rate cell) s", [f"{f.lineage.explain.wall:.2f}" if f.lineage and f.lineage.explain
                                       and not f.lineage.explain.error else "-" for f in figures]),
            ("report explain pages s", [f"{f.lineage.report_seconds:.2f}" if f.lineage and f.lineage.report_seconds
                                        is not None else "-" for f in figures]),
        ]
    if any(f.incremental for f in figures):
        rows.append(("+1% delivery run s", [f"{f.incremental.wall:.1f}" if f.incremental else "-" for f in figures]))
        rows.append(("+1% run / full run", [f"{f.incremental.wall / f.full.wall:.0%}" if f.incremental else "-" for f in figures]))
    return [head] + [f"{label:<34}" + "".join(f"{v:>14}" for v in values) for label, values in rows]


def _node_seconds(lin: LineageFigures | None, model: str) -> str:
    node = next((n for n in lin.dbt if n.model == model), None) if lin else None
    return f"{node.seconds:.2f}" if node is not None and node.seconds is not None else "-"


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

