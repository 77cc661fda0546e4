"""The example project's IO-manager assets end to end: Parquet, external, a trained object, and
what reads them; the docs site shows where each is stored. Real DuckDB, real files, the CLI."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import duckdb
import polars as pl

LAKE = ["order_lake", "lake_monthly_orders", "orders_export", "spend_model", "spend_predictions"]


def _load_details(out: Path) -> dict[str, dict]:
    details: dict[str, dict] = {}
    for chunk in sorted((out / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        for item in json.loads(body[body.index(",") + 1 : -3]):
            details[item["name"]] = item
    return details


def test_example_lake_assets_build_and_read_each_other(example_project: Path, orch) -> None:
    run = orch("build", "--project-dir", example_project)
    assert run.exit_code == 0, run.output
    store = example_project / ".orch" / "storage" / "dev"
    lake = pl.read_parquet(example_project / ".orch" / "lake" / "order_lake" / "data.parquet")
    export = store / "external" / "orders_export"
    assert {p.name.split("=")[0] for p in export.iterdir()} == {"status"}
    exported = pl.read_parquet(export / "**" / "*.parquet", hive_partitioning=True)
    assert exported.height == lake.height > 0
    model = pickle.loads((store / "objects" / "spend_model").read_bytes())
    assert type(model).__name__ == "SpendModel" and model.trained_on > 0
    with duckdb.connect(str(example_project / "warehouse.duckdb"), read_only=True) as con:
        monthly = con.execute("select sum(orders) from main.lake_monthly_orders").fetchone()
        scored = con.execute(
            "select count(*), count(expected_spend) from main.spend_predictions"
        ).fetchone()
    assert monthly == (lake.height,)
    assert scored is not None and scored[0] == scored[1] > 0
    site = orch("docs", "generate", "--project-dir", example_project)
    assert site.exit_code == 0, site.output
    details = _load_details(example_project / "target" / "docs")
    stored = details["order_lake"]["stored"]
    assert stored["io_manager"] == "lake" and stored["format"] == "parquet"
    assert stored["uri"].endswith("/.orch/lake/order_lake/data.parquet")
    assert details["order_lake"]["relation"] is None
    assert details["spend_model"]["stored"]["format"] == "pickle"
    assert details["orders_export"]["stored"]["io_manager"] == "external"
    assert details["orders"]["stored"] is None
    assert details["lake_monthly_orders"]["parents"] == ["order_lake"]
    assert "spend_predictions" in details["spend_model"]["children"]
