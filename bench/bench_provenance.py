"""What code provenance costs a run: the git probe once per run, and storing code per step.

Usage: ``python bench/bench_provenance.py [--steps 1000] [--reps 5]``

1. **git probe**: :func:`orch.run.provenance.git_state` (``git rev-parse HEAD`` + ``git status
   --porcelain``) on this repository's ``example_project/``, median of 15 calls.
2. **recording**: ``--steps`` StepMaterialized events (one asset each, 1,500 characters of SQL)
   into a fresh SQLite state store through :class:`orch.state.StateRecorder`, with code
   provenance (``code_of``) and without; medians of ``--reps``; the difference per step.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from orch.events import RunFinished, RunStarted, StepMaterialized
from orch.run.provenance import git_state
from orch.state import SQLiteStateStore, StateRecorder
from orch.state.records import CodeVersion, GitState

ROOT = Path(__file__).resolve().parent.parent
SQL = ("select id, amount, status from orders where amount > 0 -- padding\n" * 22)[:1500]


def record(steps: int, provenance: bool) -> float:
    """Seconds to record one run of ``steps`` materializations."""
    with tempfile.TemporaryDirectory() as tmp, SQLiteStateStore.for_project(Path(tmp)) as store:
        code = {
            f"a{i}": CodeVersion(f"fp{i}", "sql", f"models/a{i}.sql", SQL) for i in range(steps)
        }
        recorder = (
            StateRecorder(store, code_of=code.get, git=GitState("0" * 40))
            if provenance
            else StateRecorder(store)
        )
        at = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        recorder.emit(RunStarted("r1", "build", "dev", "", steps))
        for i in range(steps):
            recorder.emit(
                StepMaterialized("r1", f"a{i}", f"a{i}", None, "table", f"fp{i}", 1, 0.0, at)
            )
        recorder.emit(RunFinished("r1", "success", 0.0, {"success": steps}))
        return time.perf_counter() - t0


def main() -> None:
    """Print the medians."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    probes = []
    for _ in range(15):
        t0 = time.perf_counter()
        state = git_state(ROOT / "example_project", exclude=["target", "logs", ".orch"])
        probes.append(time.perf_counter() - t0)
    print(
        f"git probe: {statistics.median(probes) * 1000:.1f} ms (median of 15), {state.describe()}"
    )
    plain = statistics.median(record(args.steps, False) for _ in range(args.reps))
    with_code = statistics.median(record(args.steps, True) for _ in range(args.reps))
    extra = (with_code - plain) / args.steps * 1000
    print(
        f"recording {args.steps} steps: {plain:.3f} s without provenance, {with_code:.3f} s with"
        f" (medians of {args.reps}); +{extra:.2f} ms per step"
    )


if __name__ == "__main__":
    main()
