"""Workspaces: several projects in one graph, built end to end through the real CLI on DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from orch.state.base import LockOwner
from orch.state.sqlite import SQLiteStateStore

from tests.conftest import run_cli, write_project


def profile(name: str, schema: str, path: str = "../warehouse.duckdb") -> str:
    return f"""\
    {name}:
      target: dev
      outputs:
        dev: {{type: duckdb, path: {path}, schema: {schema}}}
    """


REVENUE_YML = """\
models:
  - name: revenue
    access: public
    config: {contract: {enforced: true}}
    columns:
      - {name: id, data_type: integer}
      - {name: amount, data_type: double}
"""


def make_workspace(root: Path, consumer_sql: dict[str, str] | None = None) -> Path:
    """finance (revenue public, ledger protected) and marketing reading finance.revenue."""
    write_project(
        root / "finance",
        {
            "models/revenue.sql": "select 1 as id, 10.5::double as amount",
            "models/ledger.sql": "select 2 as id",
            "models/schema.yml": REVENUE_YML,
        },
        project_yml="name: finance\n",
        profiles_yml=profile("finance", "finance"),
    )
    write_project(
        root / "marketing",
        consumer_sql
        or {
            "models/roi.sql": "select id, amount * 2 as doubled\n"
            "from {{ ref('finance', 'revenue') }}",
            "models/bare.sql": "select id from finance.revenue",
        },
        project_yml="name: marketing\n",
        profiles_yml=profile("marketing", "marketing"),
    )
    (root / "orch_workspace.yml").write_text(
        "members:\n  - path: finance\n  - path: marketing\n", encoding="utf-8"
    )
    return root


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_build_across_members_writes_each_members_schema(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 0, run.output
    assert run.stdout.index("== finance") < run.stdout.index("== marketing")
    assert rows(ws, "select * from marketing.roi") == [(1, 21.0)]
    assert rows(ws, "select * from marketing.bare") == [(1,)]
    assert rows(ws, "select * from finance.revenue") == [(1, 10.5)]


def test_selection_and_ls_span_projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = make_workspace(tmp_path)
    monkeypatch.chdir(ws)  # orch_workspace.yml found from the current folder
    listed = run_cli("ls", "-s", "finance.revenue+")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == ["finance.revenue", "marketing.bare", "marketing.roi"]
    built = run_cli("build", "-s", "+marketing.roi")
    assert built.exit_code == 0, built.output
    assert rows(ws, "select * from marketing.roi") == [(1, 21.0)]
    assert "ledger" not in built.stdout and "bare" not in built.stdout


def test_inside_a_member_folder_commands_act_on_that_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(tmp_path)
    assert run_cli("build", "--project-dir", ws / "finance").exit_code == 0
    monkeypatch.chdir(ws / "marketing")
    run = run_cli("build")
    assert run.exit_code == 0, run.output
    assert "== " not in run.stdout and "ledger" not in run.stdout
    assert rows(ws, "select * from marketing.roi") == [(1, 21.0)]
    listed = run_cli("ls")
    assert listed.stdout.split() == ["bare", "roi"]


def test_project_dir_twice_is_an_error() -> None:
    run = run_cli("build", "--project-dir", "a", "--project-dir", "b")
    assert run.exit_code == 2
    assert "--project-dir is given 2 times ('a' and 'b'): give it once" in run.stderr


def test_missing_member_path(tmp_path: Path) -> None:
    (tmp_path / "orch_workspace.yml").write_text("members:\n  - path: nowhere\n", encoding="utf-8")
    run = run_cli("build", "--workspace", tmp_path)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: orch_workspace.yml:2:5: member path 'nowhere' does not exist. Fix the path "
        "(relative to orch_workspace.yml) or remove the member"
    )
    assert "Traceback" not in run.output


def test_two_members_with_one_name(tmp_path: Path) -> None:
    write_project(tmp_path / "a", {"models/x.sql": "select 1 as x"}, project_yml="name: same\n")
    write_project(tmp_path / "b", {"models/y.sql": "select 1 as y"}, project_yml="name: same\n")
    (tmp_path / "orch_workspace.yml").write_text("members: [a, b]\n", encoding="utf-8")
    run = run_cli("ls", "--workspace", tmp_path)
    assert run.exit_code == 2
    assert "two members are named 'same': a (at orch_workspace.yml:1:11) and b" in run.stderr


def test_reference_cycle_across_projects(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    (ws / "finance/models/revenue.sql").write_text(
        "select id, 10.5::double as amount from {{ ref('marketing', 'bare') }}", encoding="utf-8"
    )
    (ws / "marketing/models/schema.yml").write_text(
        "models:\n  - name: bare\n    access: public\n", encoding="utf-8"
    )
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 2
    assert (
        "Error: marketing/models/bare.sql:1:24: reference cycle across projects: "
        "finance -> marketing -> finance. 'marketing' reads 'finance', which (through the "
        "others) reads 'marketing': one of these projects must stop reading the next"
    ) in run.stderr
    assert "did not load" not in run.stderr


def test_non_public_model_and_unknown_project(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {
            "models/a.sql": "select * from {{ ref('finance', 'ledger') }}",
            "models/b.sql": "select * from {{ ref('finanse', 'revenue') }}",
            "models/c.sql": "select * from {{ ref('finance', 'nope') }}",
        },
    )
    run = run_cli("ls", "--workspace", ws)
    assert run.exit_code == 2
    err = run.stderr
    assert (
        "marketing/models/a.sql:1:18: model 'finance.ledger' is protected: only public models "
        "can be read from another project. Set 'access: public' on 'ledger' in project "
        "'finance' (models/ledger.sql), or read one of its public models"
    ) in err
    assert (
        "marketing/models/b.sql:1:18: ref('finanse', 'revenue') names the project 'finanse', "
        "which orch does not know. Did you mean 'finance'?"
    ) in err
    assert "marketing/models/c.sql:1:18: project 'finance' has no model 'nope'" in err
    assert run.stdout == ""


def test_a_member_that_fails_to_load_leaves_the_others_working(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    write_project(
        ws / "broken",
        {"models/oops.sql": "select from from"},
        project_yml="name: broken\n",
        profiles_yml=profile("broken", "broken"),
    )
    (ws / "orch_workspace.yml").write_text(
        "members:\n  - path: finance\n  - path: broken\n  - path: marketing\n", encoding="utf-8"
    )
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 2
    assert "Error: broken did not load: broken/models/oops.sql:1:" in run.stderr
    assert rows(ws, "select * from marketing.roi") == [(1, 21.0)]


def test_breaking_a_public_contract_names_the_consumers(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    assert run_cli("build", "--workspace", ws).exit_code == 0
    (ws / "finance/models/revenue.sql").write_text("select 1 as id", encoding="utf-8")
    (ws / "finance/models/schema.yml").write_text(
        REVENUE_YML.replace("      - {name: amount, data_type: double}\n", ""), encoding="utf-8"
    )
    run = run_cli("build", "--workspace", ws)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: finance/models/schema.yml:2:5: public model 'finance.revenue' breaks its "
        "contract (column 'amount' removed), and project marketing reads it: marketing "
        "(marketing/models/bare.sql, marketing/models/roi.sql). Keep the column and its type "
        "(add new columns instead), or update those projects first, then accept the change with "
        "'orch contract accept finance.revenue'"
    )
    assert rows(ws, "select * from finance.revenue") == [(1, 10.5)]  # nothing shipped


def test_a_run_takes_every_members_lock(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    assert run_cli("ls", "--workspace", ws).exit_code == 0
    state = SQLiteStateStore.for_project(ws / "marketing")
    with state.acquire_lock("dev", LockOwner("build", "other-run")):
        run = run_cli("build", "--workspace", ws)
    state.close()
    assert run.exit_code == 2
    assert "lock" in run.stderr and "Traceback" not in run.output
    assert not (ws / "warehouse.duckdb").exists()  # finance waited too: nothing was built


def test_status_spans_members_and_other_commands_refuse_a_workspace(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    assert run_cli("build", "--workspace", ws, "-s", "finance.revenue").exit_code == 0
    run = run_cli("status", "--workspace", ws, "-s", "finance.revenue+", "--output", "json")
    assert run.exit_code == 0, run.output
    import json

    status = {a["asset"]: a["status"] for a in json.loads(run.stdout)["assets"]}
    assert status == {
        "finance.revenue": "up to date",
        "marketing.bare": "never built",
        "marketing.roi": "never built",
    }
    built = {a["asset"]: a["built_by"] for a in json.loads(run.stdout)["assets"]}
    assert built["marketing.roi"] is None
    assert built["finance.revenue"]["code_kind"] == "sql"
    assert built["finance.revenue"]["code_changed"] is False
    refused = run_cli("compile", "--workspace", ws)
    assert refused.exit_code == 2
    assert "this command does not work across a workspace: run it for one member with " in (
        refused.stderr
    )


def test_access_from_config_and_an_ambiguous_bare_name(tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path,
        {
            "models/from_ledger.sql": "select * from {{ ref('finance', 'ledger') }}",
            "models/bare.sql": "select id from finance.revenue",
            "models/sources.yml": (
                "sources:\n  - name: finance\n    tables:\n      - name: revenue\n"
            ),
        },
    )
    ledger = ws / "finance/models/ledger.sql"
    ledger.write_text("{{ config(access='public') }}\n" + ledger.read_text(), encoding="utf-8")
    run = run_cli("ls", "--workspace", ws)
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: marketing/models/bare.sql:1:24: table 'finance.revenue' is ambiguous: it is the "
        "source 'finance.revenue' and a model of workspace member 'finance'. Use "
        "ref('finance', 'revenue') or source()"
    )
    (ws / "marketing/models/bare.sql").unlink()
    listed = run_cli("ls", "--workspace", ws, "-s", "+marketing.from_ledger")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.split() == ["finance.ledger", "marketing.from_ledger"]


def test_workspace_members_lists_reference_order(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    run = run_cli("workspace", "members", "--workspace", ws)
    assert run.exit_code == 0, run.output
    lines = [line.split() for line in run.stdout.splitlines()]
    assert lines == [
        ["finance", "finance/", "2", "assets"],
        ["marketing", "marketing/", "2", "assets", "reads", "finance"],
    ]
    both = run_cli("ls", "--workspace", ws, "--project-dir", ws / "finance")
    assert both.exit_code == 2
    assert "--workspace and --project-dir cannot be combined" in both.stderr
