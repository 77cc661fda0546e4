"""Speed of unit tests: 1,000 YAML unit tests over a 1,000-model generated project.

    python bench/bench_unit_tests.py                 # 1,000 models, one unit test each, 3 reps
    python bench/bench_unit_tests.py --models 200 --reps 5

Generates ``bench/generate.py``'s project under ``bench/out/unit_<N>`` and writes
``models/unit_tests.yml``: one unit test per model, giving each of its parents 5 rows (all seven
columns) and expecting every row the model returns in three of its columns (computed once, with
orch's own runner, so every test passes). Then times, in a fresh process each (interpreter
start-up and imports included):

- *cold*: ``orch test -s test_type:unit`` after deleting ``target/`` and ``.orch/``: load, render
  and parse every model, compile the 1,000 unit tests, run them;
- *warm*: the same command again (the manifest is reused: the tests only run).

Goal (issue 18): ≤ 10 s wall for the 1,000 tests. Prints medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from orch.config import RunOptions
from orch.run.unit_tests import UnitTestRunner, unit_tests_of
from orch.run.workflow import compile_for

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from generate import generate_project, is_generated, plan_models  # noqa: E402

ROWS = [
    {"id": i, "k": i % 3, "grp": f"g{i % 2}", "amount": 10.5 * i, "score": 0.25 * i,
     "flag": i % 2 == 0, "created_at": f"2024-01-0{i} 0{i}:00:00"}
    for i in range(1, 6)
]  # fmt: skip


# what each test compares (a test names the columns it is about; the others are not compared)
EXPECTED_COLUMNS = ("id", "grp", "amount")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def write_tests(root: Path, n: int) -> int:
    """Write one unit test per model, with the expected rows orch's runner computes."""
    specs = plan_models(n, 0)
    tests = [
        {
            "name": f"ut_{s.name}",
            "model": s.name,
            "given": [{"input": p, "rows": ROWS} for p in s.parents],
            "expect": {"rows": []},
        }
        for s in specs
    ]
    path = root / "models" / "unit_tests.yml"
    path.write_text(yaml.safe_dump({"unit_tests": tests}, sort_keys=False), encoding="utf-8")
    compiled = compile_for(RunOptions(project_dir=root))
    manifest = compiled.manifest
    checks = unit_tests_of(manifest, manifest.checks)
    expected: dict[str, list[dict[str, Any]]] = {}
    with UnitTestRunner(manifest, root) as runner:
        for check in checks:
            outcome = runner.outcome(check, keep_output=True)
            assert outcome.output is not None, outcome.message
            expected[check.name] = [
                {k: _plain(row[k]) for k in EXPECTED_COLUMNS} for row in outcome.output.to_pylist()
            ]
    for test in tests:
        test["expect"] = {"rows": expected[str(test["name"])]}
    path.write_text(yaml.safe_dump({"unit_tests": tests}, sort_keys=False), encoding="utf-8")
    shutil.rmtree(root / "target", ignore_errors=True)
    return len(tests)


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return elapsed


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    root = BENCH_DIR / "out" / f"unit_{args.models}"
    if not is_generated(root, args.models):
        generate_project(args.models, root)
    count = write_tests(root, args.models)
    orch = str(Path(sys.executable).with_name("orch"))
    cmd = [orch, "test", "--project-dir", str(root), "-s", "test_type:unit"]
    cold, warm = [], []
    for _ in range(args.reps):
        shutil.rmtree(root / "target", ignore_errors=True)
        shutil.rmtree(root / ".orch", ignore_errors=True)
        cold.append(timed(cmd))
        warm.append(timed(cmd))
    print(f"{count} unit tests over {args.models} models, {args.reps} repetitions")
    print(f"cold (compile + run): median {statistics.median(cold):.2f}s  all {cold}")
    print(f"warm (run only):      median {statistics.median(warm):.2f}s  all {warm}")


if __name__ == "__main__":
    main()
