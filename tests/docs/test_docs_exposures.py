"""dbt exposures and the semantic layer in the site's data, from the bakery dbt fixture through
the real CLI (``orch docs generate``): exposure nodes downstream of what they depend on, their
edges and pages, "Used by" on a model's page, and the overview's semantic layer lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs_site_data import bakery_site


def load_site(out: Path) -> tuple[dict, dict[str, dict]]:
    """The index payload and every asset's details, parsed back from the data files."""
    text = (out / "data.js").read_text(encoding="utf-8")
    index = json.loads(text[len("window.ORCH_DOCS=") : -2])
    details: dict[str, dict] = {}
    for chunk in sorted((out / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        for item in json.loads(body[body.index(",") + 1 : -3]):
            details[item["name"]] = item
    return index, details


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict, dict[str, dict]]]:
    yield load_site(bakery_site(tmp_path_factory.mktemp("expo")))


def test_exposures_are_graph_nodes_downstream_of_their_assets(site: tuple[dict, dict]) -> None:
    index, _ = site
    nodes, exp = index["nodes"], index["exposures"]
    assert exp["n"] == ["price_review", "weekly_sales_dashboard"]
    assert [index["exposure_types"][t] for t in exp["e"]] == ["notebook", "dashboard"]
    for j, name in enumerate(exp["n"]):
        parents = [nodes["n"][p] for p in exp["p"][j]]
        want = {"price_review": {"products", "product_revenue"},
                "weekly_sales_dashboard": {"product_revenue", "stg_sales"}}[name]  # fmt: skip
        assert set(parents) == want
        for p in exp["p"][j]:  # placed right of every asset it depends on
            assert nodes["l"][p] < exp["l"][j] and nodes["x"][p] < exp["x"][j]
    # the seed `products` is two layers left of price_review: its edge runs through a slot
    j = exp["n"].index("price_review")
    slots = exp["r"][j][[nodes["n"][p] for p in exp["p"][j]].index("products")]
    assert len(slots) == exp["l"][j] - nodes["l"][nodes["n"].index("products")] - 1
    # the tag filter knows an exposure's tags
    assert {"finance", "weekly"} <= set(index["tags"])
    w = exp["n"].index("weekly_sales_dashboard")
    assert sorted(index["tags"][t] for t in exp["t"][w]) == ["finance", "weekly"]


def test_exposure_page_data(site: tuple[dict, dict]) -> None:
    index, _ = site
    exp = index["exposures"]
    page = exp["d"][exp["n"].index("weekly_sales_dashboard")]
    assert page == {
        "name": "weekly_sales_dashboard",
        "label": "Weekly sales",
        "type": "dashboard",
        "maturity": "high",
        "url": "https://bi.example.com/dashboards/12",
        "owner": {"name": "Bakery Ops", "email": "ops@example.com"},
        "description": [["p", {}, "Revenue per product, every Monday."]],
        "summary": "Revenue per product, every Monday.",
        "tags": ["finance", "weekly"],
        "meta": {"refresh": "Mondays 06:00"},
        "depends_on": ["product_revenue", "stg_sales"],
        "path": "models/exposures.yml",
    }
    notebook = exp["d"][exp["n"].index("price_review")]
    assert notebook["description"] == [
        ["p", {}, "Checks the ", ["strong", {}, "list prices"], " against what sold."],
        ["ul", {}, ["li", {}, "one cell per category"]],
    ]  # Markdown, as a model's description
    assert notebook["owner"] == {"name": "Pricing <team>", "email": ""}


def test_model_page_lists_the_exposures_using_it(site: tuple[dict, dict]) -> None:
    _, details = site
    assert details["product_revenue"]["exposures"] == ["price_review", "weekly_sales_dashboard"]
    assert details["stg_sales"]["exposures"] == ["weekly_sales_dashboard"]
    assert "exposures" not in details["stg_products"]  # none use it: nothing written


def test_overview_lists_the_semantic_layer(site: tuple[dict, dict]) -> None:
    index, _ = site
    overview = index["overview"]
    assert overview["exposures"] == 2
    semantic = overview["semantic"]
    assert semantic["semantic_models"] == [
        {"name": "sales", "label": "", "type": "",
         "description": [["p", {}, "One row per sale."]],
         "built_on": [["model", "stg_sales", "stg_sales"]]}
    ]  # fmt: skip
    assert semantic["metrics"] == [
        {"name": "total_units", "label": "Total units sold", "type": "simple",
         "description": [["p", {}, "Units sold, summed."]],
         "built_on": [["measure", "units_sold", "sales"]]}
    ]  # fmt: skip
    assert semantic["saved_queries"] == []


def test_markup_in_an_exposure_stays_in_the_data_as_escaped_text(tmp_path: Path) -> None:
    out = bakery_site(tmp_path)
    text = (out / "data.js").read_text(encoding="utf-8")
    assert "Pricing \\u003cteam\\u003e" in text and "<team>" not in text
