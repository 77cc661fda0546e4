"""``orch test`` runs through the library (:func:`orch.run.workflow.run_checks`) like a build.

It holds the target's run lock while its checks read, so during a build it names the build
that holds the target instead of failing on the warehouse file the build has open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from orch.state import LockOwner, SQLiteStateStore

from tests.conftest import MakeProject, run_cli

FILES = {
    "models/orders.sql": "select range as id from range(3)",
    "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n"
    "      - name: id\n        tests: [unique, not_null]\n",
}


def test_orch_test_during_a_build_names_the_build(
    tmp_path: Path, make_project: MakeProject
) -> None:
    project = make_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    store = SQLiteStateStore.for_project(project)
    try:
        with store.acquire_lock("dev", LockOwner("build", run_id="r-build", pid=os.getpid())):
            result = run_cli("test", "--project-dir", project)
    finally:
        store.close()
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(
        f"Error: target 'dev' is locked by `build` (pid {os.getpid()} on host "
    ), result.stderr
    assert ", run r-build). Wait for it to finish." in result.stderr
    assert "Traceback" not in result.stderr


def test_orch_test_records_its_run_and_results(tmp_path: Path, make_project: MakeProject) -> None:
    project = make_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    result = run_cli("test", "--project-dir", project)
    assert result.exit_code == 0, result.output
    assert "PASSED 2 check results" in result.stdout
    results = json.loads((project / "target" / "run_results.json").read_text())
    assert results["args"]["command"] == "test"
    assert sorted(r["status"] for r in results["results"]) == ["pass", "pass"]
    store = SQLiteStateStore.for_project(project, readonly=True)
    try:
        runs = store.recent_runs(5, target="dev")
    finally:
        store.close()
    assert runs[0].command == "test" and runs[0].status == "success"


def test_passing_orch_test_imports_no_sqlglot(tmp_path: Path, make_project: MakeProject) -> None:
    """A passing ``orch test`` runs each check's compiled SQL as it is: sqlglot (~0.1 s of
    imports) is not loaded, nor the run-time renderer that needs it."""
    import subprocess
    import sys

    project = make_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", project).exit_code == 0
    code = (
        "import sys; from orch.cli import main; sys.argv = ['orch', 'test', '--project-dir', "
        f"{str(project)!r}]\ntry:\n    main()\nexcept SystemExit as e:\n"
        "    print('exit', e.code, 'sqlglot' in sys.modules, 'orch.run.live_render' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert "PASSED 2 check results" in done.stdout, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "exit 0 False False", done.stdout
