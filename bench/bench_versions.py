"""Issue 19 part 2: time change classification on 10,000 models and the data-version fingerprint.

Usage: ``python bench/bench_versions.py [--models 10000] [--reps 5] [--rows 2000000]``

1. **classification**: a generated project of N models (``bench/generate.py``) is compiled once;
   a state snapshot records every model as built with its current fingerprint and column
   versions; then one upstream model gets a non-breaking change (a column added) and the time of
   :class:`orch.run.freshness.FreshnessMap` over the whole project (which classifies the change
   and prunes what it does not reach) plus ``build_plan``'s decisions is measured (median).
2. **fingerprint overhead**: in DuckDB, a table build as a table step does it
   (``replace_table_atomically``: build under a temporary name, swap it in) from a ``--rows``
   table, copy-like and aggregating, against the same build followed by the content
   fingerprint (:meth:`Adapter.content_fingerprint`, the general two-query form and DuckDB's
   one-query form) timed right after each build; the fingerprint's median over the build's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate_project  # noqa: E402
from orch.adapters.duckdb import DuckDBAdapter  # noqa: E402
from orch.compiler import compile_or_reuse  # noqa: E402
from orch.config import RunOptions  # noqa: E402
from orch.events import utcnow  # noqa: E402
from orch.names import Relation  # noqa: E402
from orch.run.change import classify, hits  # noqa: E402
from orch.run.freshness import FreshnessMap  # noqa: E402
from orch.state.records import MaterializationRecord  # noqa: E402
from orch.state.snapshot import StateSnapshot  # noqa: E402


def classification(
    models: int, reps: int, breaking: bool
) -> tuple[dict[str, float], str, int, int]:
    out = Path(__file__).resolve().parent / "out" / f"project_versions_{models}"
    if not (out / "orch_project.yml").exists():
        generate_project(models, out)
    manifest = compile_or_reuse(RunOptions(project_dir=out)).manifest
    now = utcnow()
    snap = StateSnapshot()
    for i, (name, node) in enumerate(manifest.nodes.items()):
        if node.resource_type == "source":
            continue
        snap.latest[(name, None)] = MaterializationRecord(
            id=i + 1, run_id="r", target="dev", asset=name, partition_key=None,
            status="success", fingerprint=node.fingerprint, materialized=node.materialized,
            started_at=now - timedelta(hours=1), finished_at=now - timedelta(hours=1),
            duration_s=0.1, rows=50, versions={"code": dict(node.column_versions)},
        )  # fmt: skip
    order = manifest.topological_names()
    changed = next(
        n for n in order if manifest.nodes[n].column_versions and manifest.children.get(n)
    )
    node = manifest.nodes[changed]
    first = next(iter(node.column_versions))
    versions = (
        {**node.column_versions, first: "changed"}
        if breaking
        else {**node.column_versions, "added_col": "new"}
    )
    edited = node.model_copy(
        update={"fingerprint": node.fingerprint + "x", "column_versions": versions}
    )
    original = manifest.nodes[changed]
    with_change, without, alone = [], [], []
    for _ in range(reps):  # interleaved, so machine load hits both alike
        manifest.nodes[changed] = edited
        t0 = time.perf_counter()
        fmap = FreshnessMap(manifest, snap, now=now, order=order)
        with_change.append(time.perf_counter() - t0)
        stale = sum(1 for n in order if n in fmap and fmap.of(n).stale)
        manifest.nodes[changed] = original
        t0 = time.perf_counter()
        FreshnessMap(manifest, snap, now=now, order=order)
        without.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        change = classify(manifest, edited, snap.latest[(changed, None)])
        for child in manifest.children.get(changed, []):
            hits(manifest.nodes[child], changed, change.affected, direct=True)
        alone.append(time.perf_counter() - t0)
    return (
        {
            "freshness of every asset, one change": statistics.median(with_change),
            "freshness of every asset, no change": statistics.median(without),
            "classify the change and its readers alone": statistics.median(alone),
        },
        fmap.changes[changed].reason,
        stale,
        len(order),
    )


BUILDS = {
    # every input row comes out: the fingerprint scans as many rows as the build wrote
    "copy-like (join + projection)": (
        "SELECT s.id, s.k, s.grp, s.amount, d.name,"
        " s.amount * 1.21 AS gross, upper(s.grp) || d.name AS label"
        " FROM src s JOIN dim d ON s.k = d.k"
    ),
    # an aggregate: the fingerprint scans the (much smaller) output only
    "aggregating (join + group by)": (
        "SELECT s.k, s.grp, d.name, count(*) AS n,"
        " sum(s.amount) AS amount, avg(s.amount) AS mean"
        " FROM src s JOIN dim d ON s.k = d.k GROUP BY ALL"
    ),
}


def fingerprint_overhead(rows: int, reps: int) -> dict[str, tuple[float, float, float]]:
    """Per build shape: the median build, and the median time of the fingerprint of the
    previous, general form (a column-list query, then the aggregate) and of DuckDB's one-query
    form, each run right after the build on the table it wrote."""
    from orch.adapters.base import Adapter

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        from orch.config import DuckDBTargetConfig

        adapter = DuckDBAdapter(DuckDBTargetConfig(path=str(Path(tmp) / "w.duckdb"), schema="main"),
                                Path(tmp))  # fmt: skip
        adapter.open()
        adapter.execute(
            "CREATE TABLE src AS SELECT range AS id, range % 1000 AS k, 'g' || (range % 37) AS grp,"
            f" random() * 100 AS amount FROM range({rows})"
        )
        adapter.execute(
            "CREATE TABLE dim AS SELECT range AS k, 'name ' || range AS name FROM range(1000)"
        )
        relation = Relation(None, "main", "t")
        for label, build in BUILDS.items():
            plain, general, one = [], [], []
            forms = [(general, lambda: Adapter.content_fingerprint(adapter, relation)),
                     (one, lambda: adapter.content_fingerprint(relation))]  # fmt: skip
            for i in range(reps):  # each fingerprint timed on the table just built
                t0 = time.perf_counter()
                adapter.replace_table_atomically(relation, build)
                plain.append(time.perf_counter() - t0)
                for times, fingerprint in forms if i % 2 else forms[::-1]:  # alternate the order
                    t0 = time.perf_counter()
                    fingerprint()
                    times.append(time.perf_counter() - t0)
            build_s = statistics.median(plain)
            out[label] = (build_s, statistics.median(general), statistics.median(one))
        adapter.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--fingerprint-only", action="store_true", help="skip classification")
    args = parser.parse_args()
    for breaking in () if args.fingerprint_only else (False, True):
        times, reason, stale, total = classification(args.models, args.reps, breaking)
        print(f"{total} assets, one change ({reason}; {stale} stale):")
        for label, seconds in times.items():
            print(f"  {label}: median {seconds:.4f}s")
    for label, (plain, general, one) in fingerprint_overhead(args.rows, args.reps).items():
        print(f"{label} table build over {args.rows:,} rows: median {plain * 1000:.1f} ms; "
              f"general fingerprint {general * 1000:.1f} ms (+{general / plain:.1%}); DuckDB's "
              f"one-query fingerprint {one * 1000:.1f} ms (+{one / plain:.1%})")  # fmt: skip


if __name__ == "__main__":
    main()
