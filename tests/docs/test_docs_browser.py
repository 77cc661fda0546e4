"""The generated site in a real headless Chromium (Debian's package), driven by Playwright.

Opened from ``file://``: search an asset, open it, follow a column's lineage upstream, see the
partition strip and the check results; no console error, no dialog, screenshots on failure.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_site_data import (
    HOSTILE_JOB,
    METADATA_ASSET,
    NOW,
    PARTITIONED,
    SCHEDULE,
    SENSOR,
    bakery_site,
    build_automation_site,
    compile_example,
    copy_example,
    enrich,
    record_state,
)
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.docs import generate_site
from orch.docs.automation import automation_data
from orch.state import SQLiteStateStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = copy_example(tmp_path_factory.mktemp("browser") / "proj")
    manifest = enrich(compile_example(root), hostile=True)
    record_state(root, manifest, hostile=True)
    with SQLiteStateStore.for_project(root, readonly=True) as reader:
        stats = generate_site(manifest, reader, root / "target" / "docs")
    return (stats.out_dir / "index.html").as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page that records console errors, page errors, dialogs and outside requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in (
        "error", "warning") else None)  # fmt: skip
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def on_dialog(d: Any) -> None:
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.on(
        "request",
        lambda r: problems.append(f"network: {r.url}") if not r.url.startswith("file:") else None,
    )
    pg.problems = problems
    yield pg
    context.close()
    assert problems == [], problems


def test_search_open_asset_follow_column_upstream(page: Any, site_url: str, tmp_path: Path) -> None:
    try:
        page.goto(site_url)
        page.wait_for_selector("body[data-ready=graph]")
        total = page.evaluate("window.ORCH_DOCS.nodes.n.length")
        assert 18 <= total <= 400  # a small project shows the whole graph
        assert page.locator("#graph .node").count() == total
        page.fill("#search", "custo")
        options = page.locator("#search-results li[role=option]")
        assert options.first.get_attribute("data-name") == "customers"
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("Enter")
        page.wait_for_selector("#view-asset h1")
        assert page.locator("#view-asset h1").inner_text() == "customers"
        assert "asset/customers" in page.url
        # column lineage: lifetime_value comes from orders.net_revenue
        row = page.locator("tr[data-column=lifetime_value]")
        row.locator("a.colref", has_text="orders.net_revenue").click()
        page.wait_for_selector("#view-column .col-graph svg .node")
        assert page.locator("#view-column h1").inner_text() == "orders.net_revenue"
        upstream = page.locator("#view-column table").first
        page.wait_for_function("document.querySelectorAll('#view-column table').length >= 1")
        assert "int_orders_enriched" in upstream.inner_text()
        # follow one more step upstream from the column view's list
        upstream.locator("a.colref").first.click()
        page.wait_for_function("location.hash.indexOf('int_orders_enriched') > 0")
        page.wait_for_selector("#view-column .col-graph svg .node")
        assert page.locator("#view-column h1").inner_text().startswith("int_orders_enriched.")
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_partition_strip_and_checks(page: Any, site_url: str, tmp_path: Path) -> None:
    try:
        page.goto(f"{site_url}#/asset/{PARTITIONED}")
        page.wait_for_selector("#partitions .strip span")
        cells = page.locator("#partitions .strip span")
        assert cells.count() == 60
        assert page.locator("#partitions .strip span.f").count() == 1
        assert page.locator("#partitions .strip span.x").count() == 2
        assert page.locator("#partitions .strip span.s").count() == 10
        assert cells.nth(33).get_attribute("data-status") == "failed"
        page.goto(f"{site_url}#/asset/orders")
        page.wait_for_selector("#checks tr[data-check]")
        row = page.locator("tr[data-check=accepted_values_orders_status]")
        assert "warn" in row.inner_text()
        sample = page.locator("#checks .check-detail.open .sample")
        assert "lost" in sample.inner_text() and "<script>alert(1)</script>" in sample.inner_text()
        assert page.locator("#checks img").count() == 0
        page.goto(f"{site_url}#/overview")
        page.wait_for_selector("#view-overview .stat")
        text = page.locator("#view-overview").inner_text()
        assert "assert_no_negative_revenue" in text and "Slowest models" in text
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_hostile_strings_stay_text(page: Any, site_url: str, tmp_path: Path) -> None:
    try:
        page.goto(f"{site_url}#/asset/customers")
        page.wait_for_selector("#view-asset h1")
        page.wait_for_timeout(200)
        assert page.locator("#view-asset img").count() == 0
        assert page.locator("#view-asset script").count() == 0
        desc = page.locator("#view-asset .description").first.inner_text()
        assert "<script>alert(1)</script>" in desc
        assert '"><img src=x onerror=alert(1)>' in page.locator("#view-asset").inner_text()
        assert page.locator("#view-asset a[href^=javascript]").count() == 0
        assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_graph_neighbourhood_select_and_filter(page: Any, site_url: str, tmp_path: Path) -> None:
    try:
        page.goto(f"{site_url}#/graph/orders")
        page.wait_for_selector("#graph .node.focus")
        n_default = page.locator("#graph .node").count()
        page.fill("#levels-up", "0")
        page.dispatch_event("#levels-up", "change")
        assert page.locator("#graph .node").count() < n_default
        page.locator("#graph .node[data-key=orders]").click()
        page.wait_for_selector("#graph-panel h2")
        assert page.locator("#graph-panel h2").inner_text() == "orders"
        assert page.locator("#graph .edge.hl").count() >= 1
        page.select_option("#filter-tag", label="finance")
        assert page.locator("#graph .node.dim").count() >= 1
        page.click("#whole-graph")
        total = page.evaluate("window.ORCH_DOCS.nodes.n.length")
        assert page.locator("#graph .node").count() == total
        page.dblclick("#graph .node[data-key=stg_orders]")
        page.wait_for_function("location.hash === '#/asset/stg_orders'")
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


@pytest.fixture(scope="module")
def automation_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = copy_example(tmp_path_factory.mktemp("browser_auto") / "proj")
    return (build_automation_site(root) / "index.html").as_uri()


def test_automation_view(page: Any, automation_url: str, tmp_path: Path) -> None:
    try:
        page.goto(automation_url)
        page.wait_for_selector("body[data-ready=graph]")
        page.click(".tabs a[data-tab=automation]")
        page.wait_for_selector("body[data-ready=automation]")
        assert page.locator(".tabs a.active").inner_text() == "Automation"
        view = page.locator("#view-automation")
        tables = view.locator("table")
        assert tables.count() == 5  # jobs, schedules, sensors, recent ticks, op jobs
        jobs = tables.nth(0).inner_text()
        assert "daily_order_lines" in jobs and "fct_order_lines+" in jobs and HOSTILE_JOB in jobs
        assert "<script>alert(1)</script>" in jobs
        schedules = tables.nth(1).inner_text()
        assert SCHEDULE in schedules and "0 2 * * *" in schedules
        assert "Europe/Amsterdam" in schedules and "2024-06-02 00:00:00 UTC" in schedules
        assert "success" in schedules
        sensors = tables.nth(2).inner_text()
        assert SENSOR in sensors and "file" in sensors and "load_landing" in sensors
        assert 'orders_2024-06-01.csv "><img src=x onerror=alert(1)>' in sensors
        op_jobs = tables.nth(4).inner_text()
        assert "customer_value_model" in op_jobs and "train_fold[*]" in op_jobs
        assert "never run" in op_jobs and "jobs/customer_value_model.py:" in op_jobs
        ticks = tables.nth(3).locator("tbody tr")
        assert ticks.count() == 4
        assert "failed" in ticks.nth(0).inner_text() and SENSOR in ticks.nth(0).inner_text()
        assert "Traceback" in ticks.nth(0).inner_text()
        assert "no new" in view.inner_text()
        assert view.locator("img").count() == 0 and view.locator("script").count() == 0
        assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


@pytest.fixture(scope="module")
def never_ticked_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example generated at NOW: its schedule never ticked; a build's process was killed."""
    root = copy_example(tmp_path_factory.mktemp("browser_due") / "proj")
    result = compile_project(RunOptions(project_dir=root))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with SQLiteStateStore.for_project(root) as store:  # recorded as running, never finished
        store.start_run("build", target=result.project.target_name, pid=dead.pid)
    with SQLiteStateStore.for_project(root, readonly=True) as reader:
        automation = automation_data(result.project, reader, now=NOW)
        stats = generate_site(result.manifest, reader, root / "target" / "docs",
                              automation=automation)  # fmt: skip
    return (stats.out_dir / "index.html").as_uri()


def test_a_never_ticked_schedule_shows_its_tick_as_due(
    page: Any, never_ticked_url: str, tmp_path: Path
) -> None:
    try:
        page.goto(f"{never_ticked_url}#/automation")
        page.wait_for_selector("body[data-ready=automation]")
        row = page.locator("#view-automation table").nth(1).locator("tbody tr")
        assert row.count() == 1
        cell = row.locator("td").nth(4)
        assert cell.inner_text().split("\n") == [
            "due since 2024-06-01 00:00:00 UTC",
            "never ticked · then 2024-06-02 00:00:00 UTC",
        ]
        badge = cell.locator(".badge")
        assert badge.inner_text() == "due"
        assert "the daemon runs this tick when it first evaluates" in badge.get_attribute("title")
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_a_run_whose_process_died_is_listed_as_interrupted(
    page: Any, never_ticked_url: str, tmp_path: Path
) -> None:
    try:
        page.goto(f"{never_ticked_url}#/overview")
        page.wait_for_selector("#view-overview .stat")
        view = page.locator("#view-overview")
        assert "running" not in view.inner_text()
        (row,) = view.locator("table").nth(0).locator("tbody tr").all()  # recent runs
        assert row.locator(".badge").inner_text() == "interrupted"
        assert "st-failed" in row.locator(".badge").get_attribute("class")
        assert view.locator(".stat").nth(4).inner_text().startswith("interrupted")  # last run
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_asset_page_shows_output_metadata(page: Any, automation_url: str, tmp_path: Path) -> None:
    try:
        page.goto(f"{automation_url}#/asset/{METADATA_ASSET}")
        page.wait_for_selector("#runs dl.metadata")
        md = page.locator("#runs tbody tr").first.locator("dl.metadata")
        keys = md.locator("dt").all_inner_texts()
        shown = dict(zip(keys, md.locator("dd").all_inner_texts(), strict=True))
        assert shown == {
            "vips": "63",
            "segments": '{"champion":63,"loyal":57}',
            "note": "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>': "hostile key",
        }  # orch's own keys (materialized, language) are not shown
        assert page.locator("#view-asset img").count() == 0
        assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


@pytest.fixture(scope="module")
def bakery_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return (bakery_site(tmp_path_factory.mktemp("bakery")) / "index.html").as_uri()


def test_exposure_in_the_graph_and_its_page(page: Any, bakery_url: str, tmp_path: Path) -> None:
    try:
        page.goto(bakery_url)
        page.wait_for_selector("body[data-ready=graph]")
        node = page.locator('#graph .node.exposure[data-key="exposure:weekly_sales_dashboard"]')
        assert node.get_attribute("data-type") == "dashboard"
        assert page.locator("#graph .node.exposure").count() == 2
        # drawn downstream of what it depends on, with an edge from each
        edges = page.locator('#graph .edge[data-to="exposure:weekly_sales_dashboard"]')
        assert sorted(e.get_attribute("data-from") for e in edges.all()) == [
            "product_revenue", "stg_sales"]  # fmt: skip
        box, upstream = node.bounding_box(), page.locator("#graph .node[data-key=stg_sales]")
        assert box is not None and box["x"] > upstream.bounding_box()["x"]
        # the kind filter (the legend) knows it
        kind = page.locator("#legend button[data-kind=exposure]")
        kind.click()
        assert kind.get_attribute("aria-pressed") == "true"
        assert page.locator("#graph .node.exposure.dim").count() == 0
        assert page.locator("#graph .node.dim").count() == page.locator("#graph .node").count() - 2
        kind.click()
        assert page.locator("#graph .node.dim").count() == 0
        # search finds it; clicking it in the graph opens its panel, double-click its page
        page.fill("#search", "weekly")
        option = page.locator("#search-results li[role=option]").first
        assert option.get_attribute("data-kind") == "exposure"
        page.keyboard.press("Escape")
        node.click()
        page.wait_for_selector("#graph-panel h2")
        assert page.locator("#graph-panel h2").inner_text() == "weekly_sales_dashboard"
        node.dblclick()
        page.wait_for_selector("#view-exposure h1")
        assert "exposure/weekly_sales_dashboard" in page.url
        view = page.locator("#view-exposure")
        assert view.locator(".owner-name").inner_text() == "Bakery Ops"
        assert view.locator(".owner-email").inner_text() == "ops@example.com"
        url = view.locator("a.exposure-url")
        assert url.get_attribute("href") == "https://bi.example.com/dashboards/12"
        assert url.get_attribute("rel") == "noopener noreferrer"
        assert view.locator(".depends-on a").all_inner_texts() == ["product_revenue", "stg_sales"]
        assert "Mondays 06:00" in view.inner_text() and "Weekly sales" in view.inner_text()
        # the other one: a javascript: url stays text, markup in the owner stays text
        page.goto(f"{bakery_url}#/exposure/price_review")
        page.wait_for_selector("#view-exposure .owner-name")
        assert view.locator(".owner-name").inner_text() == "Pricing <team>"
        assert view.locator("a.exposure-url").count() == 0
        assert view.locator("code.exposure-url").inner_text() == "javascript:alert(1)"
        assert view.locator(".description strong").inner_text() == "list prices"
        # "View in graph": the neighbourhood of the exposure, focused on it
        view.locator("a", has_text="View in graph").click()
        page.wait_for_selector("#graph .node.focus")
        focus = page.locator("#graph .node.focus")
        assert focus.get_attribute("data-key") == "exposure:price_review"
        keys = {n.get_attribute("data-key") for n in page.locator("#graph .node").all()}
        assert keys == {"exposure:price_review", "products", "product_revenue", "stg_products",
                        "stg_sales"}  # 2 levels up  # fmt: skip
        # a model's page lists the exposures using it
        page.goto(f"{bakery_url}#/asset/product_revenue")
        page.wait_for_selector("#view-asset .used-by a")
        used = page.locator("#view-asset .used-by a")
        assert used.all_inner_texts() == ["price_review", "weekly_sales_dashboard"]
        used.first.click()
        page.wait_for_function("location.hash === '#/exposure/price_review'")
        # the overview lists exposures, the semantic model and the metric
        page.goto(f"{bakery_url}#/overview")
        page.wait_for_selector("#view-overview #metrics")
        text = page.locator("#view-overview").inner_text()
        assert "Exposures (2)" in text and "Semantic models (1)" in text
        assert "measure units_sold (sales)" in text
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
