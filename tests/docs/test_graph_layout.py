"""The graph never lies: no drawn edge passes through a box other than its two ends.

Checked on the site's own data (``data.js``), rebuilding each edge's polyline exactly as
``app.js`` draws it, for example_project and a generated 300-model project.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from docs_site_data import compile_example, copy_example
from orch.compiler.models import compile_project
from orch.config import RunOptions
from orch.docs import generate_site
from orch.docs.layout import LAYER_GAP, NODE_HEIGHT, NODE_WIDTH, layout_graph
from orch.state import SQLiteStateStore

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _index(manifest, root: Path) -> dict:  # type: ignore[no-untyped-def]
    SQLiteStateStore.for_project(root).close()
    with SQLiteStateStore.for_project(root, readonly=True) as reader:
        stats = generate_site(manifest, reader, root / "target" / "docs")
    text = (stats.out_dir / "data.js").read_text(encoding="utf-8")
    return json.loads(text[len("window.ORCH_DOCS=") : -2])


def polylines(index: dict) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Every edge's points, as app.js's edgePoints builds them from the index."""
    n = index["nodes"]
    w, h = index["node_size"]
    out = {}
    for i, parents in enumerate(n["p"]):
        for pi, p in enumerate(parents):
            slots = n["r"][i][pi] if n["r"][i] else []
            pts = [(n["x"][p] + w, n["y"][p] + h / 2)]
            for j, sy in enumerate(slots):
                sx = (n["l"][p] + 1 + j) * LAYER_GAP
                pts += [(sx, sy + h / 2), (sx + w, sy + h / 2)]
            pts.append((n["x"][i], n["y"][i] + h / 2))
            out[(n["n"][p], n["n"][i])] = pts
    return out


def _segment_hits_box(a, b, box) -> bool:  # type: ignore[no-untyped-def]
    """Liang-Barsky clip: does segment a-b pass through the open box (x0, y0, x1, y1)?"""
    x0, y0, x1, y1 = box
    t0, t1 = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q <= 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
    return t1 - t0 > 1e-9


def crossings(index: dict) -> list[tuple[str, str, str]]:
    """(parent, child, node) for every edge segment through a box other than its ends."""
    n = index["nodes"]
    w, h = index["node_size"]
    eps = 0.5  # the ends touch their own boxes' sides, and only those
    boxes = {name: (n["x"][i] + eps, n["y"][i] + eps, n["x"][i] + w - eps, n["y"][i] + h - eps)
             for i, name in enumerate(n["n"])}  # fmt: skip
    bad = []
    for (parent, child), pts in polylines(index).items():
        for a, b in zip(pts, pts[1:], strict=False):
            lo, hi = min(a[0], b[0]), max(a[0], b[0])
            for name, box in boxes.items():
                if name in (parent, child) or box[2] < lo or box[0] > hi:
                    continue
                if _segment_hits_box(a, b, box):
                    bad.append((parent, child, name))
    return bad


def test_hit_test_sees_a_straight_edge_through_a_box() -> None:
    # the old hand-written layout: a straight line from layer 0 to 2 across a box in layer 1
    box = (LAYER_GAP, 0.0, LAYER_GAP + NODE_WIDTH, NODE_HEIGHT)
    assert _segment_hits_box((NODE_WIDTH, 18.0), (2 * LAYER_GAP, 18.0), box)
    assert not _segment_hits_box((NODE_WIDTH, 18.0), (LAYER_GAP, 18.0), box)


def test_long_edge_gets_a_slot_in_every_layer_it_crosses() -> None:
    layout = layout_graph(["a", "b", "c", "d"], {"b": ["a"], "c": ["b"], "d": ["a", "c"]})
    assert layout.layer == {"a": 0, "b": 1, "c": 2, "d": 3}
    route = layout.routes[("a", "d")]
    assert [x for x, _ in route] == [LAYER_GAP, 2 * LAYER_GAP]
    # each slot is clear of the box in its layer by at least the box height
    assert abs(route[0][1] - layout.y["b"]) >= NODE_HEIGHT
    assert abs(route[1][1] - layout.y["c"]) >= NODE_HEIGHT
    assert ("a", "b") not in layout.routes


def test_example_project_edges_avoid_boxes(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "proj")
    index = _index(compile_example(root), root)
    lines = polylines(index)
    assert ("stg_customers", "customers") in lines
    assert len(lines[("stg_customers", "customers")]) > 2  # a long edge, routed through slots
    assert crossings(index) == []


def test_generated_300_model_project_edges_avoid_boxes(tmp_path: Path) -> None:
    root = tmp_path / "gen"
    subprocess.run([sys.executable, str(BENCH / "generate.py"), "300", str(root)], check=True,
                   capture_output=True)  # fmt: skip
    manifest = compile_project(RunOptions(project_dir=root)).manifest
    index = _index(manifest, root)
    lines = polylines(index)
    assert len(lines) > 400 and sum(len(p) > 2 for p in lines.values()) > 50
    assert crossings(index) == []
