"""An analyst reading the serving copy, run as a separate process by the tests.

    python tests/serving_reader.py SERVING OUT_JSONL STOP_FILE poll|hold [INTERVAL_SECONDS]

poll: open the serving file read-only, check it, close it; again and again.
hold: open it read-only once (as soon as it exists) and keep that connection for the whole
      time, checking through it again and again.
Each check appends one JSON line to OUT_JSONL: {"ok", "run_id", "tables", "rows", "error"}.
A check is ok when every table of marts/analysis/audit can be read and audit.publication has
exactly one row whose table count matches the tables present (a complete publication).
The reader stops when STOP_FILE exists.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb

SCHEMAS = ["marts", "analysis", "audit"]


def check(con: duckdb.DuckDBPyConnection) -> dict:
    tables = con.execute(
        """select schema_name, table_name from duckdb_tables() where schema_name in ?
           union all
           select schema_name, view_name from duckdb_views() where schema_name in ? and not internal""",
        [SCHEMAS, SCHEMAS],
    ).fetchall()
    rows = {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}
    publication = con.execute("select run_id, tables from audit.publication").fetchall()
    ok = len(publication) == 1 and publication[0][1] == len(tables) - 1  # publication itself not counted
    return {
        "ok": ok,
        "run_id": publication[0][0] if publication else None,
        "tables": sorted(rows),
        "rows": sum(rows.values()),
        "error": None if ok else f"publication {publication} vs {len(tables)} tables",
    }


def main(serving: Path, out: Path, stop: Path, mode: str, interval: float) -> None:
    with out.open("a") as log:
        def record(entry: dict) -> None:
            log.write(json.dumps({"t": time.time(), **entry}) + "\n")
            log.flush()

        held = None
        while not stop.exists():
            if serving.exists():
                try:
                    if mode == "hold":
                        if held is None:
                            held = duckdb.connect(str(serving), read_only=True)
                            record({"ok": True, "event": "opened", "run_id": None, "tables": [], "rows": 0, "error": None})
                        record(check(held))
                    else:
                        with duckdb.connect(str(serving), read_only=True) as con:
                            record(check(con))
                except Exception as exc:  # noqa: BLE001 - every failure is a finding
                    record({"ok": False, "run_id": None, "tables": [], "rows": 0, "error": repr(exc)})
            time.sleep(interval)
        if held is not None:
            held.close()
        record({"ok": True, "event": "stopped", "run_id": None, "tables": [], "rows": 0, "error": None})


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4],
         float(sys.argv[5]) if len(sys.argv) > 5 else 0.02)
