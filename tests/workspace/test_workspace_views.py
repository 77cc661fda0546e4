"""The one graph of a workspace in ``orch lineage``, ``orch docs generate`` and ``orch ui``:
real workspace folders, the real CLI and the real server (uvicorn in a thread, real workers)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from orch.config import RunOptions
from orch.load.workspace import load_workspace
from orch.state.base import LockOwner
from orch.state.sqlite import SQLiteStateStore
from orch.ui import build_workspace_app

from tests.conftest import run_cli, write_project
from tests.ui.conftest import LiveServer, free_port
from tests.workspace.test_workspace import REVENUE_YML, profile, rows

BROKEN_YML = "name: marketing\nmodel_pathz: [models]\n"


def make_chain(root: Path) -> Path:
    """finance: raw -> stg_payments -> revenue (public); marketing: roi reads finance.revenue."""
    write_project(
        root / "finance",
        {
            "models/stg_payments.sql": "select 1 as id, 10.5::double as paid",
            "models/revenue.sql": "select id, paid as amount from {{ ref('stg_payments') }}",
            "models/ledger.sql": "select 2 as id",
            "models/schema.yml": REVENUE_YML,
        },
        project_yml="name: finance\n",
        profiles_yml=profile("finance", "finance"),
    )
    write_project(
        root / "marketing",
        {
            "models/roi.sql": "select id, amount * 2 as doubled\n"
            "from {{ ref('finance', 'revenue') }}",
        },
        project_yml="name: marketing\n",
        profiles_yml=profile("marketing", "marketing"),
    )
    (root / "orch_workspace.yml").write_text(
        "members:\n  - path: finance\n  - path: marketing\n", encoding="utf-8"
    )
    return root


# --------------------------------------------------------------------------- lineage


def test_lineage_traces_a_column_back_through_another_members_model(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    run = run_cli("lineage", "--workspace", ws, "marketing.roi.doubled")
    assert run.exit_code == 0, run.output
    assert run.stdout.splitlines() == [
        "marketing.roi.doubled",
        "upstream:",
        "  └── finance.revenue.amount",
        "      └── finance.stg_payments.paid",
    ]
    down = run_cli("lineage", "--workspace", ws, "finance.stg_payments.paid", "-d")
    assert down.exit_code == 0, down.output
    assert "downstream:\n  └── finance.revenue.amount\n      └── marketing.roi.doubled" in (
        down.stdout
    )
    assets = run_cli("lineage", "--workspace", ws, "marketing.roi")
    assert assets.stdout.splitlines()[:4] == [
        "marketing.roi (view)",
        "upstream:",
        "  └── finance.revenue (view)",
        "      └── finance.stg_payments (view)",
    ]


def test_lineage_in_a_workspace_needs_member_names(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    run = run_cli("lineage", "--workspace", ws, "roi")
    assert run.exit_code == 2
    assert run.stderr.strip() == (
        "Error: 'roi' names no asset of the workspace: write member.model[.column]. "
        "Members: finance, marketing"
    )
    unknown = run_cli("lineage", "--workspace", ws, "marketing.roy")
    assert unknown.exit_code == 2
    assert "unknown asset 'marketing.roy'" in unknown.stderr
    assert "marketing.roi" in unknown.stderr  # the suggestion
    column = run_cli("lineage", "--workspace", ws, "finance.revenue.amont")
    assert column.exit_code == 2
    assert "'finance.revenue' has no column 'amont'" in column.stderr


def test_lineage_reports_a_member_that_did_not_load(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    (ws / "marketing" / "orch_project.yml").write_text(BROKEN_YML, encoding="utf-8")
    run = run_cli("lineage", "--workspace", ws, "finance.revenue", "-d")
    assert run.exit_code == 2
    assert run.stdout.startswith("finance.revenue (view)\n")
    assert "Error: marketing did not load: marketing/orch_project.yml:2:1: " in run.stderr


# --------------------------------------------------------------------------- docs


def site_data(out: Path) -> dict:
    text = (out / "data.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("=") + 1 : text.rindex(";")])


def chunk_data(out: Path) -> list:
    text = (out / "data" / "a0.js").read_text(encoding="utf-8")
    return json.loads(text[text.index(",") + 1 : text.rindex(")")])


def test_docs_generate_writes_one_site_for_the_workspace(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    assert run_cli("build", "--workspace", ws).exit_code == 0
    run = run_cli("docs", "generate", "--workspace", ws)
    assert run.exit_code == 0, run.output
    assert "Wrote the docs site of workspace" in run.stdout and "2 members, 4 assets" in run.stdout
    out = ws / "target" / "workspace-docs"
    data = site_data(out)
    names = data["nodes"]["n"]
    assert names == ["finance.ledger", "finance.stg_payments", "finance.revenue", "marketing.roi"]
    roi = names.index("marketing.roi")
    assert [names[p] for p in data["nodes"]["p"][roi]] == ["finance.revenue"]  # the cross edge
    assert data["members"] == ["finance", "marketing"]
    fresh = data["statuses"].index("fresh")
    assert data["nodes"]["s"] == [fresh] * 4  # each member's own state store
    assert {r["selection"] for r in data["overview"]["runs"]} == {
        "ledger revenue stg_payments", "roi",
    }  # fmt: skip
    details = {d["name"]: d for d in chunk_data(out)}
    assert details["marketing.roi"]["project"] == "marketing"
    assert details["marketing.roi"]["path"] == "marketing/models/roi.sql"
    assert details["marketing.roi"]["runs"][0]["status"] == "success"
    doubled = next(c for c in details["marketing.roi"]["columns"] if c["name"] == "doubled")
    assert doubled["up"] == [["finance.revenue", "amount"]]
    amount = next(c for c in details["finance.revenue"]["columns"] if c["name"] == "amount")
    assert amount["down"] == [["marketing.roi", "doubled"]]
    assert amount["type"] == "double"  # declared
    paid = next(c for c in details["finance.stg_payments"]["columns"] if c["name"] == "paid")
    assert paid["type"] == "DOUBLE"  # from the warehouse catalog of finance


def test_docs_generate_shows_a_member_that_did_not_load(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    (ws / "marketing" / "orch_project.yml").write_text(BROKEN_YML, encoding="utf-8")
    run = run_cli("docs", "generate", "--workspace", ws, "-o", tmp_path / "site")
    assert run.exit_code == 2
    assert "Error: marketing did not load: marketing/orch_project.yml:2:1: " in run.stderr
    data = site_data(tmp_path / "site")
    assert data["nodes"]["n"] == ["finance.ledger", "finance.stg_payments", "finance.revenue"]
    [error] = data["load_errors"]
    assert error["member"] == "marketing"
    assert error["error"].startswith("marketing/orch_project.yml:2:1: unknown key 'model_pathz'")


# --------------------------------------------------------------------------- ui


def start_workspace_server(ws: Path) -> Iterator[LiveServer]:
    ui = build_workspace_app(load_workspace(ws / "orch_workspace.yml"), RunOptions(project_dir=ws))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(ui.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("the server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", ui.token, ws, ui)
    finally:
        ui.close()
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def ws_live(tmp_path: Path) -> Iterator[LiveServer]:
    ws = make_chain(tmp_path / "ws")
    yield from start_workspace_server(ws)


def statuses(live: LiveServer) -> dict[str, str]:
    status, body, _ = live.get("/api/assets")
    assert status == 200, body
    return {a["name"]: a["status"] for a in body["assets"]}


def wait_for(predicate, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_ui_launches_a_build_across_members(ws_live: LiveServer) -> None:
    assert statuses(ws_live) == {
        "finance.ledger": "never", "finance.stg_payments": "never",
        "finance.revenue": "never", "marketing.roi": "never",
    }  # fmt: skip
    status, body, _ = ws_live.post("/api/launch", {"select": ["+marketing.roi"]})
    assert status == 202, body
    detail = ws_live.wait_run(body["run"])
    assert detail["events"][-1] == {**detail["events"][-1], "exit_code": 0}
    assert rows(ws_live.project, "select * from marketing.roi") == [(1, 21.0)]
    wait_for(lambda: statuses(ws_live)["marketing.roi"] == "fresh")
    assert statuses(ws_live)["finance.ledger"] == "never"  # not selected
    # each member recorded its run in its own state store
    for member, built in (("finance", {"stg_payments", "revenue"}), ("marketing", {"roi"})):
        with SQLiteStateStore.for_project(ws_live.project / member, readonly=True) as reader:
            assert {a for a, _ in reader.latest_materializations(target="dev")} == built
    status, asset, _ = ws_live.get("/api/assets/marketing.roi")
    assert asset["project"] == "marketing"
    assert asset["runs"][0]["status"] == "success"
    doubled = next(c for c in asset["columns"] if c["name"] == "doubled")
    assert doubled["up"] == [["finance.revenue", "amount"]]  # column lineage across members
    _, runs, _ = ws_live.get("/api/runs")
    assert {r["selection"] for r in runs["runs"]} >= {"revenue stg_payments", "roi"}


def test_ui_launch_is_refused_while_a_member_is_locked(ws_live: LiveServer) -> None:
    with SQLiteStateStore.for_project(ws_live.project / "marketing") as store:
        with store.acquire_lock("dev", LockOwner("build", "cli-run-1")):
            status, body, _ = ws_live.post("/api/launch", {"select": ["+marketing.roi"]})
    assert status == 409, body
    assert body["error"].startswith("marketing: target 'dev' is locked by `build` (pid ")
    assert "run cli-run-1" in body["error"]
    assert not (ws_live.project / "warehouse.duckdb").exists() or rows(
        ws_live.project, "select count(*) from information_schema.tables "
        "where table_schema = 'finance'"
    ) == [(0,)]  # fmt: skip


def test_ui_reloads_a_changed_member_and_shows_one_that_fails(ws_live: LiveServer) -> None:
    ws = ws_live.project
    _, version, _ = ws_live.get("/api/version")
    assert version["load_errors"] == []
    graph = version["graph"]
    (ws / "marketing" / "models" / "cpa.sql").write_text(
        "select id, amount / 3 as cpa from {{ ref('finance', 'revenue') }}", encoding="utf-8"
    )
    wait_for(lambda: "marketing.cpa" in statuses(ws_live))
    _, version, _ = ws_live.get("/api/version")
    assert version["graph"] > graph  # the page redraws its graph
    (ws / "marketing" / "orch_project.yml").write_text(BROKEN_YML, encoding="utf-8")
    wait_for(lambda: "marketing.cpa" not in statuses(ws_live))
    _, version, _ = ws_live.get("/api/version")
    [error] = version["load_errors"]
    assert error["member"] == "marketing"
    assert error["error"].startswith("marketing/orch_project.yml:2:1: unknown key 'model_pathz'")
    # the others keep working: finance is listed and can be built
    assert set(statuses(ws_live)) == {"finance.ledger", "finance.stg_payments", "finance.revenue"}
    status, body, _ = ws_live.post("/api/launch", {"select": ["finance.ledger"]})
    assert status == 202, body
    ws_live.wait_run(body["run"])
    wait_for(lambda: statuses(ws_live)["finance.ledger"] == "fresh")
    (ws / "marketing" / "orch_project.yml").write_text("name: marketing\n", encoding="utf-8")
    wait_for(lambda: "marketing.cpa" in statuses(ws_live))
    _, version, _ = ws_live.get("/api/version")
    assert version["load_errors"] == []


def test_ui_keeps_serving_when_a_reload_breaks_a_public_contract(tmp_path: Path) -> None:
    ws = make_chain(tmp_path / "ws")
    assert run_cli("build", "--workspace", ws).exit_code == 0  # records the shipped contract
    server = start_workspace_server(ws)
    live = next(server)
    try:
        (ws / "finance" / "models" / "schema.yml").write_text(
            REVENUE_YML.replace("      - {name: amount, data_type: double}\n", ""), "utf-8"
        )
        (ws / "finance" / "models" / "revenue.sql").write_text(
            "select id from {{ ref('stg_payments') }}", "utf-8"
        )
        wait_for(lambda: live.get("/api/version")[1]["load_errors"] != [])
        [error] = live.get("/api/version")[1]["load_errors"]
        assert error["member"] == "finance"
        assert (
            "public model 'finance.revenue' breaks its contract (column 'amount' removed)"
            in (error["error"])
        )
        assert "marketing.roi" in statuses(live)  # the last good graph is still served
    finally:
        server.close()


def test_site_shows_a_consumer_stale_after_its_producer_member_rebuilt(tmp_path: Path) -> None:
    ws = make_chain(tmp_path)
    assert run_cli("build", "--workspace", ws).exit_code == 0
    (ws / "finance" / "models" / "stg_payments.sql").write_text(
        "select 1 as id, 11.5::double as paid", "utf-8"
    )
    built = run_cli(
        "build", "--workspace", ws, "-s", "finance.stg_payments+", "--exclude", "marketing.roi"
    )
    assert built.exit_code == 0, built.output
    assert run_cli("docs", "generate", "--workspace", ws).exit_code == 0
    data = site_data(ws / "target" / "workspace-docs")
    shown = {
        n: data["statuses"][s] for n, s in zip(data["nodes"]["n"], data["nodes"]["s"], strict=True)
    }
    assert shown["finance.revenue"] == "fresh"
    assert shown["marketing.roi"] == "stale"  # it read finance.revenue's older data


def test_workspace_site_shows_a_dbt_members_exposures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bakery = Path(__file__).resolve().parents[1] / "dbt" / "fixtures" / "bakery_dbt"
    shutil.copytree(bakery, tmp_path / "bakery")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no real ~/.dbt/profiles.yml
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    (tmp_path / "orch_workspace.yml").write_text("members:\n  - path: bakery\n", encoding="utf-8")
    run = run_cli("docs", "generate", "--workspace", tmp_path)
    assert run.exit_code == 0, run.output
    out = tmp_path / "target" / "workspace-docs"
    data = site_data(out)
    names, exposures = data["nodes"]["n"], data["exposures"]
    assert exposures["n"] == ["bakery_dbt.price_review", "bakery_dbt.weekly_sales_dashboard"]
    assert [names[p] for p in exposures["p"][1]] == ["bakery_dbt.product_revenue",
                                                     "bakery_dbt.stg_sales"]  # fmt: skip
    page = exposures["d"][1]
    assert page["path"] == "bakery/models/exposures.yml"
    assert page["owner"] == {"name": "Bakery Ops", "email": "ops@example.com"}
    details = {d["name"]: d for d in chunk_data(out)}
    assert details["bakery_dbt.stg_sales"]["exposures"] == ["bakery_dbt.weekly_sales_dashboard"]
    [metric] = data["overview"]["semantic"]["metrics"]
    assert metric["built_on"] == [["measure", "units_sold", "bakery_dbt.sales"]]
