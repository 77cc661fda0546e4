"""Partition overhead: a daily model over 3 years (1,096 partitions) of small data.

1. **direct**: the same per-partition statements orch runs (DELETE the day, INSERT the day's
   rows, in one transaction), in a loop on one DuckDB connection, from Python: the floor.
2. **backfill**: ``orch backfill -s fct_events --yes --threads N`` as a fresh process (start-up,
   compile, planning, lock, state writes and the out-of-window check included).
3. **no-op build**: ``orch build`` when every partition is up to date (a fresh process: planning
   reads the state only, never the warehouse).
4. **planning alone**: ``build_plan`` in-process for 1,096 partitions (and 10x the rows, to show
   it does not grow with rows).

Usage: ``python bench/bench_partitions.py [--reps 3] [--threads 1] [--rows-per-day 100]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent
OUT = BENCH_DIR / "out" / "partitions"
START, END = date(2022, 1, 1), date(2025, 1, 1)  # 1,096 days

MODEL = """\
{{ config(materialized='incremental', partitioned_by={'grain': 'daily', 'start': '2022-01-01',
   'end': '2025-01-01', 'column': 'event_at'}) }}
select id, event_at, customer_id, amount * 2 as amount
from {{ source('raw', 'events') }}
where event_at >= {{ partition.start }} and event_at < {{ partition.end }}
"""
SOURCES = """\
sources:
  - name: raw
    schema: raw
    tables:
      - name: events
"""
PROFILES = """\
bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      schema: main
      threads: {threads}
"""


def make_project(root: Path, rows_per_day: int, threads: int) -> Path:
    """A fresh project folder with the source table generated in its warehouse."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "models").mkdir(parents=True)
    (root / "orch_project.yml").write_text(
        "name: bench\nprofile: bench\ndialect: duckdb\nbackfill-confirm-above: 100000\n"
    )
    (root / "profiles.yml").write_text(PROFILES.format(threads=threads))
    (root / "models" / "fct_events.sql").write_text(MODEL)
    (root / "models" / "_sources.yml").write_text(SOURCES)
    days = (END - START).days
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(
        f"CREATE TABLE raw.events AS SELECT i AS id, "
        f"TIMESTAMP '{START}' + to_microseconds(((i * 86400000000) // {rows_per_day})::BIGINT) "
        f"AS event_at, i % 97 AS customer_id, (i % 1000) / 10.0 AS amount "
        f"FROM range({days * rows_per_day}) t(i)"
    )
    con.close()
    return root


def direct(root: Path) -> float:
    """The floor: delete + insert per day, one transaction each, one connection."""
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("DROP TABLE IF EXISTS main.direct_events")
    con.execute(
        "CREATE TABLE main.direct_events AS SELECT id, event_at, customer_id, amount * 2 AS amount"
        " FROM raw.events LIMIT 0"
    )
    t0 = time.perf_counter()
    day = START
    while day < END:
        lo, hi = f"TIMESTAMP '{day} 00:00:00'", f"TIMESTAMP '{day + timedelta(days=1)} 00:00:00'"
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM main.direct_events WHERE event_at >= {lo} AND event_at < {hi}")
        con.execute(
            "INSERT INTO main.direct_events SELECT id, event_at, customer_id, amount * 2 AS amount"
            f" FROM raw.events WHERE event_at >= {lo} AND event_at < {hi}"
        )
        con.execute("COMMIT")
        day += timedelta(days=1)
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def orch(root: Path, *args: str) -> float:
    """Wall time of one ``orch`` process."""
    exe = Path(sys.executable).parent / "orch"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(exe), *args, "--project-dir", str(root)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"orch {' '.join(args)} failed:\n{proc.stdout[-2000:]}{proc.stderr}")
    return elapsed


def reset(root: Path) -> None:
    """Forget orch's state and table (keep the source data)."""
    shutil.rmtree(root / ".orch", ignore_errors=True)
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    con.execute("DROP TABLE IF EXISTS main.fct_events")
    con.close()


def planning(root: Path) -> float:
    """In-process: compile once, then time build_plan over every partition."""
    from orch.config import RunOptions
    from orch.run.partition_plan import PartitionExpander, PartitionRequest
    from orch.run.plan import build_plan
    from orch.run.workflow import compile_for, open_state

    compiled = compile_for(RunOptions(project_dir=root))
    manifest, target = compiled.manifest, compiled.project.target_name
    state = open_state(root, readonly=True)
    try:
        times = []
        for _ in range(5):
            now = datetime.now(timezone.utc)
            t0 = time.perf_counter()
            expander = PartitionExpander(manifest, target, PartitionRequest(now=now))
            plan = build_plan(manifest, {"fct_events"}, state, target=target, partitions=expander)
            times.append(time.perf_counter() - t0)
            assert len(plan) == 0, f"expected a no-op plan, got {len(plan)} steps"
        return statistics.median(times)
    finally:
        state.close()


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rows-per-day", type=int, default=100)
    args = parser.parse_args()
    root = make_project(OUT, args.rows_per_day, 1)
    orch(root, "compile")
    directs: list[float] = []
    backfills: dict[int, list[float]] = {t: [] for t in args.threads}
    noops: list[float] = []
    for _ in range(args.reps):  # alternate, so machine noise hits every measurement alike
        directs.append(direct(root))
        for threads in args.threads:
            reset(root)
            backfills[threads].append(
                orch(root, "backfill", "-s", "fct_events", "--yes", "--threads", str(threads))
            )
        noops.append(orch(root, "build"))
    plan_s = planning(root)
    big = make_project(OUT.with_name("partitions_10x"), args.rows_per_day * 10, 1)
    orch(big, "backfill", "-s", "fct_events", "--yes")
    plan_big = planning(big)
    d, n = statistics.median(directs), statistics.median(noops)
    days = (END - START).days
    print(f"{days} daily partitions, {args.rows_per_day} rows/day, medians of {args.reps}")
    print("| measurement | seconds |")
    print("|---|---:|")
    print(f"| direct delete+insert, one DuckDB connection | {d:.2f} |")
    for threads, samples in backfills.items():
        b = statistics.median(samples)
        print(f"| `orch backfill --threads {threads}` (whole process) | {b:.2f} (x{b / d:.2f}) |")
    print(f"| no-op `orch build` (whole process) | {n:.2f} |")
    print(f"| `build_plan` alone, {args.rows_per_day} rows/day | {plan_s * 1000:.0f} ms |")
    print(f"| `build_plan` alone, {args.rows_per_day * 10} rows/day | {plan_big * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
