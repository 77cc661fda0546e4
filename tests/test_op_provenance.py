"""Op steps record the Python source of their op (once per fingerprint, in code_versions):
``orch runs show RUN`` names it per step, ``orch code show STEP --run RUN`` prints it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

JOB = """\
from orch import job, op

FACTOR = 3


@op
def extract() -> int:
    return 2


@op
def scale(n: int) -> int:
    return n * FACTOR


@job
def nightly():
    scale(extract())
"""


def op_code_rows(root: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(root / ".orch" / "state.db") as conn:
        return conn.execute(
            "select step_key, fingerprint, module from op_step_code"
            " join code_versions using (fingerprint) order by step_key"
        ).fetchall()


def test_op_steps_record_their_source(make_project, tmp_path: Path, orch) -> None:
    root = make_project(tmp_path, {"jobs/nightly.py": JOB})
    first = orch("job", "run", "nightly", "--project-dir", root)
    assert first.exit_code == 0, first.output
    rows = op_code_rows(root)
    assert [(r[0], r[2]) for r in rows] == [
        ("extract", "jobs/nightly.py"), ("scale", "jobs/nightly.py"),
    ]  # fmt: skip
    assert all(r[1].startswith("op:") and len(r[1]) == 3 + 64 for r in rows)

    run_id = json.loads(orch("runs", "--output", "json", "--project-dir", root).stdout)["runs"][0][
        "run_id"
    ]
    shown = orch("runs", "show", run_id[:8], "--project-dir", root)
    assert shown.exit_code == 0, shown.output
    assert f"      code: jobs/nightly.py ({rows[1][1][:15]})" in shown.stdout
    detail = json.loads(
        orch("runs", "show", run_id[:8], "--output", "json", "--project-dir", root).stdout
    )
    assert {o["step"]: o["code_fingerprint"] for o in detail["op_steps"]} == {
        r[0]: r[1] for r in rows
    }

    code = orch("code", "show", "scale", "--run", run_id[:8], "--project-dir", root)
    assert code.exit_code == 0, code.output
    assert code.stdout.splitlines()[0].startswith(f"scale: op step of run {run_id[:8]} (nightly)")
    assert "@op\ndef scale(n: int) -> int:\n    return n * FACTOR" in code.stdout
    assert "def extract" not in code.stdout

    # the same code again: stored once; changed code: a new version, the old run keeps its own
    assert orch("job", "run", "nightly", "--project-dir", root).exit_code == 0
    with sqlite3.connect(root / ".orch" / "state.db") as conn:
        assert conn.execute("select count(*) from code_versions").fetchone() == (2,)
    (root / "jobs/nightly.py").write_text(JOB.replace("n * FACTOR", "n * FACTOR + 1"))
    assert orch("job", "run", "nightly", "--project-dir", root).exit_code == 0
    with sqlite3.connect(root / ".orch" / "state.db") as conn:
        assert conn.execute("select count(*) from code_versions").fetchone() == (3,)
    old = orch("code", "show", "scale", "--run", run_id[:8], "--project-dir", root)
    assert "return n * FACTOR\n" in old.stdout and "+ 1" not in old.stdout


def test_an_unknown_op_step_is_named_with_the_closest(make_project, tmp_path: Path, orch) -> None:
    root = make_project(tmp_path, {"jobs/nightly.py": JOB})
    assert orch("job", "run", "nightly", "--project-dir", root).exit_code == 0
    run_id = json.loads(orch("runs", "--output", "json", "--project-dir", root).stdout)["runs"][0][
        "run_id"
    ]
    bad = orch("code", "show", "scal", "--run", run_id[:8], "--project-dir", root)
    assert bad.exit_code == 2
    assert f"run '{run_id[:8]}' has no such op step: 'scal'" in bad.output
    assert "scale" in bad.output and "Traceback" not in bad.output
