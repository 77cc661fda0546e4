"""Net revenue per acquisition channel and month: a partitioned Python asset."""

from __future__ import annotations

import polars as pl
from orch import AssetContext, asset


@asset(
    group="analytics",
    partitioned_by={
        "grain": "monthly",
        "start": "2024-01-01",
        "end": "2025-01-01",
        "column": "month",
    },
    columns={"month": "date", "acquisition_channel": "varchar", "net_revenue": "double"},
)
def monthly_channel_revenue(
    context: AssetContext, orders: pl.LazyFrame, customers: pl.LazyFrame
) -> pl.LazyFrame:
    """Orders and net revenue per acquisition channel, one partition per month."""
    if context.partition is not None:  # one month; without a partition: every month at once
        window = context.partition
        orders = orders.filter(
            (pl.col("ordered_at") >= window.start) & (pl.col("ordered_at") < window.end)
        )
        context.log.info("building %s", window.key)
    return (
        orders.join(customers.select("customer_id", "acquisition_channel"), on="customer_id")
        .with_columns(pl.col("ordered_at").dt.truncate("1mo").dt.date().alias("month"))
        .group_by("month", "acquisition_channel")
        .agg(pl.len().alias("order_count"), pl.col("net_revenue").sum().round(2))
        .sort("month", "acquisition_channel")
    )
