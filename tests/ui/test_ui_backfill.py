"""A backfill launched from ``orch ui``: the same plan, lock and record as ``orch backfill``.

A real project with a daily-partitioned model; the API and the asset page's *Backfill range*
button in Chromium (Playwright); the partitions land in DuckDB and the run is recorded as a
backfill.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from orch.state import SQLiteStateStore

from tests.conftest import run_cli, write_project
from tests.ui.conftest import LiveServer, start_server
from tests.ui.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

DAILY = """\
{{ config(materialized='incremental',
          partitioned_by={'grain': 'daily', 'start': '2024-01-01', 'end': '2024-02-01',
                          'column': 'day'}) }}
select cast({{ partition.key }} as date) as day, count(*) as orders
from {{ ref('raw_orders') }}
"""


@pytest.fixture
def daily_live(tmp_path: Path) -> Iterator[LiveServer]:
    root = write_project(tmp_path / "shop", {
        "seeds/raw_orders.csv": "id,amount\n1,10\n2,20\n",
        "models/daily_orders.sql": DAILY,
    })  # fmt: skip
    built = run_cli("seed", "--project-dir", root)
    assert built.exit_code == 0, built.output
    yield from start_server(root)


def _days(project: Path) -> list[str]:
    con = duckdb.connect(str(project / "warehouse.duckdb"), read_only=True)
    try:
        got = con.execute(
            "select cast(day as varchar) from analytics.daily_orders order by 1"
        ).fetchall()
        return [r[0] for r in got]
    finally:
        con.close()


def test_backfill_through_the_api_runs_the_range(daily_live: LiveServer) -> None:
    live = daily_live
    launch = {"kind": "backfill", "select": ["daily_orders"], "start": "2024-01-03",
              "end": "2024-01-06"}  # fmt: skip
    status, body, _ = live.post("/api/launch", launch)
    assert status == 202, body
    assert body["label"] == "backfill daily_orders 2024-01-03..2024-01-06"
    detail = live.wait_run(body["run"])
    assert detail["run"]["status"] == "success", detail
    assert _days(live.project) == ["2024-01-03", "2024-01-04", "2024-01-05", "2024-01-06"]
    record = SQLiteStateStore.for_project(live.project, readonly=True).get_run(body["run"])
    assert record is not None and record.command == "backfill"
    assert record.args["backfill"]["start"] == "2024-01-03"
    started = next(e for e in detail["events"] if e["event"] == "RunStarted")
    assert started["command"] == "backfill" and started["step_count"] == 4
    # the run list shows it like any other run
    assert live.get("/api/runs?asset=daily_orders")[1]["runs"][0]["run"] == body["run"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "backfill", "select": ["daily_orders"]}, "a backfill needs a range"),
        ({"kind": "backfill", "select": ["daily_orders"], "partition": "2024-01-02"},
         "a backfill needs a range"),
        ({"kind": "backfill", "select": [], "start": "2024-01-01", "end": "2024-01-02"},
         "nothing selected"),
    ],
    ids=["no-range", "one-partition", "nothing"],
)  # fmt: skip
def test_bad_backfills_are_400(daily_live: LiveServer, body: dict, message: str) -> None:
    status, answer, _ = daily_live.post("/api/launch", body)
    assert status == 400 and message in answer["error"], answer


def test_an_unpartitioned_selection_fails_with_the_cli_message(daily_live: LiveServer) -> None:
    launch = {"kind": "backfill", "select": ["raw_orders"], "start": "2024-01-01",
              "end": "2024-01-02"}  # fmt: skip
    run = daily_live.post("/api/launch", launch)[1]
    detail = daily_live.wait_run(run["run"])
    failed = [e for e in detail["events"] if e["event"] == "LaunchFailed"]
    assert failed and "no partitioned asset" in failed[0]["error"], detail["events"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_backfill_range_from_the_asset_page(daily_live: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    live = daily_live
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # CSP bypassed as in test_ui_browser.py: Playwright's wait_for_function needs eval
        page: Any = browser.new_page(viewport={"width": 1440, "height": 900}, bypass_csp=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{live.url}/#/asset/daily_orders")
            page.wait_for_selector("#launch-backfill")
            page.fill("#launch-start", "2024-01-10")
            page.fill("#launch-end", "2024-01-12")
            page.click("#launch-backfill")
            page.wait_for_function("location.hash.indexOf('#/run/') === 0")
            page.wait_for_selector("body[data-run-status=success]")
            steps = page.locator("#run-steps tr[data-step][data-status=success]")
            assert steps.count() == 3
            assert "daily_orders[2024-01-11]" in page.locator("#run-steps").inner_text()
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert errors == []
    assert _days(live.project) == ["2024-01-10", "2024-01-11", "2024-01-12"]


def test_column_types_after_a_run_come_from_its_worker(daily_live: LiveServer) -> None:
    """The worker saves the catalog before it exits; the server never opens the warehouse
    after a run, so the user's own connection right after it is not refused."""
    live = daily_live
    run = live.post("/api/launch", {"select": ["daily_orders"], "partition": "2024-01-02"})[1]
    live.wait_run(run["run"])
    assert _days(live.project) == ["2024-01-02"]  # the warehouse is free at once
    cols = live.get("/api/assets/daily_orders")[1]["columns"]
    assert [(c["name"], c["type"]) for c in cols] == [("day", "DATE"), ("orders", "BIGINT")]
