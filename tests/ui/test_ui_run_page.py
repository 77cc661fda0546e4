"""The run page of a many-step run: the step list is virtualised (only the rows in view are in
the table) yet every step is reachable by scrolling; the timeline draws one bar per step.

A real project of 150 models built through ``POST /api/launch``; Chromium via Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_project
from tests.ui.conftest import LiveServer, start_server
from tests.ui.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

STEPS = 150


@pytest.fixture
def many_live(tmp_path: Path) -> Iterator[LiveServer]:
    files = {f"models/m_{i:03d}.sql": f"select {i} as x\n" for i in range(STEPS)}
    yield from start_server(write_project(tmp_path / "many", files))


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_many_steps_virtualised_and_all_reachable(many_live: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    live = many_live
    run = live.post("/api/launch", {"select": ["path:models"]})[1]
    detail = live.wait_run(run["run"])
    assert detail["run"]["status"] == "success", detail
    queued = [e["step_id"] for e in detail["events"] if e["event"] == "StepQueued"]
    assert len(queued) == STEPS
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page: Any = browser.new_page(viewport={"width": 1440, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{live.url}/#/run/{run['run']}")
            page.wait_for_selector("body[data-run-status=success]")
            table = page.locator("#run-steps")
            assert table.get_attribute("data-step-count") == str(STEPS)
            rows = page.locator("#run-steps tr[data-step]")
            shown = rows.count()
            assert 10 <= shown < STEPS  # only a window of rows is in the table
            assert rows.first.get_attribute("data-step") == queued[0]
            assert page.locator(f'#run-steps tr[data-step="{queued[-1]}"]').count() == 0
            # scrolled to the end, the last step's row is there, green
            page.locator(".steps-box").evaluate("b => { b.scrollTop = b.scrollHeight; }")
            page.wait_for_selector(f'#run-steps tr[data-step="{queued[-1]}"][data-status=success]')
            assert page.locator(f'#run-steps tr[data-step="{queued[0]}"]').count() == 0
            # one bar per step on the timeline, the console has the run's last line
            assert page.locator("#run-gantt rect.b-success").count() == STEPS
            assert "run success" in page.locator("#run-console").inner_text()
            # a step picked from the scrolled list shows its detail
            page.click(f'#run-steps tr[data-step="{queued[-1]}"] button.linkish')
            page.wait_for_selector("#step-detail h3")
            assert queued[-1] in page.locator("#step-detail").inner_text()
            assert not errors, errors
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
