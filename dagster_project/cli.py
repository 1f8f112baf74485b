"""`warehouse` command: synth | run (bench and report are added by their own modules).

    warehouse synth --profile park2023 [--seed N] [--subjects N] --out DIR
    warehouse run                 materialize the whole asset graph once, in-process
    warehouse bench --subjects N[,N...] [--incremental]   time the pipeline against the DuckDB floor
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dagster_project.settings import apply_defaults, path


def _synth(args: argparse.Namespace) -> int:
    from dagster_project.synthetic import generate

    out = Path(args.out)
    truth = generate(args.profile, out, seed=args.seed, subjects=args.subjects,
                     truth_path=Path(args.truth) if args.truth else None)
    n_files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"wrote {n_files} delivery files of profile {args.profile} (seed {args.seed}) to {out}")
    print(f"enrolled {truth.get('n_enrolled')}, infused {truth.get('n_infused')}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from dagster_project.run import run_pipeline

    return run_pipeline(selection=args.select)


def _bench(args: argparse.Namespace) -> int:
    from dagster_project import bench

    return bench.run(args)


def main(argv: list[str] | None = None) -> int:
    apply_defaults()
    parser = argparse.ArgumentParser(prog="warehouse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic cohort as a landing folder")
    synth.add_argument("--profile", default="park2023", choices=["park2023", "wehrli2022", "scale"])
    synth.add_argument("--seed", type=int, default=20230703)
    synth.add_argument("--subjects", type=int, default=None, help="cohort size (scale profile)")
    synth.add_argument("--out", default=str(path("WAREHOUSE_LANDING_DIR")))
    synth.add_argument("--truth", default=None, help="where to write the truth JSON (default: beside --out)")
    synth.set_defaults(func=_synth)

    run = sub.add_parser("run", help="materialize every asset once, in-process, and print a summary")
    run.add_argument("--select", default=None, help="Dagster asset selection (default: everything)")
    run.set_defaults(func=_run)

    bench = sub.add_parser("bench", help="time the whole pipeline on a scale cohort against the DuckDB floor")
    from dagster_project.bench import add_arguments

    add_arguments(bench)
    bench.set_defaults(func=_bench)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
