"""Customer segments from recency, frequency and monetary value (RFM), computed with polars."""

from __future__ import annotations

import polars as pl
from orch import AssetContext, Config, asset, check


class SegmentConfig(Config):
    """Thresholds; each field can be set with --vars (by name, or under 'customer_segments')."""

    high_value_threshold: float = 500.0  # the project var of the same name fills it
    at_risk_after_days: int = 90


@asset(
    group="analytics",
    tags=["ml"],
    columns={
        "customer_id": "integer",
        "full_name": "varchar",
        "acquisition_channel": "varchar",
        "last_ordered_at": "timestamp",
        "recency_days": "integer",
        "frequency": "integer",
        "monetary": "double",
        "segment": "varchar",
    },
)
def customer_segments(
    context: AssetContext,
    customers: pl.DataFrame,
    orders: pl.LazyFrame,
    config: SegmentConfig,
) -> pl.DataFrame:
    """One row per customer: recency, frequency, monetary value and an RFM segment
    (champion, loyal, at_risk, hibernating, new or prospect)."""
    completed = orders.filter(pl.col("status") != "returned")
    as_of = completed.select(pl.col("ordered_at").max()).collect().item()
    rfm = completed.group_by("customer_id").agg(
        pl.col("ordered_at").max().alias("last_ordered_at"),
        pl.len().alias("frequency"),
        pl.col("net_revenue").sum().alias("monetary"),
    )
    out = (
        customers.lazy()
        .select("customer_id", "full_name", "acquisition_channel")
        .join(rfm, on="customer_id", how="left")
        .with_columns(
            ((pl.lit(as_of) - pl.col("last_ordered_at")).dt.total_days())
            .cast(pl.Int32)
            .alias("recency_days"),
            pl.col("frequency").fill_null(0).cast(pl.Int32),
            pl.col("monetary").fill_null(0.0).round(2),
        )
        .with_columns(
            pl.when(pl.col("frequency") == 0)
            .then(pl.lit("prospect"))
            .when(pl.col("recency_days") > config.at_risk_after_days * 2)
            .then(pl.lit("hibernating"))
            .when(pl.col("recency_days") > config.at_risk_after_days)
            .then(pl.lit("at_risk"))
            .when(pl.col("monetary") >= config.high_value_threshold)
            .then(pl.lit("champion"))
            .when(pl.col("frequency") >= 3)
            .then(pl.lit("loyal"))
            .otherwise(pl.lit("new"))
            .alias("segment")
        )
        .sort("customer_id")
        .collect()
    )
    counts = dict(out.group_by("segment").len().iter_rows())
    context.log.info("segmented %d customers: %s", out.height, counts)
    context.add_output_metadata({"segments": counts, "as_of": str(as_of)})
    return out


@check(asset="customer_segments", description="Recency is never negative.")
def recency_not_negative(customer_segments: pl.DataFrame) -> pl.DataFrame:
    """A Python check: returns the failing rows (an empty frame passes)."""
    return customer_segments.filter(pl.col("recency_days") < 0)
