"""The docs site generator: files, data, escaping, state, CLI (no browser here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from docs_site_data import (
    PARTITIONED,
    XSS_IMG,
    XSS_SCRIPT,
    compile_example,
    copy_example,
    enrich,
    record_state,
)
from orch.cli import cli
from orch.config import PartitionConfig
from orch.docs import dump_js, generate_site
from orch.docs.highlight import highlight_sql
from orch.docs.layout import layout_graph
from orch.docs.richtext import markdown_tree
from orch.events import utcnow
from orch.partitions import definition_of, partition_keys
from orch.state import SQLiteStateStore


def _load(out: Path) -> tuple[dict, dict[str, dict]]:
    """The index payload and every asset's details, parsed back from the JS files."""
    text = (out / "data.js").read_text(encoding="utf-8")
    index = json.loads(text[len("window.ORCH_DOCS=") : -2])
    details: dict[str, dict] = {}
    for chunk in sorted((out / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        payload = body[body.index(",") + 1 : -3]
        for item in json.loads(payload):
            details[item["name"]] = item
    return index, details


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, dict]]:
    root = copy_example(tmp_path_factory.mktemp("docs") / "proj")
    manifest = enrich(compile_example(root), hostile=True)
    record_state(root, manifest, hostile=True)
    with SQLiteStateStore.for_project(root, readonly=True) as reader:
        stats = generate_site(manifest, reader, root / "target" / "docs")
    assert stats.assets == len(manifest.nodes) >= 18
    assert stats.checks == 4
    index, details = _load(stats.out_dir)
    return stats.out_dir, index, details


def test_files_written(site: tuple[Path, dict, dict]) -> None:
    out, index, details = site
    assert (out / "index.html").is_file()
    assert (out / "static" / "app.js").is_file() and (out / "static" / "style.css").is_file()
    assert sorted(details) == sorted(index["nodes"]["n"])
    html = (out / "index.html").read_text(encoding="utf-8")
    assert '<script src="data.js"></script>' in html
    # no network at view time: nothing refers to another host
    for f in [out / "index.html", out / "static" / "app.js", out / "static" / "style.css"]:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f
        assert "@import" not in text and "url(http" not in text
        assert "fetch(" not in text and "XMLHttpRequest" not in text


def test_graph_layout_is_left_to_right(site: tuple[Path, dict, dict]) -> None:
    _, index, _ = site
    nodes = index["nodes"]
    for i, parents in enumerate(nodes["p"]):
        for p in parents:
            assert nodes["x"][p] < nodes["x"][i]
            assert nodes["l"][p] < nodes["l"][i]
    assert index["kinds"][nodes["k"][nodes["n"].index("raw_orders")]] == "seed"


def test_asset_details(site: tuple[Path, dict, dict]) -> None:
    _, _, details = site
    cust = details["customers"]
    assert cust["owner"] == XSS_IMG
    assert cust["group"] == "commerce" and "pii" in cust["tags"]
    assert cust["path"] == "models/marts/customers.sql"
    lv = next(c for c in cust["columns"] if c["name"] == "lifetime_value")
    assert lv["up"] == [["orders", "net_revenue"]]
    net = next(c for c in details["orders"]["columns"] if c["name"] == "net_revenue")
    assert ["customers", "lifetime_value"] in net["down"]
    assert any(t == "select" for t in cust["raw"][1::2])  # highlighted tokens, keyword class 1
    checks = {c["name"]: c for c in details["orders"]["checks"]}
    assert checks["accepted_values_orders_status"]["status"] == "warn"
    assert checks["accepted_values_orders_status"]["last"]["sample"][0] == {
        "order_id": 7,
        "status": "lost",
    }
    assert checks["unique_orders_order_id"]["blocking"] is True
    assert details["customers"]["columns"][0]["checks"] == ["not_null_customers_customer_id"]
    assert details["daily_revenue"]["checks"][0]["status"] == "fail"


def test_partitions_and_runs(site: tuple[Path, dict, dict]) -> None:
    _, index, details = site
    part = details[PARTITIONED]["partitions"]
    assert len(part["keys"]) == 60 and part["keys"][0] == "2024-01-01"
    assert part["keys"][-1] == "2024-02-29"
    assert part["counts"] == {"materialized": 47, "missing": 2, "stale": 10, "failed": 1}
    assert part["codes"][20:22] == "--" and part["codes"][33] == "f"
    assert details[PARTITIONED]["status"] == "failed"
    runs = details["customers"]["runs"]
    assert runs[0]["status"] == "success" and runs[0]["rows"] > 0 and runs[0]["current"]
    # stg_orders was rebuilt later: what reads it is stale
    assert details["int_orders_enriched"]["status"] == "stale"
    assert details["stg_customers"]["status"] == "fresh"
    overview = index["overview"]
    assert overview["runs"][0]["selection"] == "stg_orders+"
    assert [f["check"] for f in overview["failing_checks"]] == [
        "assert_no_negative_revenue",
        "accepted_values_orders_status",
    ]
    assert overview["slowest"][0][0] == "customers"
    assert "int_orders_enriched" in [s[0] for s in overview["stale"]]


def test_everything_user_provided_is_escaped(site: tuple[Path, dict, dict]) -> None:
    out, _, details = site
    for path in [out / "data.js", *sorted((out / "data").glob("*.js")), out / "index.html"]:
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text, path
        assert "<img" not in text, path
        assert "</script" not in text.lower() or path.name == "index.html", path
    data = (out / "data" / "a0.js").read_text(encoding="utf-8")
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in data
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in data
    # the markdown tree keeps the markup as text and drops the javascript: link
    desc = details["customers"]["description"]
    assert XSS_SCRIPT in desc[0][2]
    assert [n for n in desc[0][2:] if isinstance(n, list) and n[0] == "a"] == []
    # the script builds the DOM from text only
    js = (out / "static" / "app.js").read_text(encoding="utf-8")
    js = js[js.index("*/") :]  # past the header comment that states the rule
    assert "innerHTML" not in js
    assert "insertAdjacentHTML" not in js and "document.write" not in js and "eval(" not in js


def test_no_secret_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_example(tmp_path / "proj")
    profiles = root / "profiles.yml"
    profiles.write_text(
        profiles.read_text(encoding="utf-8") + "\n# password: {{ env_var('DOCS_SECRET') }}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DOCS_SECRET", "hunter2-very-secret")
    generate_site(compile_example(root), None, tmp_path / "site")
    for f in (tmp_path / "site").rglob("*"):
        if f.is_file():
            assert "hunter2-very-secret" not in f.read_text(encoding="utf-8")


def test_without_state(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "proj")
    stats = generate_site(compile_example(root), None, tmp_path / "site")
    index, details = _load(stats.out_dir)
    assert index["overview"]["has_state"] is False
    assert details["orders"]["status"] == "never" and details["orders"]["runs"] == []


def test_cli_generate(tmp_path: Path) -> None:
    root = copy_example(tmp_path / "proj")
    runner = CliRunner()
    result = runner.invoke(cli, ["docs", "generate", "--project-dir", str(root)])
    assert result.exit_code == 0, result.output
    assert re.search(r"Wrote the docs site for \d+ assets", result.output)
    assert (root / "target" / "docs" / "index.html").is_file()
    out = tmp_path / "elsewhere"
    result = runner.invoke(cli, ["docs", "generate", "--project-dir", str(root), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "data.js").is_file()


def test_dump_js_escapes_script_breakers() -> None:
    text = dump_js({"a": "</script><!-- & \u2028\u2029"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029"}


def test_highlight_round_trips() -> None:
    sql = "select a, 'x''y' as s -- c\nfrom {{ ref('t') }} where n >= 1.5 /* b */"
    tokens = highlight_sql(sql)
    assert "".join(str(t) for t in tokens[1::2]) == sql
    classes = dict(zip(tokens[1::2], tokens[0::2], strict=True))
    assert classes["select"] == 1 and classes["'x''y'"] == 2 and classes["-- c"] == 4
    assert classes["{{ ref('t') }}"] == 5


def test_markdown_tree() -> None:
    tree = markdown_tree("Hi *there* <b>x</b> [a](javascript:alert(1)) [b](https://x.y)")
    para = tree[0]
    assert para[0] == "p" and ["em", {}, "there"] in para
    assert any(isinstance(n, str) and "<b>x</b>" in n for n in para)
    links = [n for n in para[2:] if isinstance(n, list) and n[0] == "a"]
    assert links == [["a", {"href": "https://x.y"}, "b"]]


def test_layout_orders_layers() -> None:
    order = ["a", "b", "c", "d"]
    parents = {"c": ["a"], "d": ["b", "c"]}
    layout = layout_graph(order, parents)
    assert layout.layer == {"a": 0, "b": 0, "c": 1, "d": 2}
    assert layout.x["a"] < layout.x["c"] < layout.x["d"]


@pytest.mark.parametrize(
    ("cfg", "first", "last", "count"),
    [
        (dict(grain="daily", start="2024-01-01", end="2024-02-01"), "2024-01-01", "2024-01-31", 31),
        (dict(grain="monthly", start="2024-01-01", end="2025-01-01"), "2024-01", "2024-12", 12),
        (dict(grain="hourly", start="2024-01-01", end="2024-01-02"), "2024-01-01T00",
         "2024-01-01T23", 24),
        (dict(grain="weekly", start="2024-01-01", end="2024-02-05"), "2024-W01", "2024-W05", 5),
        ({"keys": ["eu", "us"]}, "eu", "us", 2),
    ],
    ids=["daily", "monthly", "hourly", "weekly", "static"],
)  # fmt: skip
def test_expected_partition_keys(cfg: dict, first: str, last: str, count: int) -> None:
    keys = partition_keys(definition_of(PartitionConfig(**cfg)), utcnow())
    assert (keys[0], keys[-1], len(keys)) == (first, last, count)
