"""The drawn graph in Chromium: edges go around boxes, and a short chain's labels stay readable.

Reads the rendered SVG (each edge path's geometry, each node's box) rather than the data, so what
is checked is what a reader sees.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_docs_browser import browser, page, pytestmark, site_url  # noqa: F401  (fixtures)

# Every edge path sampled every 2px; a sample strictly inside a box (1px margin) that is not one of
# the edge's own two ends is a lie.
EDGES_THROUGH_BOXES = """
() => {
  const boxes = [...document.querySelectorAll('#graph g.node')].map(g => {
    const m = g.transform.baseVal.consolidate().matrix, r = g.querySelector('rect.card');
    return { key: g.dataset.key, x0: m.e, y0: m.f, x1: m.e + r.width.baseVal.value,
             y1: m.f + r.height.baseVal.value };
  });
  const bad = [], edges = [...document.querySelectorAll('#graph path.edge')];
  for (const p of edges) {
    const from = p.dataset.from, to = p.dataset.to, len = p.getTotalLength();
    for (let s = 0; s <= len; s += 2) {
      const pt = p.getPointAtLength(s);
      for (const b of boxes) {
        if (b.key === from || b.key === to) continue;
        if (pt.x > b.x0 + 1 && pt.x < b.x1 - 1 && pt.y > b.y0 + 1 && pt.y < b.y1 - 1) {
          bad.push(from + ' -> ' + to + ' through ' + b.key); break;
        }
      }
    }
  }
  return { edges: edges.length, bad: [...new Set(bad)] };
}
"""


def test_stg_customers_to_customers_goes_around_every_box(
    page: Any,  # noqa: F811
    site_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    try:
        page.goto(site_url)
        page.wait_for_selector("body[data-ready=graph]")
        page.wait_for_selector("#graph g.node[data-key=monthly_category_sales]")
        edge = page.locator("#graph path.edge[data-from=stg_customers][data-to=customers]")
        assert edge.count() == 1
        assert edge.get_attribute("d").count("L") >= 3  # routed through slots, not one curve
        result = page.evaluate(EDGES_THROUGH_BOXES)
        assert result["edges"] == page.evaluate(
            "window.ORCH_DOCS.nodes.p.reduce((s, p) => s + p.length, 0)")  # fmt: skip
        assert result["bad"] == []
        # the neighbourhood view (a restriction of the same layout) keeps the promise
        page.goto(f"{site_url}#/graph/customers")
        page.wait_for_selector("#graph g.node.focus")
        page.fill("#levels-up", "3")
        page.dispatch_event("#levels-up", "change")
        page.wait_for_selector("#graph path.edge[data-from=stg_customers][data-to=customers]")
        assert page.evaluate(EDGES_THROUGH_BOXES)["bad"] == []
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_fit_of_a_short_chain_keeps_labels_readable(
    page: Any,  # noqa: F811
    site_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    try:
        page.set_viewport_size({"width": 640, "height": 700})  # narrower than the chain
        page.goto(f"{site_url}#/graph/order_lake")
        page.wait_for_selector("#graph g.node.focus")
        for box in ("#levels-up", "#levels-down"):
            page.fill(box, "1")
            page.dispatch_event(box, "change")
        page.wait_for_function("document.querySelectorAll('#graph g.node').length === 3")
        page.click("#fit")
        page.wait_for_timeout(100)
        px = page.evaluate("""() => [...document.querySelectorAll('#graph g.node text')].map(t =>
            parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)""")
        assert len(px) == 6 and min(px) >= 8.0, px  # the smaller (sub) line too
        label = page.evaluate("""() => { const t = document.querySelector(
            '#graph g.node[data-key=order_lake] text'); return parseFloat(
            getComputedStyle(t).fontSize) * t.getScreenCTM().a; }""")
        assert label >= 10.0
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise


def test_checks_table_fits_its_card_at_1440(
    page: Any,  # noqa: F811
    site_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    try:
        page.set_viewport_size({"width": 1440, "height": 900})
        for asset in ("orders", "customers"):
            page.goto(f"{site_url}#/asset/{asset}")
            page.wait_for_selector("#checks tr[data-check]")
            page.locator("#checks button", has_text="details").first.click()  # open one more
            fit = page.evaluate("""() => {
              const box = document.querySelector('#checks > .table-box');
              const r = box.getBoundingClientRect();
              const cells = '.checks-table > tbody > tr > td, .checks-table > thead th';
              const out = [...box.querySelectorAll(cells)]
                .filter(c => c.getBoundingClientRect().right > r.right + 1).length;
              return { scroll: box.scrollWidth, client: box.clientWidth, right: r.right,
                       page: document.documentElement.clientWidth, out: out,
                       buttons: [...box.querySelectorAll('.checks-table button')].map(
                         b => b.getBoundingClientRect().height) };
            }""")
            assert fit["scroll"] <= fit["client"], fit  # no horizontal overflow of the card
            assert fit["out"] == 0 and fit["right"] <= fit["page"], fit
            assert max(fit["buttons"]) < 40, fit  # "details" on one line
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
