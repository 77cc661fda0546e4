"""The site's "Built by this code": each asset page names the run and git commit that built it,
and shows a diff against today's code when it changed (as text, never as HTML)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_docs_browser import CHROMIUM, browser, page  # noqa: F401 - the fixtures
from test_docs_site import _load

HOSTILE = "-- </script><img src=x onerror=alert(1)>\n"


def git(root: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.fixture
def built(make_project, tmp_path: Path, orch) -> tuple[Path, str]:
    root = make_project(
        tmp_path / "shop",
        {"models/orders.sql": "select 1 as id\n", "models/items.sql": "select 2 as n\n",
         ".gitignore": "*.duckdb*\n"},
    )  # fmt: skip
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    assert orch("build", "--project-dir", root).exit_code == 0
    (root / "models/orders.sql").write_text("select 1 as id, 'new' as label\n" + HOSTILE)
    docs = orch("docs", "generate", "--project-dir", root)
    assert docs.exit_code == 0, docs.output
    return root, git(root, "rev-parse", "HEAD")


def test_asset_pages_carry_built_by_and_a_diff(built: tuple[Path, str]) -> None:
    root, head = built
    _, details = _load(root / "target" / "docs")
    orders, items = details["orders"]["built_by"], details["items"]["built_by"]
    assert orders["commit"] == head and orders["dirty"] is False and orders["recorded"]
    assert orders["changed"] is True
    assert "-select 1 as id" in orders["diff"]
    assert "+select 1 as id, 'new' as label" in orders["diff"]
    assert "+" + HOSTILE.strip() in orders["diff"]
    assert items["changed"] is False and items["diff"] == [] and items["commit"] == head
    js = next((root / "target" / "docs" / "data").glob("a*.js")).read_text()
    assert "</script>" not in js  # escaped in the data file


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_page_shows_the_commit_and_the_diff_as_text(
    built: tuple[Path, str],
    page: Any,  # noqa: F811
) -> None:
    root, head = built
    url = (root / "target" / "docs" / "index.html").as_uri()
    page.goto(f"{url}#/asset/orders")
    page.wait_for_selector("#built-by")
    assert page.locator("#built-by .built-commit").inner_text() == head[:12]
    assert page.locator("#built-by .built-state").inner_text() == (
        "changed since it was built (diff below)"
    )
    added = page.locator("#built-by .diff-add").all_inner_texts()
    assert [t.strip() for t in added] == ["+select 1 as id, 'new' as label", "+" + HOSTILE.strip()]
    assert page.locator("#view-asset img").count() == 0
    page.goto(f"{url}#/asset/items")
    page.wait_for_selector("#built-by")
    assert page.locator("#built-by .built-state").inner_text() == "unchanged since it was built"
    assert page.locator("#built-by pre.diff").count() == 0


def test_the_example_site_shows_what_built_each_asset(example_project: Path, orch) -> None:
    root = example_project
    (root / ".gitignore").write_text("target/\nlogs/\n*.duckdb*\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "jaffle"]):
        subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.com",
                        "-c", "user.name=t", *args], check=True)  # fmt: skip
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    assert orch("build", "--project-dir", root, "-s", "+customers").exit_code == 0
    customers = root / "models/marts/customers.sql"
    customers.write_text(customers.read_text().replace("then 'vip'", "then 'very important'"))
    assert orch("docs", "generate", "--project-dir", root).exit_code == 0
    _, details = _load(root / "target" / "docs")
    built = details["customers"]["built_by"]
    assert built["commit"] == head and built["dirty"] is False and built["changed"] is True
    assert any(line.startswith("+") and "'very important'" in line for line in built["diff"])
    assert details["stg_customers"]["built_by"]["changed"] is False
    assert details["product_performance"]["built_by"] is None  # not built by this run
