"""A workspace's site and live UI in Chromium (Playwright): the edge from one member's model to
another's is drawn, each asset page names its member, a member that fails to load is shown with
its error (file:line) while the others keep working."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.ui.conftest import LiveServer
from tests.workspace.test_workspace_views import (
    BROKEN_YML,
    make_chain,
    start_workspace_server,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]
EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
    assert problems == [], problems


def cross_edge(page: Any, producer: str, consumer: str) -> Any:
    return page.locator(f'#graph path.edge[data-from="{producer}"][data-to="{consumer}"]')


def test_example_workspace_site_shows_the_cross_project_edge(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "example_project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", ".orch", "*.duckdb*"))
    run = run_cli("docs", "generate", "--workspace", root, "-o", tmp_path / "site")
    assert run.exit_code == 0, run.output
    page.goto((tmp_path / "site" / "index.html").as_uri() + "#/asset/marketing.campaign_audience")
    page.wait_for_selector("#view-asset h1")
    assert page.locator("#view-asset h1").inner_text() == "marketing.campaign_audience"
    facts = page.locator("#view-asset dl.facts", has_text="Kind").inner_text()
    assert "Project\nmarketing" in facts
    page.goto((tmp_path / "site" / "index.html").as_uri() + "#/")
    page.wait_for_selector("body[data-ready=graph]")
    page.click("#whole-graph")
    assert cross_edge(page, "jaffle_commerce.customers", "marketing.campaign_audience").count() == 1
    assert page.locator("#member-errors").is_hidden()


def test_site_shows_a_member_that_did_not_load(page: Any, tmp_path: Path) -> None:
    ws = make_chain(tmp_path / "ws")
    (ws / "marketing" / "orch_project.yml").write_text(BROKEN_YML, encoding="utf-8")
    assert run_cli("docs", "generate", "--workspace", ws, "-o", tmp_path / "site").exit_code == 2
    page.goto((tmp_path / "site" / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=graph]")
    error = page.locator('#member-errors .member-error[data-member="marketing"]')
    assert error.inner_text().startswith(
        "marketing did not load: marketing/orch_project.yml:2:1: unknown key 'model_pathz'"
    )
    assert page.locator('#graph .node[data-key="finance.revenue"]').count() == 1


@pytest.fixture
def ws_live(tmp_path: Path) -> Iterator[LiveServer]:
    ws = make_chain(tmp_path / "ws")
    yield from start_workspace_server(ws)


def test_live_ui_builds_across_members_and_survives_a_broken_member(
    page: Any, ws_live: LiveServer, tmp_path: Path
) -> None:
    try:
        page.goto(f"{ws_live.url}/#/")
        page.wait_for_selector("body[data-ready=graph]")
        assert cross_edge(page, "finance.revenue", "marketing.roi").count() == 1
        # launch marketing.roi with its upstream (in finance) from the graph panel
        page.click('#graph .node[data-key="marketing.roi"]')
        page.click("#launch-upstream")
        page.wait_for_function("location.hash.indexOf('#/run/') === 0")
        page.wait_for_selector("body[data-run-status=success]", timeout=90_000)
        # the steps of both members, under the workspace's names
        page.wait_for_selector('#run-steps tr[data-step="finance.revenue"][data-status="success"]')
        page.wait_for_selector('#run-steps tr[data-step="marketing.roi"][data-status="success"]')
        page.goto(f"{ws_live.url}/#/asset/marketing.roi")
        page.wait_for_selector("#view-asset h1")
        assert (
            "Project\nmarketing"
            in page.locator("#view-asset dl.facts", has_text="Kind").inner_text()
        )
        # marketing breaks: the page shows its error, finance stays on the graph
        (ws_live.project / "marketing" / "orch_project.yml").write_text(BROKEN_YML, "utf-8")
        page.goto(f"{ws_live.url}/#/")
        error = page.locator('#member-errors .member-error[data-member="marketing"]')
        error.wait_for(timeout=30_000)
        assert "marketing/orch_project.yml:2:1: unknown key 'model_pathz'" in error.inner_text()
        page.wait_for_selector('#graph .node[data-key="finance.revenue"]')
        assert page.locator('#graph .node[data-key="marketing.roi"]').count() == 0
        # fixed: the page reloads its graph by itself, without restarting the server
        (ws_live.project / "marketing" / "orch_project.yml").write_text(
            "name: marketing\n", "utf-8"
        )
        page.wait_for_selector('#graph .node[data-key="marketing.roi"]', timeout=30_000)
        page.wait_for_function("document.getElementById('member-errors').hidden")
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_example_workspace_ui_shows_the_cross_project_edge(page: Any, tmp_path: Path) -> None:
    root = tmp_path / "example_project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", ".orch", "*.duckdb*"))
    server = start_workspace_server(root)
    live = next(server)
    try:
        page.goto(f"{live.url}/#/asset/marketing.campaign_audience")
        page.wait_for_selector("#view-asset h1")
        facts = page.locator("#view-asset dl.facts", has_text="Kind").inner_text()
        assert "Project\nmarketing" in facts
        page.goto(f"{live.url}/#/")
        page.wait_for_selector("body[data-ready=graph]")
        page.click("#whole-graph")
        edge = cross_edge(page, "jaffle_commerce.customers", "marketing.campaign_audience")
        assert edge.count() == 1
    finally:
        server.close()
