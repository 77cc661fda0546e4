"""Orders in the data lake: a Python asset stored as Parquet files instead of a warehouse table."""

from __future__ import annotations

import polars as pl
from orch import asset


@asset(group="lake", io_manager="lake")
def order_lake(orders: pl.LazyFrame) -> pl.DataFrame:
    """The order fact as Parquet files (.orch/lake/order_lake/data.parquet on DuckDB)."""
    return (
        orders.select("order_id", "customer_id", "ordered_at", "order_total", "status")
        .collect()
    )
