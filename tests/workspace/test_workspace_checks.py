"""``orch test --workspace``: each member's checks, against its own warehouse and state store,
selected over the workspace graph (``member.asset``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli
from tests.workspace.test_workspace import make_workspace

MARKETING_YML = """\
models:
  - name: roi
    columns:
      - name: id
        tests: [not_null, unique]
      - name: doubled
        tests:
          - accepted_values: {values: [99]}
"""
FINANCE_CHECKS = """\
  - name: ledger
    columns:
      - name: id
        tests: [not_null]
"""


def _workspace(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path)
    (ws / "marketing/models/schema.yml").write_text(MARKETING_YML, encoding="utf-8")
    schema = ws / "finance/models/schema.yml"
    schema.write_text(schema.read_text() + FINANCE_CHECKS, encoding="utf-8")
    built = run_cli("run", "--workspace", ws)
    assert built.exit_code == 0, built.output
    return ws


def test_checks_of_every_member_run_and_fail_as_in_one_project(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    run = run_cli("test", "--workspace", ws)
    assert run.exit_code == 1, run.output  # roi.doubled is 21, not 99
    finance = run.stdout[run.stdout.index("== finance") : run.stdout.index("== marketing")]
    marketing = run.stdout[run.stdout.index("== marketing") :]
    assert "not_null_ledger_id" in finance and "roi" not in finance
    assert "unique_roi_id" in marketing and "accepted_values_roi_doubled" in marketing
    assert "FAIL" in marketing and "FAIL" not in finance
    # each member's results went to its own state store: a member's own `orch test` agrees
    alone = run_cli("test", "--project-dir", ws / "finance")
    assert alone.exit_code == 0, alone.output


def test_selection_spans_members(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    run = run_cli("test", "--workspace", ws, "-s", "finance.revenue+", "--exclude",
                  "test_type:accepted_values")  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "== finance" not in run.stdout  # revenue has no checks; ledger is not downstream
    assert "unique_roi_id" in run.stdout and "not_null_roi_id" in run.stdout
    assert "accepted_values" not in run.stdout
    nothing = run_cli("test", "--workspace", ws, "-s", "finance.revenue")
    assert nothing.exit_code == 0
    assert "No checks selected" in nothing.stderr


def test_a_member_that_fails_to_load_leaves_the_others_tested(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / "finance/models/ledger.sql").write_text("select 2 as id", encoding="utf-8")
    (ws / "marketing/orch_project.yml").write_text("name: marketing\nmodel_pathz: [x]\n")
    run = run_cli("test", "--workspace", ws)
    assert run.exit_code == 2, run.output
    assert "not_null_ledger_id" in run.stdout
    assert "marketing did not load" in run.stderr and "orch_project.yml:2" in run.stderr
