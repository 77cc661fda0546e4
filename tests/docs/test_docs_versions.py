"""The site's "Data versions": each asset page shows the data version it holds, what it read of
each upstream and the version each downstream materialization read (issue 19)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_docs_browser import CHROMIUM, browser, page  # noqa: F401 - the fixtures
from test_docs_site import _load


@pytest.fixture
def built(make_project, tmp_path: Path, orch) -> Path:
    root = make_project(
        tmp_path / "shop",
        {
            "seeds/raw.csv": "id,amount\n1,10\n2,20\n",
            "models/orders.sql": "{{ config(materialized='table') }}\n"
            "select id, amount from {{ ref('raw') }}\n",
            "models/big.sql": "select id from {{ ref('orders') }} where amount > 15\n",
            "models/total.sql": "{{ config(materialized='table') }}\n"
            "select sum(amount) as amount from {{ ref('orders') }}\n",
        },
    )
    assert orch("build", "--project-dir", root).exit_code == 0
    # new rows in orders; only `big` is rebuilt, so `total` read an older version
    (root / "seeds/raw.csv").write_text("id,amount\n1,10\n2,20\n3,30\n")
    run = orch("build", "--project-dir", root, "-s", "raw", "orders", "big")
    assert run.exit_code == 0, run.output
    docs = orch("docs", "generate", "--project-dir", root)
    assert docs.exit_code == 0, docs.output
    return root


def _status(orch, root: Path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    import json

    run = orch("status", "--project-dir", root, "--output", "json")
    data = json.loads(run.stdout)
    items = data["assets"] if isinstance(data, dict) else data
    return {item["asset"]: item for item in items}


def test_asset_pages_carry_data_versions(built: Path, orch) -> None:  # type: ignore[no-untyped-def]
    _, details = _load(built / "target" / "docs")
    status = _status(orch, built)
    orders = details["orders"]["data_versions"]
    assert orders["current"] == status["orders"]["data_version"]
    readers = {r["reader"]: r for r in orders["readers"]}
    assert readers["big"]["read"] == orders["current"] and readers["big"]["same"] is True
    assert readers["total"]["read"] == status["total"]["read"]["orders"]
    assert readers["total"]["read"] != orders["current"] and readers["total"]["same"] is False
    (raw,) = orders["read"]
    assert raw["asset"] == "raw" and raw["read"] == status["raw"]["data_version"] and raw["same"]
    assert details["orders"]["runs"][0]["data_version"] == orders["current"]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_page_lists_data_versions(built: Path, page: Any, orch) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    status = _status(orch, built)
    url = (built / "target" / "docs" / "index.html").as_uri()
    page.goto(f"{url}#/asset/orders")
    page.wait_for_selector("#data-versions")
    current = status["orders"]["data_version"]
    assert page.locator("#data-versions .dv-current").inner_text() == current[:8]
    rows = page.locator("#data-versions h3:has-text('Read by downstream') + div tbody tr")
    texts = sorted(rows.all_inner_texts())
    assert len(texts) == 2
    big, total = texts
    assert big.startswith("big") and current[:8] in big and "same data" in big
    assert total.startswith("total") and status["total"]["read"]["orders"][:8] in total
    assert "other data" in total
    upstream = page.locator("#data-versions h3:has-text('Read from upstream') + div tbody tr")
    assert "raw" in upstream.inner_text() and "same data" in upstream.inner_text()
