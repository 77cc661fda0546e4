"""The parquet IO manager against polars' own Parquet writer and reader.

    python bench/bench_io.py --rows 10000000 --reps 5

One frame of ``--rows`` rows × 5 columns (int64, float64, short string, date, bool). Each rep
runs, interleaved in one process so machine noise hits both alike: polars ``write_parquet`` to
a file, ``ParquetIOManager.handle_output`` (temporary file + rename, metadata), polars
``scan_parquet().collect()``, ``ParquetIOManager.load_input``. Prints medians and the ratios
(IO manager / polars); the target is ≤ 1.2 for both.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import polars as pl
from orch.run.io import ParquetIOManager
from orch.storage import InputContext, OutputContext


def frame(rows: int) -> pl.DataFrame:
    """``rows`` rows of 5 columns, deterministic."""
    ids = pl.arange(0, rows, eager=True)
    return pl.DataFrame(
        {
            "id": ids,
            "amount": ids.cast(pl.Float64) * 0.37,
            "shop": (ids % 97).cast(pl.String).str.pad_start(4, "s"),
            "day": pl.date_range(date(2020, 1, 1), date(2024, 12, 31), eager=True)
            .sample(rows, with_replacement=True, seed=0)
            .sort(),
            "paid": ids % 3 == 0,
        }
    )


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    data = frame(args.rows)
    tmp = Path(tempfile.mkdtemp(prefix="bench_io_"))
    try:
        io = ParquetIOManager(base_dir=str(tmp / "io"))
        plain = tmp / "plain.parquet"
        out = OutputContext(key=("bench",), asset="bench")
        ctx = InputContext(name="bench", upstream_output=out, asset="down")
        times: dict[str, list[float]] = {k: [] for k in ("pw", "iw", "pr", "ir")}
        for _ in range(args.reps):
            times["pw"].append(timed(lambda: data.write_parquet(plain)))
            times["iw"].append(timed(lambda: io.handle_output(out, data)))
            times["pr"].append(timed(lambda: pl.scan_parquet(plain).collect()))
            times["ir"].append(timed(lambda: io.load_input(ctx)))
        med = {k: statistics.median(v) for k, v in times.items()}
        size = plain.stat().st_size
        print(f"rows={args.rows:,} columns=5 reps={args.reps} file={size / 2**20:.1f} MiB")
        print(
            f"write: polars {med['pw']:.3f} s  io manager {med['iw']:.3f} s  "
            f"ratio {med['iw'] / med['pw']:.2f}"
        )
        print(
            f"read:  polars {med['pr']:.3f} s  io manager {med['ir']:.3f} s  "
            f"ratio {med['ir'] / med['pr']:.2f}"
        )
        for k, v in times.items():
            print(f"  {k}: " + ", ".join(f"{x:.3f}" for x in v))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
