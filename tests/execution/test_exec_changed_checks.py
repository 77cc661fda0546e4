"""``orch build --changed``: checks of assets skipped as up to date are not re-run (issue 21).

Their last result stands and the run says so; ``--checks all`` re-runs them; a rebuilt asset's
checks run as always, and a check the selection names itself always runs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli, write_project

FILES = {
    "models/orders.sql": "select 1 as id, 10 as amount union all select 2, 20",
    "models/customers.sql": "select 1 as id",
    "models/schema.yml": """
        models:
          - name: orders
            columns:
              - name: id
                checks: [unique, not_null]
          - name: customers
            columns:
              - name: id
                checks: [unique]
    """,
}


def check_results(root: Path) -> list[tuple[str, str]]:
    """(check name, run id) of every recorded check result."""
    con = sqlite3.connect(root / ".orch" / "state.db")
    try:
        return [tuple(r) for r in con.execute("select check_name, run_id from check_results")]
    finally:
        con.close()


def test_noop_changed_build_keeps_last_check_results(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    before = check_results(root)
    assert len(before) == 3

    run = run_cli("build", "--changed", "--project-dir", root)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "3 checks not re-run: what they read is up to date (last results: 3 pass)" in run.stdout
    assert "checks: " not in run.stdout.splitlines()[-1]  # none evaluated
    assert check_results(root) == before

    again = run_cli("build", "--changed", "--checks", "all", "--project-dir", root)
    assert again.exit_code == 0
    assert "checks: 3 pass" in again.stdout
    assert len(check_results(root)) == 6


def test_changed_model_runs_only_its_checks(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    (root / "models" / "orders.sql").write_text("select 1 as id, 11 as amount")
    run = run_cli("build", "--changed", "--project-dir", root)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "checks: 2 pass" in run.stdout
    assert "1 checks not re-run" in run.stdout


def test_a_check_named_in_the_selection_always_runs(tmp_path: Path) -> None:
    root = write_project(tmp_path, FILES)
    assert run_cli("build", "--project-dir", root).exit_code == 0
    run = run_cli("build", "--changed", "-s", "orders unique_customers_id", "--project-dir", root)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "check unique_customers_id" in run.stdout
    assert "2 checks not re-run" in run.stdout
