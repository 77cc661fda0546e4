"""Check history per asset, on the static site and in ``orch ui`` (Chromium): a check that passed,
then failed after the data changed, shows both results oldest first with their failing rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_docs_browser import CHROMIUM, CHROMIUM_ARGS

from tests.conftest import run_cli, write_project
from tests.ui.conftest import start_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

FILES = {
    "seeds/raw_orders.csv": "id,amount\n1,10\n2,20\n",
    "models/orders.sql": "select id, amount from {{ ref('raw_orders') }}\n",
    "models/_models.yml": """\
        version: 2
        models:
          - name: orders
            columns:
              - name: amount
                tests:
                  - not_null:
                      severity: warn
    """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("hist") / "shop", FILES)
    assert run_cli("build", "--project-dir", root).exit_code == 0  # passes
    (root / "seeds" / "raw_orders.csv").write_text("id,amount\n1,10\n2,\n3,\n", "utf-8")
    second = run_cli("build", "--project-dir", root)  # warns: 2 failing rows
    assert second.exit_code == 0, second.output
    assert run_cli("docs", "generate", "--project-dir", root).exit_code == 0
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _history(page: Any, url: str, tmp_path: Path) -> list[tuple[str, str]]:
    try:
        page.goto(f"{url}#/asset/orders")
        page.wait_for_selector("#checks tr[data-check]")
        page.wait_for_selector("#checks .check-detail.open .hist-strip span")  # warn: open
        cells = page.locator("#checks .check-detail.open .hist-strip span")
        heading = page.locator("#checks .check-detail.open .check-history h3").inner_text()
        assert heading == "History (2 results: 1 pass, 1 warn)"
        return [(c.get_attribute("data-status"), c.get_attribute("data-failing"))
                for c in cells.all()]  # fmt: skip
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_static_site_shows_check_history(browser: Any, project: Path, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    url = (project / "target" / "docs" / "index.html").as_uri()
    assert _history(page, url, tmp_path) == [("pass", "0"), ("warn", "2")]
    page.close()


def test_live_ui_shows_check_history(browser: Any, project: Path, tmp_path: Path) -> None:
    errors: list[str] = []
    for live in start_server(project):
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        assert _history(page, live.url + "/", tmp_path) == [("pass", "0"), ("warn", "2")]
        page.close()
        assert errors == []  # the strip's heights are set through CSSOM, which the CSP allows
