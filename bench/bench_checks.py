"""Speed of checks: 8 column checks of one 10-million-row table, folded into one scan or not.

    python bench/bench_checks.py                  # 10,000,000 rows, 5 repetitions
    python bench/bench_checks.py --rows 1000000 --reps 3

Builds a project under bench/out/checks_<rows> with one table model ``big`` (``range(rows)``
with four hashed columns, a few bad rows) and 8 YAML column checks (3 not_null, 2
accepted_values, 3 expression; 4 of them find failing rows), then times, with orch's own
``CheckEvaluator`` on one DuckDB connection:

- *one scan*: ``SELECT MAX(HASH(id, bucket, kind, flag, amount)) FROM big``: reading every value
  of the checked columns once;
- *one by one*: the 8 checks, each a filtered ``COUNT(*)`` over its failing-rows query (DuckDB's
  default, ``PREFERS_FOLDED_CHECKS = False``), plus a sample query for each failing check;
- *folded*: the 8 checks in one ``SELECT COUNT_IF(p1), ..., COUNT_IF(p8) FROM big`` (the default
  of other adapters), plus the same sample queries.

The goal (issue 5): the 8 checks cost ≤ 2 scans. Prints medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from orch.adapters import get_adapter
from orch.config import RunOptions
from orch.run.checks import CheckEvaluator, CheckScope
from orch.run.workflow import compile_for

BENCH_DIR = Path(__file__).resolve().parent

# Hashed values (no sorted runs for min/max statistics to prune) and a few failing rows in most
# checks, so each check really reads its column.
MODEL = """\
{{{{ config(materialized='table') }}}}
select
    i as id,
    case when i % 1000 = 0 then null else hash(i) % 7 end as bucket,
    case when i % 10007 = 0 then 'z' when hash(i) % 3 = 0 then 'a'
         when hash(i) % 3 = 1 then 'b' else 'c' end as kind,
    case when hash(i * 7) % 2 = 0 then 'x' else 'y' end as flag,
    case when i % 5003 = 0 then -1 else cast(hash(i) % 1000 as double) / 10 end as amount
from range({rows}) as t(i)
"""

YAML = """\
models:
  - name: big
    columns:
      - name: id
        checks: [not_null, {expression: ">= 0"}]
      - name: bucket
        checks: [not_null, {expression: "< 7"}]
      - name: kind
        checks: [not_null, {accepted_values: {values: [a, b, c]}}]
      - name: flag
        checks: [{accepted_values: {values: [x, y]}}]
      - name: amount
        checks: [{expression: "between 0 and 100"}]
"""


def make_project(rows: int, out: Path) -> Path:
    """Write (once) and build the benchmark project."""
    root = out / f"checks_{rows}"
    if not (root / "warehouse.duckdb").exists():
        shutil.rmtree(root, ignore_errors=True)
        (root / "models").mkdir(parents=True)
        (root / "orch_project.yml").write_text("name: bench_checks\ndialect: duckdb\n")
        (root / "models" / "big.sql").write_text(MODEL.format(rows=rows))
        (root / "models" / "big.yml").write_text(YAML)
        orch = Path(sys.executable).parent / "orch"
        subprocess.run([str(orch), "run", "--project-dir", str(root)], check=True)
    return root


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _evaluate(evaluator: CheckEvaluator, checks: list, into: list) -> None:
    into.extend(evaluator.evaluate(checks, CheckScope()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    args = parser.parse_args()
    root = make_project(args.rows, args.out)
    compiled = compile_for(RunOptions(project_dir=root))
    manifest = compiled.manifest
    checks = [c for c in manifest.checks.values() if c.asset == "big"]
    assert len(checks) == 8, sorted(manifest.checks)
    adapter = get_adapter(compiled.project.target, root)
    scan_times, single_times, folded_times = [], [], []
    with adapter:
        single_ev = CheckEvaluator(adapter, manifest, "bench", fold=False)
        folded_ev = CheckEvaluator(adapter, manifest, "bench", fold=True)
        one_scan = "SELECT MAX(HASH(id, bucket, kind, flag, amount)) FROM main.big"
        adapter.fetch_rows(one_scan)  # warm the cache once
        statuses: dict[str, tuple[str, int]] = {}
        for _ in range(args.reps):
            scan_times.append(timed(lambda: adapter.fetch_rows(one_scan)))
            one: list = []
            single_times.append(timed(partial(_evaluate, single_ev, checks, one)))
            both: list = []
            folded_times.append(timed(partial(_evaluate, folded_ev, checks, both)))
            statuses = {r.check: (r.status, r.failing_rows) for r in one}
            assert statuses == {r.check: (r.status, r.failing_rows) for r in both}
    for name, (status, rows) in sorted(statuses.items()):
        print(f"  {name}: {status} ({rows:,} failing rows)")
    scan, single, folded = (statistics.median(x) for x in (scan_times, single_times, folded_times))
    print(f"rows: {args.rows:,}; checks: {len(checks)}; repetitions: {args.reps}")
    print(f"one scan           : {scan:.3f} s")
    print(f"one by one (8)     : {single:.3f} s  ({single / scan:.2f} scans)")
    print(f"folded (8)         : {folded:.3f} s  ({folded / scan:.2f} scans)")


if __name__ == "__main__":
    main()
