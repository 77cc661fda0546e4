"""``orch.testing.unit_test``: unit tests of SQL models and Python assets from pytest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from orch.errors import UserError
from orch.testing import unit_test


def test_python_asset_with_polars_frames(example_project: Path) -> None:
    customers = pl.DataFrame(
        {"customer_id": [1, 2], "full_name": ["Ada", "Bob"], "acquisition_channel": ["web", "ads"]}
    )
    orders = pl.DataFrame(
        {
            "customer_id": [1, 1],
            "status": ["completed", "completed"],
            "ordered_at": [datetime(2024, 3, 1, 9), datetime(2024, 3, 2, 9)],
            "net_revenue": [80.0, 40.0],
        }
    )
    result = unit_test(
        "customer_segments",
        given={"customers": customers, "orders": orders},
        expect=[
            {"customer_id": 1, "frequency": 2, "segment": "champion"},
            {"customer_id": 2, "frequency": 0, "segment": "prospect"},
        ],
        vars={"high_value_threshold": 100},
        project_dir=example_project,
    )
    assert result.passed, result.message
    assert result.output is not None
    assert result.output.sort("customer_id")["monetary"].to_list() == [120.0, 0.0]


def test_failing_python_test_gives_the_diff(example_project: Path) -> None:
    result = unit_test(
        "customer_segments",
        given={
            "customers": pa.table({"customer_id": [1], "full_name": ["Ada"],
                                   "acquisition_channel": ["web"]}),
            "orders": pd.DataFrame({"customer_id": [1], "status": ["completed"],
                                    "ordered_at": [pd.Timestamp("2024-03-01 09:00")],
                                    "net_revenue": [10.0]}),
        },
        expect=[{"customer_id": 1, "segment": "champion"}],
        project_dir=example_project,
    )  # fmt: skip
    assert result.status == "fail"
    assert "~ | 1           | 'champion' -> 'new'" in result.message


def test_sql_model_and_prior_state(example_project: Path) -> None:
    result = unit_test(
        "order_reconciliation",
        this=[{"order_id": 1, "ordered_at": "2024-03-01 09:00:00", "reconciliation_status": "x"}],
        given={
            "int_orders_enriched": [
                {"order_id": 2, "ordered_at": "2024-03-02 09:00:00", "order_total": 5,
                 "gross_paid_amount": 0, "refunded_amount": 0},
            ]
        },
        expect=[{"order_id": 1, "reconciliation_status": "x"},
                {"order_id": 2, "reconciliation_status": "unpaid"}],
        project_dir=example_project,
    )  # fmt: skip
    assert result.passed, result.message
    # nothing was built in the project's warehouse
    assert not list(example_project.glob("*.duckdb"))


def test_output_without_expect(example_project: Path) -> None:
    result = unit_test(
        "stg_products",
        given={"raw_products": [{"id": 1, "sku": "T-1", "name": "Tea", "category": "tea",
                                 "price_cents": 450, "is_active": True}]},
        project_dir=example_project,
    )  # fmt: skip
    assert result.passed
    assert result.output is not None
    assert result.output.row(0, named=True)["list_price"] == pytest.approx(4.5)


def test_not_an_upstream_is_a_user_error(example_project: Path) -> None:
    with pytest.raises(UserError) as info:
        unit_test(
            "stg_products",
            given={"raw_orders": [], "raw_products": []},
            project_dir=example_project,
        )
    assert "given input raw_orders is not an upstream of 'stg_products'" in str(info.value)
