"""Time dbt seed type inference (``orch.load.dbt_seeds.infer_seed_types``) on a generated CSV.

    python bench/bench_seed_types.py [--rows 100000] [--repeat 5] [--against OLD_MODULE.py]

The CSV has one column per common shape (integers, decimals, dates, date-times with a space and
with a ``T``, booleans, text). ``--against`` times another module's ``infer_seed_types`` on the
same file in the same run (e.g. the previous implementation, saved from git), for a ratio.
Prints the median seconds of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orch.load.dbt_seeds import infer_seed_types  # noqa: E402


def write_csv(path: Path, rows: int) -> None:
    """A seed of ``rows`` rows, one column per shape."""
    with path.open("w", encoding="utf-8") as f:
        f.write("id,amount,day,stamp,stamp_iso,flag,note\n")
        for i in range(rows):
            day = f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}"
            f.write(f"{i},{i % 100}.5,{day},{day} 10:{i % 60:02d}:00,{day}T10:00:00Z,"
                    f"{'true' if i % 2 else 'false'},note {i}\n")  # fmt: skip


def median_seconds(fn, path: Path, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(path, "duckdb")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--against", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.csv"
        write_csv(path, args.rows)
        print("types:", infer_seed_types(path, "duckdb"))
        new = median_seconds(infer_seed_types, path, args.repeat)
        print(f"infer_seed_types, {args.rows} rows x 7 columns: median {new:.3f}s")
        if args.against is not None:
            spec = importlib.util.spec_from_file_location("seed_types_old", args.against)
            assert spec is not None and spec.loader is not None
            old_module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(old_module)
            print("types (against):", old_module.infer_seed_types(path, "duckdb"))
            old = median_seconds(old_module.infer_seed_types, path, args.repeat)
            print(f"against {args.against.name}: median {old:.3f}s (new/old = {new / old:.2f})")


if __name__ == "__main__":
    main()
