"""Automation conditions: one tick's evaluation for N assets (goal: 10,000 assets ≤ 1 s).

    python bench/bench_automation.py [--assets 10000] [--repeat 5]

A synthetic manifest of N assets (10 roots; every other asset reads one or two earlier ones)
whose conditions mix every kind — eager 40 %, on_cron 20 %, max_lag 20 %, on_missing 10 %,
composites 10 % — and a state store (SQLite, in a temporary folder) where every asset was built
once and the roots again later, so most eager assets are requested. Two medians:

1. *evaluate*: :class:`orch.automation.evaluate.Evaluator` over a snapshot already read;
2. *tick*: reading the snapshot from the SQLite store + evaluating (what the daemon does per
   tick after compiling; the manifest is reused from ``target/`` when no file changed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from orch.automation.evaluate import Evaluator
from orch.config import ModelConfig
from orch.manifest import Manifest, Node, ProjectInfo, RelationInfo
from orch.state import SQLiteStateStore
from orch.state.snapshot import StateSnapshot

KINDS = [
    *["eager"] * 4,
    *['on_cron("0 6 * * *")'] * 2,
    *["max_lag(2h)"] * 2,
    "on_missing",
    'eager & ~on_cron("0 0 * * 0") | max_lag(1d)',
]


def synthetic_manifest(n: int, seed: int = 7) -> Manifest:
    """N table models, 10 roots without a condition, the rest with mixed conditions."""
    rng = random.Random(seed)
    nodes: dict[str, Node] = {}
    parents: dict[str, list[str]] = {}
    for i in range(n):
        name = f"m{i:05d}"
        ups = [] if i < 10 else sorted({f"m{rng.randrange(i):05d}" for _ in range(2)})
        cond = None if i < 10 else KINDS[i % len(KINDS)]
        nodes[name] = Node(
            name=name,
            unique_id=f"model.bench.{name}",
            resource_type="model",
            relation=RelationInfo(database=None, schema_name="main", identifier=name),
            config=ModelConfig(materialized="table", automation=cond),
            depends_on=ups,
            fingerprint="f",
        )
        parents[name] = ups
    children: dict[str, list[str]] = {k: [] for k in nodes}
    for k, ups in parents.items():
        for u in ups:
            children[u].append(k)
    info = ProjectInfo(name="bench", dialect="duckdb", target_name="dev", target_type="duckdb",
                       target_dialect="duckdb", database=None, schema_name="main")  # fmt: skip
    return Manifest(orch_version="0", project=info, nodes=nodes, parents=parents, children=children)


def fill_state(store: SQLiteStateStore, manifest: Manifest, now: datetime) -> None:
    """Every asset built 3 h ago (in order), the roots rebuilt 1 h ago."""
    run = store.start_run("build", target="dev", started_at=now - timedelta(hours=3))
    t = now - timedelta(hours=3)
    for name in manifest.topological_names():
        t += timedelta(milliseconds=1)
        store.record_materialization(run_id=run, asset=name, partition_key=None,
                                     status="success", started_at=t, finished_at=t,
                                     fingerprint="f", materialized="table")  # fmt: skip
    store.finish_run(run, "success")
    run = store.start_run("build", target="dev", started_at=now - timedelta(hours=1))
    for i in range(10):
        t = now - timedelta(hours=1)
        store.record_materialization(run_id=run, asset=f"m{i:05d}", partition_key=None,
                                     status="success", started_at=t, finished_at=t,
                                     fingerprint="f", materialized="table")  # fmt: skip
    store.finish_run(run, "success")


def median_of(repeat: int, fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Median wall seconds and median CPU seconds of ``repeat`` calls (CPU time is what a
    loaded machine does not inflate)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    """Build the manifest and the state, time the evaluation and the tick, print medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    manifest = synthetic_manifest(args.assets)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStateStore(Path(tmp) / "state.db")
        fill_state(store, manifest, now)
        snapshot = StateSnapshot.read(store, "dev")
        result = Evaluator(manifest, snapshot, {}, now).evaluate()
        evaluate = median_of(args.repeat, lambda: Evaluator(manifest, snapshot, {}, now).evaluate())
        tick = median_of(
            args.repeat,
            lambda: Evaluator(manifest, StateSnapshot.read(store, "dev"), {}, now).evaluate(),
        )
        store.close()
    print(f"assets: {args.assets}, with a condition: {len(result.assets)}, "
          f"requested: {len(result.requested)} in {len(result.runs)} runs")  # fmt: skip
    print(f"evaluate (snapshot read):     median {evaluate[0]:.3f} s wall, "
          f"{evaluate[1]:.3f} s CPU, of {args.repeat}")  # fmt: skip
    print(f"tick (read state + evaluate): median {tick[0]:.3f} s wall, "
          f"{tick[1]:.3f} s CPU, of {args.repeat}")  # fmt: skip


if __name__ == "__main__":
    main()
