"""Column types and order on the site: SQL models from the warehouse catalog (the adapter's
``schema_columns``), Python assets from the schema they produced (recorded at materialization),
failing-row samples in the table's column order. Real project folder, DuckDB, the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from orch.state import SQLiteStateStore

from tests.conftest import run_cli, write_project

FILES = {
    "seeds/raw_orders.csv": "id,amount,status\n1,10,paid\n2,-5,lost\n",
    "models/orders.sql": (
        "select status, id, cast(amount as decimal(10, 2)) as amount, amount < 0 as refund\n"
        "from {{ ref('raw_orders') }}\n"
    ),
    "models/_models.yml": """\
        version: 2
        models:
          - name: orders
            columns:
              - name: id
                description: the order
                tests: [unique]
              - name: status
                tests:
                  - accepted_values:
                      values: [paid]
                      severity: warn
    """,
    "models/scores.py": """\
        import polars as pl
        from orch import asset

        @asset
        def scores(orders: pl.DataFrame) -> pl.DataFrame:
            return orders.select(pl.col("id"), (pl.col("amount") * 2).alias("zscore"),
                                 pl.lit("x").alias("band"))
    """,
}


def _details(site: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for chunk in sorted((site / "data").glob("a*.js")):
        body = chunk.read_text(encoding="utf-8")
        for item in json.loads(body[body.index(",") + 1 : -3]):
            out[item["name"]] = item
    return out


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "shop", FILES)
    result = run_cli("build", "--project-dir", root)
    assert result.exit_code == 0, result.output
    return root


def test_sql_model_types_come_from_the_warehouse_in_table_order(built: Path) -> None:
    result = run_cli("docs", "generate", "--project-dir", built)
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr
    cols = _details(built / "target" / "docs")["orders"]["columns"]
    assert [(c["name"], c["type"]) for c in cols] == [
        ("status", "VARCHAR"), ("id", "BIGINT"), ("amount", "DECIMAL(10,2)"),
        ("refund", "BOOLEAN"),
    ]  # fmt: skip
    assert cols[1]["description"]  # the YAML's description is kept beside the warehouse type
    seed = _details(built / "target" / "docs")["raw_orders"]["columns"]
    assert [c["name"] for c in seed] == ["id", "amount", "status"]
    saved = json.loads((built / "target" / "catalog.json").read_text(encoding="utf-8"))
    assert saved["relations"][".analytics"]["orders"][0] == ["status", "VARCHAR"]


def test_python_asset_lists_the_columns_it_produced(built: Path) -> None:
    assert run_cli("docs", "generate", "--project-dir", built).exit_code == 0
    cols = _details(built / "target" / "docs")["scores"]["columns"]
    assert [(c["name"], c["type"]) for c in cols] == [
        ("id", "int64"), ("zscore", "decimal128(38, 2)"), ("band", "large_string"),
    ]  # fmt: skip
    with SQLiteStateStore.for_project(built, readonly=True) as reader:
        rec = reader.latest_materializations(["scores"])[("scores", None)]
    assert rec.metadata["output_schema"][1] == ["zscore", "decimal128(38, 2)"]


def test_failing_rows_keep_the_table_column_order(built: Path) -> None:
    name = "accepted_values_orders_status__paid"
    with SQLiteStateStore.for_project(built, readonly=True) as reader:
        result = reader.latest_check_results([name])[(name, None)]
    assert result.status == "warn"
    assert list(result.sample[0]) == ["status", "id", "amount", "refund"]  # not sorted
    assert run_cli("docs", "generate", "--project-dir", built).exit_code == 0
    check = next(c for c in _details(built / "target" / "docs")["orders"]["checks"]
                 if c["name"] == name)  # fmt: skip
    assert list(check["last"]["sample"][0]) == ["status", "id", "amount", "refund"]


def test_a_busy_warehouse_falls_back_to_the_saved_catalog(built: Path) -> None:
    assert run_cli("docs", "generate", "--project-dir", built).exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(built / "warehouse.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run_cli("docs", "generate", "--project-dir", built)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 0, result.stderr
    assert "Warning: column types not read from the warehouse" in result.stderr
    assert "lock" in result.stderr.lower()
    cols = _details(built / "target" / "docs")["orders"]["columns"]
    assert cols[0] == {**cols[0], "name": "status", "type": "VARCHAR"}
