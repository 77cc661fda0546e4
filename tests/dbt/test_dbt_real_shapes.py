"""Constructs of real public dbt projects (issue 17), each in a small project of the same shape.

``bench/compare_real.py`` builds the public projects themselves (jaffle-shop, dbt-utils'
integration tests...) with dbt and orch, outside the repo; each test here pins one construct one
of them needed, with the rows, results or error a dbt user relies on.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import pytest

from tests.dbt.conftest import RunOrch


def dbt_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], project_yml: str = ""
) -> Path:
    """A dbt project ``shape`` in ``tmp_path`` (DuckDB file ``shape.duckdb``), made the current
    directory; ``project_yml`` is appended to its dbt_project.yml."""
    root = tmp_path / "shape"
    root.mkdir()
    head = "name: shape\nprofile: shape\nconfig-version: 2\n"
    (root / "dbt_project.yml").write_text(head + textwrap.dedent(project_yml), encoding="utf-8")
    (root / "profiles.yml").write_text(
        "shape:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        "      path: shape.duckdb\n      schema: main\n",
        encoding="utf-8",
    )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for variable in ("DBT_PROFILES_DIR", "ORCH_PROFILES_DIR"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(root)
    return root


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "shape.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def results(root: Path) -> dict[str, str]:
    """``{unique_id: status}`` of target/run_results.json."""
    data = json.loads((root / "target" / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


def test_source_over_a_seeds_table(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: seeds (schema raw) load the tables its ``ecom`` sources declare."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "seeds/raw_orders.csv": "id,total\n1,10\n2,32\n",
            "models/sources.yml": """
                version: 2
                sources:
                  - name: ecom
                    schema: main_raw
                    tables:
                      - name: raw_orders
            """,
            "models/stg_orders.sql": "select id as order_id, total from {{ source('ecom', "
            "'raw_orders') }}\n",
        },
        "seeds:\n  shape:\n    +schema: raw\n",  # dbt's default schema name: main_raw
    )
    assert orch("seed").exit_code == 0
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert rows(root, "select * from main.stg_orders order by 1") == [(1, 10), (2, 32)]
    assert results(root)["seed.shape.raw_orders"] == "success"


def test_saved_queries_are_no_op_results(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: ``dbt build`` lists each saved query as a ``no-op`` result."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/orders.sql": "select 1 as order_id, 5 as total\n",
            "models/orders.yml": """
                version: 2
                semantic_models:
                  - name: orders
                    model: ref('orders')
                    entities: [{name: order_id, type: primary}]
                    measures: [{name: order_total, agg: sum, expr: total}]
                metrics:
                  - name: order_total
                    type: simple
                    type_params: {measure: order_total}
                saved_queries:
                  - name: order_metrics
                    query_params: {metrics: [order_total]}
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root) == {
        "model.shape.orders": "success",
        "saved_query.shape.order_metrics": "no-op",
    }


def test_unit_tests_listed_in_dbts_manifest(tmp_path, monkeypatch, orch: RunOrch) -> None:
    """jaffle-shop: run_results.json names unit tests; dbt's manifest lists them (unit_tests)."""
    root = dbt_project(
        tmp_path,
        monkeypatch,
        {
            "models/orders.sql": "select 1 as order_id, 5 as total\n",
            "models/totals.sql": "select sum(total) as total from {{ ref('orders') }}\n",
            "models/totals.yml": """
                unit_tests:
                  - name: test_sums
                    model: totals
                    given:
                      - input: ref('orders')
                        rows: [{total: 2}, {total: 3}]
                    expect:
                      rows: [{total: 5}]
            """,
        },
    )
    done = orch("build")
    assert done.exit_code == 0, done.output
    assert results(root)["unit_test.shape.totals.test_sums"] == "pass"
    listed = json.loads((root / "target" / "manifest.json").read_text())["unit_tests"]
    entry = listed["unit_test.shape.totals.test_sums"]
    assert (entry["model"], entry["given"], entry["expect"], entry["depends_on"]["nodes"]) == (
        "totals",
        [{"input": "ref('orders')", "rows": [{"total": 2}, {"total": 3}], "format": "dict",
          "fixture": None}],
        {"rows": [{"total": 5}], "format": "dict", "fixture": None},
        ["model.shape.totals"],
    )  # fmt: skip
