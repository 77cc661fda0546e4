"""Contracts of public models: a breaking change is reported on every command that loads the
workspace or one of its members, naming the consumers, until accepted by ``orch contract
accept``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.workspace.test_workspace import REVENUE_YML, make_workspace, rows


def broken_message(readers: str = "marketing/") -> str:
    """The message, with the readers' folder as seen from where the command runs."""
    return (
        "public model 'finance.revenue' breaks its contract (column 'amount' removed), and "
        f"project marketing reads it: marketing ({readers}models/bare.sql, {readers}models/"
        "roi.sql). Keep the column and its type (add new columns instead), or update those "
        "projects first, then accept the change with 'orch contract accept finance.revenue'"
    )


BROKEN = broken_message()


def break_revenue(ws: Path) -> None:
    """finance.revenue loses its column 'amount' (in SQL and in its contract)."""
    (ws / "finance/models/revenue.sql").write_text("select 1 as id", encoding="utf-8")
    (ws / "finance/models/schema.yml").write_text(
        REVENUE_YML.replace("      - {name: amount, data_type: double}\n", ""), encoding="utf-8"
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    ws = make_workspace(tmp_path)
    built = run_cli("build", "--workspace", ws)
    assert built.exit_code == 0, built.output
    break_revenue(ws)
    return ws


@pytest.mark.parametrize("command", ["build", "run", "compile", "ls"])
def test_the_owner_alone_reports_its_readers(
    broken: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken / "finance")  # inside the member: its own commands
    run = run_cli(command)
    assert run.exit_code == 2, run.output
    assert run.stderr.strip() == (
        f"Error: models/schema.yml:2:5: {broken_message('../marketing/')}"
    )
    assert rows(broken, "select * from finance.revenue") == [(1, 10.5)]  # nothing shipped


def test_a_consumer_of_a_changed_contract_is_stopped_too(
    broken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken / "marketing")
    run = run_cli("build")
    assert run.exit_code == 2, run.output
    assert run.stderr.strip() == (f"Error: ../finance/models/schema.yml:2:5: {broken_message('')}")
    assert rows(broken, "select * from marketing.roi") == [(1, 21.0)]


def test_workspace_commands_report_it_from_the_cache_too(broken: Path) -> None:
    for command in ("ls", "status", "build"):
        run = run_cli(command, "--workspace", broken)
        assert run.exit_code == 2, (command, run.output)
        assert f"Error: finance/models/schema.yml:2:5: {BROKEN}" in run.stderr


def test_accept_records_the_new_columns_and_the_build_ships(broken: Path) -> None:
    (broken / "marketing/models/roi.sql").write_text(
        "select id, id * 2 as doubled from {{ ref('finance', 'revenue') }}", encoding="utf-8"
    )
    accepted = run_cli("contract", "accept", "finance.revenue", "--workspace", broken)
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout.strip() == (
        "finance.revenue: contract accepted (column 'amount' removed)"
    )
    shipped = json.loads((broken / "finance/target/contracts.json").read_text())
    assert shipped == {"revenue": {"id": "integer"}}
    built = run_cli("build", "--workspace", broken)
    assert built.exit_code == 0, built.output
    assert rows(broken, "select * from finance.revenue") == [(1,)]
    assert rows(broken, "select * from marketing.roi") == [(1, 2)]


def test_accept_inside_the_owner_and_unknown_names(
    broken: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(broken / "finance")
    unknown = run_cli("contract", "accept", "ledger")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == (
        "Error: 'finance.ledger' is no public model with an enforced contract. Public "
        "contracted models of finance: revenue"
    )
    nobody = run_cli("contract", "accept", "sales.revenue")
    assert nobody.exit_code == 2
    assert "'sales.revenue': no workspace member is named 'sales'" in nobody.stderr
    accepted = run_cli("contract", "accept", "revenue")
    assert accepted.exit_code == 0, accepted.output
    assert "finance.revenue: contract accepted (column 'amount' removed)" in accepted.stdout
    assert run_cli("ls").exit_code == 0  # the check passes now


def test_adding_a_column_breaks_nobody(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    assert run_cli("build", "--workspace", ws).exit_code == 0
    (ws / "finance/models/revenue.sql").write_text(
        "select 1 as id, 10.5::double as amount, 'eur' as currency", encoding="utf-8"
    )
    (ws / "finance/models/schema.yml").write_text(
        REVENUE_YML + "      - {name: currency, data_type: varchar}\n", encoding="utf-8"
    )
    run = run_cli("build", "--project-dir", ws / "finance")
    assert run.exit_code == 0, run.output
    shipped = json.loads((ws / "finance/target/contracts.json").read_text())
    assert shipped["revenue"] == {"amount": "double", "currency": "varchar", "id": "integer"}


def test_accept_before_any_build_records_a_first_contract(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    run = run_cli("contract", "accept", "--workspace", ws)
    assert run.exit_code == 0, run.output
    assert run.stdout == "finance.revenue: contract accepted (first recorded: amount, id)\n"
    shipped = json.loads((ws / "finance/target/contracts.json").read_text())
    assert shipped == {"revenue": {"amount": "double", "id": "integer"}}
