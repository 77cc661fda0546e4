"""``--changed`` across members: a rebuild in the owner of a public model whose data changed
makes the readers in other members stale; one with the same data leaves them up to date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.workspace.test_workspace import make_workspace, rows


@pytest.fixture
def built(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path)
    for member in ("finance", "marketing"):  # tables: their data versions are fingerprints
        path = ws / member / "orch_project.yml"
        path.write_text(
            path.read_text() + f"models:\n  {member}:\n    +materialized: table\n",
            encoding="utf-8",
        )
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 0, run.output
    return ws


def test_a_data_change_upstream_makes_the_readers_stale(built: Path) -> None:
    (built / "finance/models/revenue.sql").write_text(
        "select 1 as id, 11.5::double as amount", encoding="utf-8"
    )
    owner = run_cli("build", "--project-dir", built / "finance")  # the owner alone
    assert owner.exit_code == 0, owner.output
    status = run_cli("status", "--workspace", built, "--output", "json")
    assert status.exit_code == 0, status.output
    found = {a["asset"]: a["status"] for a in json.loads(status.stdout)["assets"]}
    assert found["marketing.roi"] == "upstream newer"
    assert found["finance.revenue"] == "up to date"
    dry = run_cli("build", "--workspace", built, "--changed", "--dry-run")
    assert dry.exit_code == 0, dry.output
    planned = [line.split()[0] for line in dry.stdout.splitlines() if line.startswith("  ")]
    assert planned == ["marketing.bare", "marketing.roi"]
    assert "source finance.revenue changed" in dry.stdout
    run = run_cli("build", "--workspace", built, "--changed")
    assert run.exit_code == 0, run.output
    marketing = run.stdout[run.stdout.index("== marketing") :]
    assert "OK      roi (table, 1 rows)" in marketing and "OK      bare (table" in marketing
    assert rows(built, "select * from marketing.roi") == [(1, 23.0)]
    again = run_cli("build", "--workspace", built, "--changed")
    assert "2 steps" not in again.stdout and "nothing to do" in again.stdout


def test_inside_the_consumer_too(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (built / "finance/models/revenue.sql").write_text(
        "select 1 as id, 12.5::double as amount", encoding="utf-8"
    )
    assert run_cli("build", "--project-dir", built / "finance").exit_code == 0
    monkeypatch.chdir(built / "marketing")
    run = run_cli("build", "--changed")
    assert run.exit_code == 0, run.output
    assert "2 steps" in run.stdout
    assert rows(built, "select * from marketing.roi") == [(1, 25.0)]


def test_a_rebuild_with_the_same_data_changes_nothing_downstream(built: Path) -> None:
    owner = run_cli("build", "--project-dir", built / "finance", "-s", "revenue")
    assert owner.exit_code == 0, owner.output
    assert "1/1 OK      revenue (table, 1 rows)" in owner.stdout  # rebuilt, same rows
    run = run_cli("build", "--project-dir", built / "marketing", "--changed")
    assert run.exit_code == 0, run.output
    assert "0 steps" in run.stdout and "nothing to do" in run.stdout
