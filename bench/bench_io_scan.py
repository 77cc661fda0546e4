"""One partition of a 1,000-file daily Parquet asset read by SQL: the glob vs the bound file list.

    python bench/bench_io_scan.py --partitions 1000 --rows 1000 --reps 7

Writes ``--partitions`` daily files of ``--rows`` rows each with the ``parquet`` IO manager,
then times, interleaved in one process, the two forms a partitioned SQL step's read can take in
DuckDB: the glob of every partition's file with the window's row filter (what orch compiled
before the per-step binding), and the list of the step's own file with the same filter (what
``orch.run.io.scan.bind_file_scans`` binds now). Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timedelta

import duckdb
import polars as pl
from orch.assets import PartitionWindow
from orch.run.io import ParquetIOManager
from orch.storage import OutputContext, parquet_glob
from sqlglot import exp

QUERY = (
    "SELECT SUM(n) FROM (SELECT * FROM READ_PARQUET({files}, hive_partitioning = FALSE)) "
    "WHERE day >= CAST('{start}' AS TIMESTAMP) AND day < CAST('{end}' AS TIMESTAMP)"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        io = ParquetIOManager(base_dir=tmp)
        first = datetime(2022, 1, 1)
        for i in range(args.partitions):
            day = first + timedelta(days=i)
            key = day.date().isoformat()
            ctx = OutputContext(key=("events", key), asset="events", partition=PartitionWindow(key))
            io.handle_output(ctx, pl.DataFrame({"day": [day] * args.rows, "n": range(args.rows)}))
        wanted = first + timedelta(days=args.partitions // 2)
        window = {
            "start": wanted.isoformat(sep=" "),
            "end": (wanted + timedelta(1)).isoformat(sep=" "),
        }
        glob = exp.Literal.string(parquet_glob(tmp, "events", partitioned=True)).sql("duckdb")
        own = io.path_for(("events",), wanted.date().isoformat())
        listed = exp.Array(expressions=[exp.Literal.string(own)]).sql("duckdb")
        forms = {
            "glob": QUERY.format(files=glob, **window),
            "list": QUERY.format(files=listed, **window),
        }
        times: dict[str, list[float]] = {k: [] for k in forms}
        con = duckdb.connect()
        expected = sum(range(args.rows))
        for _ in range(args.reps):
            for name, sql in forms.items():
                t0 = time.perf_counter()
                (total,) = con.execute(sql).fetchone()  # type: ignore[misc]
                times[name].append(time.perf_counter() - t0)
                assert total == expected, (name, total)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"{args.partitions} files x {args.rows} rows, one partition, medians of {args.reps}")
        print(f"  glob + row filter : {med['glob'] * 1000:8.1f} ms")
        print(f"  bound file list   : {med['list'] * 1000:8.1f} ms")
        print(f"  ratio glob / list : {med['glob'] / med['list']:8.1f}x")


if __name__ == "__main__":
    main()
