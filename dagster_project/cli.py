"""`warehouse` command: synth | run | dev | clean.

    warehouse synth --profile park2023 [--seed N] [--subjects N] [--out DIR] [--study ID]
    warehouse run [--full | --select SELECTION] [--verbose]
                                         materialize what changed since the published copy (every asset
                                         with --full), in-process; show its progress, print a summary
                                         (dbt's and Dagster's log: the run log, or --verbose)
    warehouse sql [-c SQL] [FILE]        a read-only SQL shell on the serving file (or FILE)
    warehouse dev                        the Dagster UI on 127.0.0.1:3000, on the same instance as `run`
    warehouse clean [--landing]          remove what the warehouse wrote (and the landing folder)
    warehouse explain TABLE --where COL=VALUE [...] [--column COL] [--json]
                                         the delivered rows behind published values (exit 2: cannot answer)

Every path and setting comes from `Settings.from_env()` (README, "Configuration").
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

from dagster_project.settings import PROJECT_ROOT, Settings
from schemas.contract import SOURCES
from schemas.vocabulary import STUDY_ID_PATTERN


def _synth(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.study import STUDY_FILE, valid_study_id
    from synthetic import generate

    landing = Path(args.out) if args.out else settings.landing
    out, truth_path = landing, Path(args.truth) if args.truth else None
    if args.study:
        # A study folder: <landing>/<study>/<source>/ and its study.yml; the truth file beside
        # the landing folder, named by the study (inside it, it would be a file nobody reads).
        if not valid_study_id(args.study) or args.study in SOURCES:
            print(f"warehouse synth: --study must match {STUDY_ID_PATTERN} and not be a source name", file=sys.stderr)
            return 2
        out = landing / args.study
        truth_path = truth_path or landing.parent / f"cohort_truth_{args.study}.json"
    truth = generate(args.profile, out, seed=args.seed, subjects=args.subjects, truth_path=truth_path)
    if args.study:
        (out / STUDY_FILE).write_text(
            f"# Written by `warehouse synth --study {args.study}` (README, \"Studies\").\n"
            f"title: \"Synthetic cohort, profile {args.profile}, seed {args.seed}\"\n"
            "time_mode: calendar\n", encoding="utf-8")
    n_files = sum(1 for p in out.rglob("*") if p.is_file() and p.name != STUDY_FILE)
    print(f"wrote {n_files} delivery files of profile {args.profile} (seed {args.seed}) to {out}")
    print(f"enrolled {truth.get('n_enrolled')}, infused {truth.get('n_infused')}")
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from dagster_project.run import run_pipeline

    return run_pipeline(selection=args.select, verbose=args.verbose, full=args.full)


def _sql(args: argparse.Namespace, settings: Settings) -> int:
    from dagster_project.analysts import connect, shell

    try:
        con = connect(args.file if args.file else settings.serving_file)
    except FileNotFoundError as exc:
        print(f"warehouse sql: {exc}", file=sys.stderr)
        return 2
    with con:
        return shell(con, args.file or str(settings.serving_file), command=args.command)


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    """`dagster dev` with this project's DAGSTER_HOME and settings, so the UI shows the runs of
    `warehouse run`; bound to the loopback interface only."""
    settings.export_environment()
    settings.prepare_dagster_home()
    command = [sys.executable, "-m", "dagster", "dev", "--host", "127.0.0.1", "--port", str(args.port)]
    os.chdir(PROJECT_ROOT)
    # A shell starts a background job (`make dev &`) with SIGINT ignored, and an ignored signal
    # stays ignored across exec: dagster dev would then not stop on Ctrl-C or `kill -INT`.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    os.execv(sys.executable, command)
    return 0  # not reached


def _clean(args: argparse.Namespace, settings: Settings) -> int:
    paths = settings.output_paths()
    if args.landing:  # and the truth files `synth` writes beside it
        paths += [settings.landing, settings.landing.parent / "cohort_truth.json",
                  *settings.landing.parent.glob("cohort_truth_*.json")]
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
            print(f"removed {path}/")
        elif path.exists():
            path.unlink()
            print(f"removed {path}")
    return 0


def _explain(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 2 with one message when the request cannot be answered (lib/lineage/explain.py)."""
    import json

    from dagster_project.lib.lineage.explain import ExplainError, explain, parse_where
    from dagster_project.lib.lineage.render import render_text

    try:
        document = explain(settings.serving_file, settings.warehouse_file, args.table,
                           parse_where(args.where), args.column)
    except ExplainError as exc:
        print(f"warehouse explain: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(document, indent=2) if args.json else render_text(document))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic cohort as a landing folder")
    synth.add_argument("--profile", default="park2023", choices=["park2023", "wehrli2022", "scale"])
    synth.add_argument("--seed", type=int, default=20230703)
    synth.add_argument("--subjects", type=int, default=None, help="cohort size (scale profile)")
    synth.add_argument("--out", default=None, help="landing folder (default: WAREHOUSE_LANDING_DIR)")
    synth.add_argument("--truth", default=None, help="where to write the truth JSON (default: beside --out)")
    synth.add_argument("--study", default=None,
                       help="write the cohort as the study folder <landing>/<ID>/ with a study.yml (default: the default study)")
    synth.set_defaults(func=_synth)

    run = sub.add_parser("run", help="materialize what changed since the published copy, in-process, and print a summary")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("--full", action="store_true",
                       help="rebuild everything from the raw tables (default: only the sources with new "
                       "deliveries and what is downstream of them; a change of code or settings also rebuilds everything)")
    scope.add_argument("--select", default=None, help="Dagster asset selection, run as given (default: what changed)")
    run.add_argument("--verbose", action="store_true",
                     help="also print Dagster's log and dbt's output (always in the run log: WAREHOUSE_RUN_LOG)")
    run.set_defaults(func=_run)

    sql = sub.add_parser("sql", help="a read-only SQL shell on the serving file (README, \"How analysts connect\")")
    sql.add_argument("file", nargs="?", default=None, help="a DuckDB file (default: WAREHOUSE_SERVING_DB_PATH)")
    sql.add_argument("-c", dest="command", default=None, metavar="SQL", help="run SQL (statements end with ;) and exit")
    sql.set_defaults(func=_sql)

    dev = sub.add_parser("dev", help="the Dagster UI on http://127.0.0.1:PORT (same instance as `run`)")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(func=_dev)

    clean = sub.add_parser("clean", help="remove the warehouse files, figures, reports, docs and run history")
    clean.add_argument("--landing", action="store_true", help="also remove the landing folder and its truth file")
    clean.set_defaults(func=_clean)

    explain = sub.add_parser("explain", help="the delivered rows behind published values (README, \"Explain a number\")")
    explain.add_argument("table", help="schema.table of the serving file, e.g. marts.fct_subject_endpoints")
    explain.add_argument("--where", action="append", default=[], metavar="COL=VALUE",
                         help="keep the rows whose COL, as text, equals VALUE (repeatable; all must hold)")
    explain.add_argument("--column", default=None, help="explain only this column's value")
    explain.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    explain.set_defaults(func=_explain)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # a setting that is not a number, an unknown time zone
        print(f"warehouse: {exc}", file=sys.stderr)
        return 2
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
