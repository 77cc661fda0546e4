"""The loops a developer repeats all day, each against its floor, measured in one run (issue 21).

Usage: ``python bench/bench_inner_loop.py [--size 1000] [--reps 5] [--threads 2] [--json FILE]``

On a ``--flavour realistic`` generated project (``bench/generate.py``: 10,000-row tables, joins,
CTEs, windows, QUALIFY, UNION ALL, EXISTS, ~0.4 checks per model), each repetition measures, every
command a fresh process:

- **parallel floor**: ``bench/floor.py build``: the compiled statements from
  ``target/manifest.json`` run by N threads in DAG order, no orch code (wall and peak RSS);
- **guarded floor**: ``bench/floor.py build-guarded``: the same, plus what a build must do
  besides the statements, as plain SQL on the same N threads: each table's data version (one
  aggregate scan), each view's one-row read in its transaction, each check once what it reads is
  done;
- **build**: ``orch build --threads N`` on an empty warehouse (``.orch/`` deleted too);
- **no-op**: ``orch build --changed`` right after, nothing changed;
- **one model**: ``orch run -s MODEL`` for a model in the middle of the DAG, and its floor:
  ``bench/floor.py one`` (open the warehouse file, run that model's statement, close);
- **checks floor**: ``bench/floor.py checks``: every check's failing-rows count in one
  connection, on the warehouse the build left; **orch test**: all checks through orch, with
  ``--threads 1`` and with ``--threads N`` (the floor is one connection: a parallel orch beating
  it is fair);
- **cold compile**: ``orch compile`` after deleting ``target/`` (its parse cache included).

Prints the medians and each figure's ratio to its floor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench_build import model_order, quote
from measure import (
    BENCH_DIR,
    DEFAULT_OUT,
    BenchError,
    Sample,
    ensure_project,
    median,
    remove_paths,
    run_measured,
    run_process,
)


def floor_plan(manifest: dict[str, Any]) -> dict[str, Any]:
    """What ``floor.py`` runs: CREATE statements with their dependencies, and the check queries."""
    order = model_order(manifest)
    index: dict[str, int] = {}
    statements: list[dict[str, Any]] = []
    schemas: set[str] = set()
    database = None
    ephemeral_parents: dict[str, set[int]] = {}
    for key in order:
        node = manifest["nodes"][key]
        ups: set[int] = set()
        for parent in manifest.get("parents", {}).get(key, []):
            if parent in index:
                ups.add(index[parent])
            ups |= ephemeral_parents.get(parent, set())
        materialized = node.get("config", {}).get("materialized", "view")
        relation = node.get("relation")
        if relation is None or materialized in ("ephemeral", "none"):
            ephemeral_parents[key] = ups
            continue
        database = database or relation.get("database")
        schemas.add(relation["schema_name"])
        kind = "VIEW" if materialized == "view" else "TABLE"
        target = f"{quote(relation['schema_name'])}.{quote(relation['identifier'])}"
        index[key] = len(statements)
        statements.append(
            {"sql": f"CREATE OR REPLACE {kind} {target} AS {node['compiled_code']}",
             "after": sorted(ups), "kind": kind, "target": target}
        )  # fmt: skip
    checks, check_after = [], []
    for check in manifest.get("checks", {}).values():
        if not check.get("sql"):
            continue
        checks.append(check["sql"])
        reads = [index[a] for a in check.get("depends_on", []) if a in index]
        reads += [i for a in check.get("depends_on", []) for i in ephemeral_parents.get(a, ())]
        check_after.append(sorted(set(reads)))
    return {"database": database, "schemas": sorted(schemas), "statements": statements,
            "checks": checks, "check_after": check_after}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="models (default 1000)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="threads of both (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--json", type=Path, help="also write the medians to this JSON file")
    args = parser.parse_args(argv)
    figures: dict[str, list[Sample]] = {}

    def add(name: str, sample: Sample) -> Sample:
        figures.setdefault(name, []).append(sample)
        return sample

    try:
        project = ensure_project(args.size, args.out, args.seed, flavour="realistic")
        dirs = ["--project-dir", str(project)]
        run_measured(["compile", *dirs])
        manifest = json.loads((project / "target" / "manifest.json").read_text())
        plan = floor_plan(manifest)
        plan_file = project / "target" / "floor_plan.json"
        plan_file.write_text(json.dumps(plan))
        floor_db = project / "target" / "floor.duckdb"
        warehouse = project / "warehouse.duckdb"
        floor_cmd = [sys.executable, str(BENCH_DIR / "floor.py"), str(plan_file)]
        order = model_order(manifest)
        one_model = manifest["nodes"][order[len(order) // 2]]["name"]
        one_index = next(
            i for i, s in enumerate(plan["statements"]) if f'"{one_model}" AS' in s["sql"]
        )
        n_checks = len(plan["checks"])
        print(
            f"{len(plan['statements'])} models, {n_checks} checks; one model: {one_model}",
            flush=True,
        )
        for rep in range(args.reps):
            remove_paths(floor_db, floor_db.with_name(floor_db.name + ".wal"))
            add("floor", run_process([*floor_cmd, "build", "--threads", str(args.threads),
                                      "--database", str(floor_db)]))  # fmt: skip
            remove_paths(floor_db, floor_db.with_name(floor_db.name + ".wal"))
            guarded = [*floor_cmd, "build-guarded", "--threads", str(args.threads)]
            add("guarded_floor", run_process([*guarded, "--database", str(floor_db)]))
            remove_paths(warehouse, warehouse.with_name(warehouse.name + ".wal"), project / ".orch")
            add("build", run_measured(["build", *dirs, "--threads", str(args.threads)]))
            add("noop", run_measured(["build", "--changed", *dirs]))
            add("one_model", run_measured(["run", "-s", one_model, *dirs]))
            add("one_floor", run_process([*floor_cmd, "one", "--statement", str(one_index),
                                          "--database", str(warehouse)]))  # fmt: skip
            add("checks_floor", run_process([*floor_cmd, "checks", "--database", str(warehouse)]))
            add("test", run_measured(["test", *dirs, "--threads", "1"]))
            add("test_threads", run_measured(["test", *dirs, "--threads", str(args.threads)]))
            remove_paths(project / "target")
            add("cold_compile", run_measured(["compile", *dirs]))
            plan_file.write_text(json.dumps(plan))
            print(
                f"  rep {rep + 1}/{args.reps}: "
                + " ".join(f"{k} {v[-1].seconds:.2f}s" for k, v in figures.items()),
                flush=True,
            )
    except BenchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    seconds = {k: median([s.seconds for s in v]) for k, v in figures.items()}
    rss = {k: median([s.peak_rss_mib for s in v]) for k, v in figures.items()}
    cpu = {k: median([s.cpu_seconds for s in v]) for k, v in figures.items()}
    result = {
        "models": len(plan["statements"]), "checks": n_checks, "reps": args.reps,
        "threads": args.threads, "seconds": seconds, "peak_rss_mib": rss, "cpu_seconds": cpu,
        "build_over_floor": seconds["build"] / seconds["floor"],
        "build_over_guarded_floor": seconds["build"] / seconds["guarded_floor"],
        "test_over_checks_floor": seconds["test"] / seconds["checks_floor"],
        "test_threads_over_checks_floor": seconds["test_threads"] / seconds["checks_floor"],
        "build_rss_over_floor": rss["build"] / rss["floor"],
        "one_model_over_floor": seconds["one_model"] / seconds["one_floor"],
    }  # fmt: skip
    print()
    print(f"{'figure':<34}{'median s':>10}{'peak MiB':>10}{'cpu s':>10}")
    labels = {
        "floor": f"parallel floor ({args.threads} threads)",
        "guarded_floor": f"guarded floor ({args.threads} threads)",
        "build": f"orch build --threads {args.threads}",
        "noop": "orch build --changed (no-op)",
        "one_model": f"orch run -s {one_model}",
        "one_floor": "one statement floor (open, run, close)",
        "checks_floor": f"checks floor ({n_checks} queries)",
        "test": "orch test --threads 1",
        "test_threads": f"orch test --threads {args.threads}",
        "cold_compile": "orch compile (cold)",
    }
    for key, label in labels.items():
        print(f"{label:<34}{seconds[key]:>10.2f}{rss[key]:>10.0f}{cpu[key]:>10.2f}")
    print(f"build / parallel floor            {result['build_over_floor']:.2f} x")
    print(f"build / guarded floor             {result['build_over_guarded_floor']:.2f} x")
    print(f"orch test / checks floor          {result['test_over_checks_floor']:.2f} x"
          f"  (cpu {cpu['test'] / cpu['checks_floor']:.2f} x)")  # fmt: skip
    print(f"  --threads {args.threads}                     "
          f"{result['test_threads_over_checks_floor']:.2f} x")  # fmt: skip
    print(f"build peak RSS / floor's          {result['build_rss_over_floor']:.2f} x")
    print(f"one model / one statement floor   {result['one_model_over_floor']:.2f} x")
    print("(medians)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
