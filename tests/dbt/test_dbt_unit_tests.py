"""dbt unit tests (``unit_tests:``) in a dbt project run unchanged, with dbt's pass/fail.

``fixtures/unit_dbt`` holds eight dbt unit tests in dbt's spelling (dict, inline csv, a csv
fixture file, sql rows, vars and ``is_incremental`` overrides, ``input: this``); two fail on
purpose. ``DBT_STATUSES`` is what dbt-core 1.11.16 with dbt-duckdb reported for them
(``dbt build --exclude test_type:unit`` then ``dbt test --select test_type:unit``; re-check with
``python bench/compare_dbt_unit.py /path/to/dbt``).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.dbt.conftest import copy_fixture

DBT_STATUSES = {
    "unit_test.unit_shop.customer_totals.customer_totals_min_amount": "pass",
    "unit_test.unit_shop.customer_totals.customer_totals_skips_cancelled": "pass",
    "unit_test.unit_shop.customer_totals.customer_totals_wrong_count": "fail",
    "unit_test.unit_shop.fct_orders.fct_orders_expects_table_after_merge": "fail",
    "unit_test.unit_shop.fct_orders.fct_orders_full_refresh": "pass",
    "unit_test.unit_shop.fct_orders.fct_orders_incremental_new_rows": "pass",
    "unit_test.unit_shop.stg_orders.stg_orders_converts_cents": "pass",
    "unit_test.unit_shop.stg_orders.stg_orders_from_fixture": "pass",
}


@pytest.fixture
def unit_shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``fixtures/unit_dbt``, the current directory (as dbt is run)."""
    return copy_fixture("unit_dbt", tmp_path, monkeypatch)


def statuses(project: Path) -> dict[str, str]:
    results = json.loads((project / "target/run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"]: r["status"] for r in results["results"]}


def test_same_pass_fail_as_dbt(unit_shop: Path) -> None:
    run = run_cli("test", "--project-dir", unit_shop, "-s", "test_type:unit")
    assert run.exit_code == 1, run.output
    assert statuses(unit_shop) == DBT_STATUSES
    assert "  ~ | 10          | 2 -> 1" in run.stdout
    assert not (unit_shop / "unit_shop.duckdb").exists()  # no warehouse needed


def test_build_skips_the_model_with_a_failing_unit_test(unit_shop: Path) -> None:
    run = run_cli("build", "--project-dir", unit_shop)
    assert run.exit_code == 1, run.output
    got = statuses(unit_shop)
    assert got["model.unit_shop.customer_totals"] == "skipped"
    assert got["model.unit_shop.fct_orders"] == "skipped"
    assert got["model.unit_shop.stg_orders"] == "success"
    con = duckdb.connect(str(unit_shop / "unit_shop.duckdb"), read_only=True)
    try:
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables")
                  .fetchall()}  # fmt: skip
    finally:
        con.close()
    assert tables == {"raw_orders", "stg_orders"}
