"""Measure orch's per-model overhead on a generated 1,000-model project against a floor.

Usage: ``python bench/bench_build.py [--size 1000] [--reps 5] [--threads 2] [--seed 0] [--out DIR]``

1. ``orch compile`` writes ``DIR/target/manifest.json``.
2. **floor**: the models' ``compiled_code`` from the manifest, executed in topological order (from
   ``manifest["parents"]``) in one DuckDB connection in this process, each as
   ``CREATE OR REPLACE TABLE|VIEW "schema"."identifier" AS <compiled_code>`` by
   ``config.materialized`` (incremental counts as table; ephemeral models are skipped: they are
   inlined into their children). This is what the warehouse must do whatever the orchestrator.
3. **build**: ``orch build --project-dir DIR --threads T`` on an empty warehouse (the DuckDB file
   and ``.orch/`` state are deleted before each repetition; ``target/`` and its parse cache are
   kept).
4. **no-op build**: ``orch build --changed`` right after a full build, nothing changed.
5. **one model**: ``orch run -s MODEL`` for one model in the middle of the DAG.

Prints the medians, the ratio build/floor and the overhead per model in milliseconds,
``(build - floor) / N``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
from measure import (
    DEFAULT_OUT,
    BenchError,
    ensure_project,
    median,
    remove_paths,
    require_command,
    run_measured,
)

TABLE_LIKE = {"table", "incremental"}


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def model_order(manifest: dict[str, Any]) -> list[str]:
    """Keys of the model nodes, each after its model parents (ties in sorted order)."""
    nodes = manifest["nodes"]
    models = {key for key, node in nodes.items() if node.get("resource_type") == "model"}
    parents = {
        key: {p for p in manifest.get("parents", {}).get(key, []) if p in models} for key in models
    }
    children: dict[str, list[str]] = {key: [] for key in models}
    for key, ups in parents.items():
        for up in ups:
            children[up].append(key)
    waiting = {key: len(ups) for key, ups in parents.items()}
    ready = sorted(key for key, count in waiting.items() if count == 0)
    order: list[str] = []
    while ready:
        nxt: list[str] = []
        for key in ready:
            order.append(key)
            for child in children[key]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    nxt.append(child)
        ready = sorted(nxt)
    if len(order) != len(models):
        raise BenchError("manifest['parents'] has a cycle among models")
    return order


def floor_statements(manifest: dict[str, Any]) -> tuple[str | None, list[str], list[str]]:
    """The database to attach as, the schemas, and one CREATE per materialized model, in order."""
    statements: list[str] = []
    schemas: set[str] = set()
    database: str | None = None
    for key in model_order(manifest):
        node = manifest["nodes"][key]
        materialized = node.get("config", {}).get("materialized", "view")
        relation = node.get("relation")
        if relation is None or materialized in ("ephemeral", "none"):
            continue
        database = database or relation.get("database")
        schemas.add(relation["schema_name"])
        kind = "TABLE" if materialized in TABLE_LIKE else "VIEW"
        target = f"{quote(relation['schema_name'])}.{quote(relation['identifier'])}"
        statements.append(f"CREATE OR REPLACE {kind} {target} AS {node['compiled_code']}")
    return database, sorted(schemas), statements


def run_floor(
    project: Path, database: str | None, schemas: list[str], statements: list[str]
) -> float:
    """Execute the statements in one fresh DuckDB database; the wall time in seconds."""
    path = project / "target" / "bench_floor.duckdb"
    remove_paths(path, path.with_name(path.name + ".wal"))
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    # Attach under the manifest's database name, so fully qualified compiled SQL resolves.
    con.execute(f"ATTACH {_string(str(path))} AS {quote(database or 'bench_floor')}")
    con.execute(f"USE {quote(database or 'bench_floor')}")
    for schema in schemas:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
    for statement in statements:
        try:
            con.execute(statement)
        except duckdb.Error as err:
            raise BenchError(f"floor statement failed: {err}\n    {statement[:300]}") from err
    con.close()
    seconds = time.perf_counter() - started
    remove_paths(path, path.with_name(path.name + ".wal"))
    return seconds


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="models (default 1000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="orch build --threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where projects live")
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    args = parser.parse_args(argv)

    try:
        require_command(["compile"], ("--project-dir",))
        require_command(["build"], ("--project-dir", "--threads", "--changed"))
        require_command(["run"], ("--project-dir", "--select"))
        project = ensure_project(args.size, args.out, args.seed)
        dir_args = ["--project-dir", str(project)]
        warehouse = [project / "warehouse.duckdb", project / "warehouse.duckdb.wal"]

        run_measured(["compile", *dir_args])
        manifest_path = project / "target" / "manifest.json"
        if not manifest_path.is_file():
            raise BenchError(f"'orch compile' wrote no {manifest_path}")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        database, schemas, statements = floor_statements(manifest)
        n_models = len(statements)
        order = model_order(manifest)
        one_model = manifest["nodes"][order[len(order) // 2]]["name"]
        print(f"{n_models} materialized models; one-model run selects '{one_model}'", flush=True)

        floor, build, noop, single = [], [], [], []
        for rep in range(args.reps):
            floor.append(run_floor(project, database, schemas, statements))
            remove_paths(*warehouse, project / ".orch")
            build.append(run_measured(["build", *dir_args, "--threads", str(args.threads)]).seconds)
            noop.append(run_measured(["build", "--changed", *dir_args]).seconds)
            single.append(run_measured(["run", "-s", one_model, *dir_args]).seconds)
            print(
                f"  rep {rep + 1}/{args.reps}: floor {floor[-1]:.2f}s build {build[-1]:.2f}s"
                f" no-op {noop[-1]:.2f}s one model {single[-1]:.2f}s",
                flush=True,
            )
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    f, b = median(floor), median(build)
    result = {
        "models": n_models,
        "reps": args.reps,
        "threads": args.threads,
        "floor_s": f,
        "build_s": b,
        "noop_build_s": median(noop),
        "one_model_run_s": median(single),
        "build_over_floor": b / f if f else None,
        "overhead_ms_per_model": (b - f) / n_models * 1000 if n_models else None,
    }
    print()
    print(f"models                         {n_models}")
    print(f"floor (DuckDB only)            {f:8.2f} s")
    print(f"orch build --threads {args.threads:<2}         {b:8.2f} s")
    print(f"orch build --changed (no-op)   {result['noop_build_s']:8.2f} s")
    print(f"orch run -s {one_model:<18} {result['one_model_run_s']:8.2f} s")
    if f:
        print(f"build / floor                  {b / f:8.2f} x")
    if n_models:
        print(f"overhead per model             {(b - f) / n_models * 1000:8.2f} ms")
    print("(medians)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
