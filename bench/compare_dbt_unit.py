"""Run the dbt unit-test fixture with the real dbt and with orch; compare pass/fail and time.

    python bench/compare_dbt_unit.py /work/dbtvenv/bin/dbt [--orch .venv/bin/orch]

dbt is not one of orch's dependencies: install it in a venv of its own
(``python3 -m venv /tmp/dbtvenv && /tmp/dbtvenv/bin/pip install dbt-core dbt-duckdb``).

``tests/dbt/fixtures/unit_dbt`` is copied twice. dbt needs the tested models' relations to exist
(it reads the input types from the warehouse, and ``input: this`` from the model's table), so
its copy first runs ``dbt build --exclude test_type:unit``, then ``dbt test --select
test_type:unit`` (timed); orch's copy runs ``orch test -s test_type:unit`` only (timed; it needs
no warehouse). The status of every unit test in the two ``run_results.json`` is compared. Then
``dbt ls -s state:modified --state <orch's target>`` runs in dbt's copy: on the unchanged
project it must list nothing (a unit test is compared by its checksum).

Exit status: 0 when the statuses are the same and nothing is listed modified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "dbt" / "fixtures" / "unit_dbt"


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started


def statuses(project: Path, target: str = "target") -> dict[str, str]:
    data = json.loads((project / target / "run_results.json").read_text(encoding="utf-8"))
    return {
        r["unique_id"]: r["status"]
        for r in data["results"]
        if r["unique_id"].startswith("unit_test.")
    }


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbt", help="path of the dbt executable")
    parser.add_argument("--orch", default=str(Path(sys.executable).with_name("orch")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="orch_unit_cmp_") as tmp:
        base = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.endswith("PROFILES_DIR")}
        env["HOME"] = str(base)
        env["ORCH_DBT"] = str(Path(args.dbt).absolute())  # orch reads dbt's built-in macros there
        dbt_dir, orch_dir = base / "dbt", base / "orch"
        shutil.copytree(FIXTURE, dbt_dir)
        shutil.copytree(FIXTURE, orch_dir)
        run([args.dbt, "build", "--profiles-dir", ".", "--exclude", "test_type:unit"], dbt_dir, env)
        dbt_s = run(
            [args.dbt, "test", "--profiles-dir", ".", "--select", "test_type:unit"], dbt_dir, env
        )
        orch_s = run(
            [args.orch, "test", "--project-dir", ".", "-s", "test_type:unit"], orch_dir, env
        )
        got_dbt, got_orch = statuses(dbt_dir), statuses(orch_dir)
        listed = subprocess.run(
            [args.dbt, "ls", "-q", "-s", "state:modified", "--state", str(orch_dir / "target"),
             "--profiles-dir", ".", "--output", "json", "--output-keys", "unique_id"],
            cwd=dbt_dir, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    modified = [json.loads(line)["unique_id"] for line in listed.stdout.splitlines()
                if line.startswith("{")]  # fmt: skip
    if listed.returncode != 0:
        modified.append(f"(dbt ls failed: {listed.stdout[-300:]}{listed.stderr[-300:]})")
    print(f"state:modified against orch's artifacts, unchanged project: {modified or 'nothing'}")
    same = got_dbt == got_orch and not modified
    for uid in sorted(set(got_dbt) | set(got_orch)):
        mark = "  " if got_dbt.get(uid) == got_orch.get(uid) else "!!"
        print(f"{mark} {uid}: dbt {got_dbt.get(uid)}, orch {got_orch.get(uid)}")
    print(
        f"dbt test --select test_type:unit: {dbt_s:.2f}s; orch test -s test_type:unit: "
        f"{orch_s:.2f}s ({len(got_orch)} unit tests, wall time, process start included)"
    )
    print("same pass/fail" if same else "DIFFERENT pass/fail")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
