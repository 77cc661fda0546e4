"""State store costs: SQLite vs the warehouse store on DuckDB and on Snowflake-on-fakesnow.

Per backend, in a fresh folder: 200 ``record_materialization`` calls (what a 200-step build
writes), then 50 ``latest_materializations`` over the 200 rows (what planning reads), then one
acquire + release of the run lock. Prints medians of ``--repeat`` runs in milliseconds.

    python bench/bench_warehouse_state.py --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orch.adapters.duckdb import DuckDBAdapter
from orch.config import DuckDBTargetConfig, SnowflakeTargetConfig
from orch.state import LockOwner, SQLiteStateStore, StateStore
from orch.state.warehouse import WarehouseStateStore

WRITES, READS = 200, 50


def sqlite(folder: Path) -> StateStore:
    return SQLiteStateStore.for_project(folder)


def duckdb(folder: Path) -> StateStore:
    adapter = DuckDBAdapter(DuckDBTargetConfig(path="w.duckdb"), folder)
    adapter.open()
    return WarehouseStateStore(adapter, owns_adapter=True)


def fakesnow_store(folder: Path) -> StateStore:
    from orch.adapters.snowflake import SnowflakeAdapter

    config = SnowflakeTargetConfig(account="fakesnow", user="u", password="p", database="DB")
    adapter = SnowflakeAdapter(config, folder)
    adapter.open()
    return WarehouseStateStore(adapter, database="DB", owns_adapter=True)


def measure(open_store: Callable[[Path], StateStore]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp))
        run_id = store.start_run("orch build", target="dev")
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        for i in range(WRITES):
            store.record_materialization(
                run_id=run_id, asset=f"a{i}", partition_key=None, status="success",
                started_at=now, rows=i,
            )  # fmt: skip
        t1 = time.perf_counter()
        for i in range(READS):
            store.latest_materializations([f"a{i}", f"a{i + 1}"], target="dev")
        t2 = time.perf_counter()
        with store.acquire_lock("dev", LockOwner("bench"), heartbeat_interval=None):
            pass
        t3 = time.perf_counter()
        store.close()
    return {
        "write_ms": (t1 - t0) / WRITES * 1000,
        "latest_ms": (t2 - t1) / READS * 1000,
        "lock_ms": (t3 - t2) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="Arrow output on a DB-API result")
    import fakesnow

    backends: list[tuple[str, Callable[[Path], StateStore], Any]] = [
        ("sqlite (.orch/state.db)", sqlite, nullcontext),
        ("warehouse on DuckDB", duckdb, nullcontext),
        ("warehouse on fakesnow", fakesnow_store, fakesnow.patch),
    ]
    print("| store | write (ms) | latest query (ms) | lock acquire+release (ms) |")
    print("|---|---:|---:|---:|")
    for name, open_store, context in backends:
        runs = []
        for _ in range(args.repeat):
            with context():
                runs.append(measure(open_store))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"| {name} | {med['write_ms']:.2f} | {med['latest_ms']:.2f} | {med['lock_ms']:.1f} |")


if __name__ == "__main__":
    main()
