"""``orch test -x/--fail-fast``: stop at the first failing error-severity check."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MakeProject, run_cli

FAILING = {
    "models/a.sql": "select cast(null as int) as x",
    "models/b.sql": "select x from a",
    "models/c.sql": "select 1 as y",
    "models/schema.yml": """\
        models:
          - name: a
            columns: [{name: x, checks: [not_null]}]
          - name: b
            columns: [{name: x, checks: [not_null]}]
          - name: c
            columns: [{name: y, checks: [{not_null: {severity: warn}}]}]
        """,
}


def _checks(stdout: str) -> list[str]:
    rows = [line.split() for line in stdout.splitlines() if line.startswith(" ")]  # the table
    return [f"{row[0]} {row[1]}" for row in rows if row and row[0] in ("PASS", "FAIL", "WARN")]


def test_without_fail_fast_every_check_runs(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, FAILING)
    assert run_cli("run", "--project-dir", root).exit_code == 0
    run = run_cli("test", "--project-dir", root, "--threads", "1")
    assert run.exit_code == 1
    assert _checks(run.stdout) == ["FAIL not_null_a_x", "FAIL not_null_b_x", "PASS not_null_c_y"]
    assert "--fail-fast" not in run.stdout


def test_fail_fast_stops_at_the_first_failure(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project(tmp_path, FAILING)
    assert run_cli("run", "--project-dir", root).exit_code == 0
    for flag in ("-x", "--fail-fast"):
        run = run_cli("test", "--project-dir", root, "--threads", "1", flag)
        assert run.exit_code == 1, run.output
        assert _checks(run.stdout) == ["FAIL not_null_a_x"]
        assert "--fail-fast: stopped after the first failure; 2 check(s) not run." in run.stdout


def test_fail_fast_does_not_stop_at_a_warning(make_project: MakeProject, tmp_path: Path) -> None:
    files = {**FAILING, "models/c.sql": "select cast(null as int) as y"}
    root = make_project(tmp_path, files)
    assert run_cli("run", "--project-dir", root).exit_code == 0
    run = run_cli("test", "--project-dir", root, "--threads", "1", "-x", "-s", "c", "b")
    assert run.exit_code == 1, run.output
    # b's check fails first (sorted by asset): c's warn-severity check never starts
    assert _checks(run.stdout) == ["FAIL not_null_b_x"]
    run = run_cli("test", "--project-dir", root, "--threads", "1", "-x", "-s", "c")
    assert run.exit_code == 0, run.output
    assert _checks(run.stdout) == ["WARN not_null_c_y"]
    assert "not run" not in run.stdout
